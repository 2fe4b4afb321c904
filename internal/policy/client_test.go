package policy

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

const clientPolicyHead = `
settings {}
profile "p" { role_arn = "arn:aws:iam::111122223333:role/p" }
`

func compileClientPolicy(t *testing.T, rules string) (*Compiled, hcl.Diagnostics) {
	t.Helper()
	return Compile([]Source{{Name: "policy.hcl", Data: []byte(clientPolicyHead + rules)}})
}

func clientWarnings(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning && d.Summary == "request.client is the only restriction" {
			out = append(out, FormatDiagnostic(d))
		}
	}
	return out
}

func TestRequestClientInConditions(t *testing.T) {
	c, diags := compileClientPolicy(t, `
rule "exec-short" {
  effect       = "allow"
  profiles     = ["p"]
  principals   = ["arn:aws:iam::111122223333:role/dev"]
  condition    = request.client == "exec"
  max_duration = "15m"
}
rule "others" {
  effect     = "allow"
  profiles   = ["p"]
  principals = ["arn:aws:iam::111122223333:role/dev"]
  condition  = request.client != "exec" && request.client != "console"
}
`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pr, err := c.Policy.Principal("arn:aws:sts::111122223333:assumed-role/dev/alice", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		client, effect, rule string
	}{
		{ClientExec, "allow", "exec-short"},
		{ClientAgent, "allow", "others"},
		{ClientOther, "allow", "others"},
		{ClientConsole, "deny", DefaultDeny},
		{"", "allow", "others"}, // unknown: an empty string
	} {
		d := c.Policy.Evaluate(&Request{Principal: pr, Profile: "p", Time: DefaultTestTime, Client: tc.client})
		if string(d.Effect) != tc.effect || d.Rule != tc.rule {
			t.Errorf("client %q: %s by %s, want %s by %s", tc.client, d.Effect, d.Rule, tc.effect, tc.rule)
		}
	}
	if w := clientWarnings(diags); len(w) != 0 {
		t.Errorf("rules restricted by principals too drew warnings: %v", w)
	}
}

func TestClientOnlyRuleWarns(t *testing.T) {
	for _, tc := range []struct {
		name, rule, want string
	}{
		{"allow", `effect = "allow"
  principals = ["*"]
  condition = request.client == "agent"`, `Rule "r" allows anyone who says so.`},
		{"deny", `effect = "deny"
  principals = ["*"]
  condition = request.client == "console"`, `Rule "r" denies only callers honest about their client`},
		{"approval", `effect = "require_approval"
  principals = ["*"]
  approvers = ["arn:aws:iam::111122223333:role/sec"]
  condition = contains(["exec", "agent"], request.client) && request.profile == "p"`, `lets anyone who says so ask for approval`},
	} {
		_, diags := compileClientPolicy(t, "rule \"r\" {\n  profiles = [\"p\"]\n  "+tc.rule+"\n}\n")
		if diags.HasErrors() {
			t.Fatalf("%s: %v", tc.name, diags)
		}
		w := clientWarnings(diags)
		if len(w) != 1 || !strings.Contains(w[0], tc.want) || !strings.Contains(w[0], "policy.hcl:") ||
			!strings.Contains(w[0], "it can refine a rule, never secure one") {
			t.Errorf("%s: warnings %v, want one with %q", tc.name, w, tc.want)
		}
	}
}

func TestClientWithAnotherRestrictionDoesNotWarn(t *testing.T) {
	for _, restriction := range []string{
		`principals = ["arn:aws:iam::111122223333:role/dev"]`,
		"principals = [\"*\"]\n  accounts = [\"111122223333\"]",
		"principals = [\"*\"]\n  org_ids = [\"o-a1b2c3d4e5\"]",
		"principals = [\"*\"]\n  source_ips = [\"10.0.0.0/8\"]",
		"principals = [\"*\"]\n  users = [\"alice\"]",
		"principals = [\"*\"]\n  schedule {\n    days = [\"mon\"]\n    hours = \"09:00-17:00\"\n    timezone = \"UTC\"\n  }",
	} {
		_, diags := compileClientPolicy(t, "rule \"r\" {\n  effect = \"allow\"\n  profiles = [\"p\"]\n  "+restriction+"\n  condition = request.client == \"agent\"\n}\n")
		if diags.HasErrors() {
			t.Fatalf("%s: %v", restriction, diags)
		}
		if w := clientWarnings(diags); len(w) != 0 {
			t.Errorf("%s: %v", restriction, w)
		}
	}
	// A condition on the principal as well restricts the rule.
	_, diags := compileClientPolicy(t, `rule "r" {
  effect = "allow"
  profiles = ["p"]
  principals = ["*"]
  condition = request.client == "agent" && principal.org_id == "o-a1b2c3d4e5"
}`)
	if w := clientWarnings(diags); len(w) != 0 || diags.HasErrors() {
		t.Errorf("client and org condition: %v", diags)
	}
}

func TestTestCaseClient(t *testing.T) {
	c, diags := Compile([]Source{
		{Name: "policy.hcl", Data: []byte(clientPolicyHead + `
rule "exec" {
  effect     = "allow"
  profiles   = ["p"]
  principals = ["arn:aws:iam::111122223333:role/dev"]
  condition  = request.client == "exec"
}`)},
		{Name: "p.test.hcl", Data: []byte(`
test "exec" {
  principal = "arn:aws:sts::111122223333:assumed-role/dev/alice"
  profile   = "p"
  client    = "exec"
  expect    = "allow"
}
test "no client is other" {
  principal = "arn:aws:sts::111122223333:assumed-role/dev/alice"
  profile   = "p"
  expect    = "deny"
}
`)},
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, r := range c.Policy.RunTests(c.Tests) {
		if r.Failure != "" {
			t.Error(r.String())
		}
	}
	if len(c.Tests) != 2 || c.Tests[1].Request.Client != ClientOther {
		t.Fatalf("tests %+v", c.Tests)
	}
	_, diags = Compile([]Source{
		{Name: "policy.hcl", Data: []byte(clientPolicyHead)},
		{Name: "p.test.hcl", Data: []byte(`
test "bad" {
  principal = "arn:aws:sts::111122223333:assumed-role/dev/alice"
  profile   = "p"
  client    = "curl"
  expect    = "deny"
}`)},
	})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `client must be one of "credential_process"`) {
		t.Fatalf("bad client: %v", diags)
	}
}
