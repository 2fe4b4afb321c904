package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// Attacks on the policy language by callers who choose their own session
// names, sign in through several trusted roles or create roles named like
// trusted ones. docs/security.md lists them.

func compileSrcs(t *testing.T, files map[string]string) (*Compiled, hcl.Diagnostics) {
	t.Helper()
	var srcs []Source
	for name, data := range files {
		srcs = append(srcs, Source{Name: name, Data: []byte(strings.TrimPrefix(data, "\n"))})
	}
	return Compile(srcs)
}

func diagLines(diags hcl.Diagnostics) string {
	var lines []string
	for _, d := range diags {
		lines = append(lines, FormatDiagnostic(d))
	}
	return strings.Join(lines, "\n")
}

// failOpenHCL puts prod behind approval for callers whose session name is a
// ticket number, and a broader rule allows every engineer. A session name
// that makes the condition fail must not skip the approval.
const failOpenHCL = `
settings {
  trusted_session_roles = ["arn:aws:iam::111122223333:role/sso-*"]
}

profile "prod" { role_arn = "arn:aws:iam::111122223333:role/prod" }

rule "prod-ticketed-needs-approval" {
  effect     = "require_approval"
  profiles   = ["prod"]
  principals = ["arn:aws:iam::111122223333:role/engineer-*"]
  approvers  = ["arn:aws:iam::111122223333:role/security"]
  condition  = regex("^[a-z]+-[0-9]+$", principal.session_name) != ""
}

rule "prod-sso-needs-approval" {
  effect     = "require_approval"
  profiles   = ["prod"]
  principals = ["arn:aws:iam::111122223333:role/engineer-*"]
  users      = ["*"]
  approvers  = ["arn:aws:iam::111122223333:role/security"]
}

rule "engineers" {
  effect     = "allow"
  profiles   = ["prod"]
  principals = ["arn:aws:iam::111122223333:role/engineer-*"]
}
`

func TestRequireApprovalFailsClosed(t *testing.T) {
	p := evPolicy(t, failOpenHCL)
	evRun(t, p, []evCase{
		// regex() fails on a session name without a match: the rule
		// cannot tell, so it requires approval.
		{name: "condition error requires approval", caller: "arn:aws:sts::111122223333:assumed-role/engineer-dev/no-ticket-here",
			profile: "prod", want: RequireApproval, wantRule: "prod-sso-needs-approval"},
		// users on a caller without a trusted user: no trusted user, no
		// way to tell who it is.
		{name: "users on an untrusted caller requires approval", caller: "arn:aws:sts::111122223333:assumed-role/engineer-dev/abc-1",
			profile: "prod", want: RequireApproval, wantRule: "prod-sso-needs-approval"},
		{name: "approved", caller: "arn:aws:sts::111122223333:assumed-role/engineer-dev/x", profile: "prod",
			approval: &Grant{}, want: Allow, wantRule: "prod-sso-needs-approval", wantVia: ViaApproval, wantDur: 15 * 60e9},
	})

	// `policy test` (RunTests) decides the same way.
	c, diags := compileSrcs(t, map[string]string{
		"policy.hcl": failOpenHCL,
		"policy.test.hcl": `
test "a session name that breaks the condition still needs approval" {
  principal = "arn:aws:sts::111122223333:assumed-role/engineer-dev/no-ticket-here"
  profile   = "prod"
  expect    = "require_approval"
}
`,
	})
	if diags.HasErrors() {
		t.Fatal(diagLines(diags))
	}
	for _, r := range c.Policy.RunTests(c.Tests) {
		if r.Failure != "" {
			t.Errorf("policy test: %s", r)
		}
	}
}

func TestConditionErrorWarnings(t *testing.T) {
	const head = `
profile "p" { role_arn = "arn:aws:iam::111122223333:role/p" }
rule "r" {
  effect     = "%s"
  profiles   = ["p"]
  principals = ["*"]
  approvers  = ["arn:aws:iam::111122223333:role/security"]
  condition  = %s
}
`
	tests := []struct {
		effect, condition, want string // want: "" for no warning
	}{
		{"require_approval", `regex("^t-[0-9]+$", principal.session_name) != ""`,
			"regex() fails when the pattern does not match, and principal.session_name is chosen by the caller or empty for some callers. A condition that cannot be evaluated matches deny and require_approval rules and no allow rule (fail closed): a require_approval rule then matches."},
		{"allow", `tonumber(principal.user) > 3`, "tonumber() fails on text that is not a number, and principal.user is chosen by the caller"},
		{"deny", `split("@", principal.session_name)[1] == "example.com"`, "an index into a value derived from principal.session_name"},
		{"require_approval", `coalesce(principal.org_id, principal.user) == "x"`, "coalesce() fails when every argument is empty"},
		{"require_approval", `can(regex("^t-[0-9]+$", principal.session_name))`, ""},
		{"require_approval", `try(tonumber(principal.session_name) > 3, true)`, ""},
		{"require_approval", `length(regexall("^t-[0-9]+$", principal.session_name)) > 0`, ""},
		{"require_approval", `regex("^[0-9]+$", request.profile) != ""`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.condition, func(t *testing.T) {
			src := strings.Replace(strings.Replace(head, "%s", tt.effect, 1), "%s", tt.condition, 1)
			if tt.effect != "require_approval" {
				src = strings.Replace(src, "  approvers  = [\"arn:aws:iam::111122223333:role/security\"]\n", "", 1)
			}
			_, diags := compileSrcs(t, map[string]string{"policy.hcl": src})
			if diags.HasErrors() {
				t.Fatal(diagLines(diags))
			}
			got := diagLines(diags)
			switch {
			case tt.want == "" && strings.Contains(got, "Condition can fail"):
				t.Errorf("unexpected warning:\n%s", got)
			case tt.want != "" && !strings.Contains(got, "warning: Condition can fail on caller values: "+tt.want[:20]):
				t.Errorf("no warning; got:\n%s", got)
			case tt.want != "" && !strings.Contains(got, tt.want):
				t.Errorf("warning\n%s\ndoes not say\n%s", got, tt.want)
			}
		})
	}
}

func TestSessionNameInScopingNeedsTrustedRoles(t *testing.T) {
	const profile = `
settings {
  trusted_session_roles = ["arn:aws:iam::*:role/AWSReservedSSO_*"]
}
profile "homes" {
  role_arn = "arn:aws:iam::111122223333:role/homes"
  session_policy = {
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "arn:aws:s3:::homes/${principal.session_name}/*" }]
  }
}
`
	tests := []struct {
		name, rules, want string // want: "" when it compiles
	}{
		{"untrusted role", `
rule "engineers" {
  effect     = "allow"
  profiles   = ["homes"]
  principals = ["arn:aws:iam::111122223333:role/engineer"]
}`, `Caller-chosen value in session scoping: Profile "homes" puts principal.session_name into its session_policy or session_tags, but callers that are not from trusted session roles can get it (through rule "engineers")`},
		{"break-glass for an untrusted role", `
rule "sso" {
  effect     = "allow"
  profiles   = ["homes"]
  principals = ["arn:aws:iam::111122223333:role/AWSReservedSSO_Eng_*"]
}
break_glass "bg" {
  profiles     = ["homes"]
  principals   = ["arn:aws:iam::111122223333:role/oncall"]
  reason_codes = ["incident"]
}`, `can get it (through break_glass "bg")`},
		{"require_approval with users is not limited", `
rule "ask" {
  effect     = "require_approval"
  profiles   = ["homes"]
  principals = ["*"]
  users      = ["*"]
  approvers  = ["arn:aws:iam::111122223333:role/security"]
}`, `can get it (through rule "ask")`},
		{"only trusted roles", `
rule "sso" {
  effect     = "allow"
  profiles   = ["homes"]
  principals = ["arn:aws:iam::111122223333:role/AWSReservedSSO_Eng_*"]
}
rule "no-contractors" {
  effect     = "deny"
  profiles   = ["homes"]
  principals = ["*"]
  users      = ["contractor-*"]
}`, ""},
		{"allow with users", `
rule "named" {
  effect     = "allow"
  profiles   = ["homes"]
  principals = ["*"]
  users      = ["dana@example.com"]
}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := compileSrcs(t, map[string]string{"policy.hcl": profile + tt.rules})
			got := diagLines(diags)
			if tt.want == "" {
				if diags.HasErrors() {
					t.Fatalf("does not compile:\n%s", got)
				}
				return
			}
			if !diags.HasErrors() || !strings.Contains(got, tt.want) {
				t.Errorf("got\n%s\nwant an error with\n%s", got, tt.want)
			}
		})
	}
}

func TestFederatedUserPrincipalWarning(t *testing.T) {
	_, diags := compileSrcs(t, map[string]string{"policy.hcl": `
profile "p" { role_arn = "arn:aws:iam::111122223333:role/p" }
rule "fed" {
  effect     = "allow"
  profiles   = ["p"]
  principals = ["arn:aws:sts::111122223333:federated-user/ops-*"]
}
`})
	if got := diagLines(diags); !strings.Contains(got, `policy.hcl:2:1: warning: Federated user principal: "arn:aws:sts::111122223333:federated-user/ops-*" names federated users: their names are chosen by whoever calls sts:GetFederationToken`) {
		t.Errorf("got\n%s", got)
	}
}

func TestRenderRefusesEmptyValues(t *testing.T) {
	p := evPolicy(t, `
settings {
  trusted_session_roles = ["arn:aws:iam::111122223333:role/sso-*"]
}
profile "homes" {
  role_arn = "arn:aws:iam::111122223333:role/homes"
  session_policy = {
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "arn:aws:s3:::homes/${principal.user}*" }]
  }
  session_tags = { org = principal.org_id }
}
rule "all" {
  effect     = "allow"
  profiles   = ["homes"]
  principals = ["*"]
}
`)
	render := func(caller, orgID string) error {
		pr, err := p.Principal(caller, "", orgID)
		if err != nil {
			t.Fatal(err)
		}
		req := &Request{Principal: pr, Profile: "homes", Time: evMonday}
		_, err = p.Render(p.Evaluate(req), req)
		return err
	}
	if err := render(evEngineer, "o-a1b2c3d4e5"); !errors.Is(err, ErrEmptyValue) || !strings.Contains(err.Error(), "principal.user") {
		t.Errorf("untrusted caller: %v, want ErrEmptyValue for principal.user", err)
	}
	if err := render("arn:aws:sts::111122223333:assumed-role/sso-eng/dana", ""); !errors.Is(err, ErrEmptyValue) || !strings.Contains(err.Error(), "principal.org_id") {
		t.Errorf("no organization: %v, want ErrEmptyValue for principal.org_id", err)
	}
	if err := render("arn:aws:sts::111122223333:assumed-role/sso-eng/dana", "o-a1b2c3d4e5"); err != nil {
		t.Errorf("trusted user in the organization: %v", err)
	}
}

func TestTrustedSessionRoleIDs(t *testing.T) {
	p := evPolicy(t, `
settings {
  trusted_session_roles    = ["arn:aws:iam::*:role/AWSReservedSSO_*"]
  trusted_session_role_ids = ["AROAREALSSOROLE000001", "AROAREALSSOROLE000002"]
}
profile "p" { role_arn = "arn:aws:iam::111122223333:role/p" }
`)
	const arn = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Eng_0123/dana"
	for userID, want := range map[string]string{
		"AROAREALSSOROLE000001:dana":    "dana",
		"AROAREALSSOROLE000002:dana":    "dana",
		"AROAIMPOSTORROLE00001:dana":    "", // same role name, another role
		"AROAREALSSOROLE000001:mallory": "", // the ID belongs to another session
		"AROAREALSSOROLE000001":         "",
		"":                              "",
	} {
		pr, err := p.Principal(arn, userID, "")
		if err != nil {
			t.Fatal(err)
		}
		if pr.User != want {
			t.Errorf("user ID %q: user %q, want %q", userID, pr.User, want)
		}
	}

	for src, want := range map[string]string{
		`settings {
  trusted_session_roles    = ["arn:aws:iam::*:role/AWSReservedSSO_*"]
  trusted_session_role_ids = ["AIDAUSERNOTAROLE00001"]
}`: `Invalid role ID: "AIDAUSERNOTAROLE00001" is not an IAM role's unique ID`,
		`settings {
  trusted_session_role_ids = ["AROAREALSSOROLE000001"]
}`: "Role IDs without trusted session roles",
	} {
		_, diags := compileSrcs(t, map[string]string{"policy.hcl": src + `
profile "p" { role_arn = "arn:aws:iam::111122223333:role/p" }
`})
		if got := diagLines(diags); !diags.HasErrors() || !strings.Contains(got, want) {
			t.Errorf("got\n%s\nwant %s", got, want)
		}
	}
}

func TestSamePersonAcrossTrustedRoles(t *testing.T) {
	p := evPolicy(t, `
settings {
  trusted_session_roles = ["arn:aws:iam::*:role/AWSReservedSSO_*"]
}
profile "prod" { role_arn = "arn:aws:iam::111122223333:role/prod" }
rule "ask" {
  effect     = "require_approval"
  profiles   = ["prod"]
  principals = ["arn:aws:iam::*:role/AWSReservedSSO_*"]
  approvers  = ["arn:aws:iam::*:role/AWSReservedSSO_Security_*"]
}
`)
	who := func(caller string) Principal {
		pr, err := p.Principal(caller, "", "")
		if err != nil {
			t.Fatal(err)
		}
		return pr
	}
	danaEng := who("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Engineering_01/dana@example.com")
	danaSec := who("arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_Security_02/dana@example.com")
	erinSec := who("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Security_02/erin@example.com")
	if p.CanApprove("ask", danaEng, danaSec) {
		t.Error("dana approves her own request through her Security permission set")
	}
	if !p.CanApprove("ask", danaEng, erinSec) {
		t.Error("erin cannot approve dana's request")
	}
	if danaEng.Person() != danaSec.Person() || danaEng.Person() == erinSec.Person() {
		t.Errorf("persons %q %q %q", danaEng.Person(), danaSec.Person(), erinSec.Person())
	}
}
