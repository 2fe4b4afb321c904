package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExplainConditionErrorRequiresApproval: `policy explain` and `policy
// test` decide a condition that cannot be evaluated as the service does:
// it matches the require_approval rule, and the broader allow does not
// vend without approval.
func TestExplainConditionErrorRequiresApproval(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"policy.hcl": `profile "prod" {
  role_arn = "arn:aws:iam::111122223333:role/prod"
}

rule "ticketed-needs-approval" {
  effect     = "require_approval"
  profiles   = ["prod"]
  principals = ["arn:aws:iam::111122223333:role/engineer"]
  approvers  = ["arn:aws:iam::111122223333:role/security"]
  condition  = regex("^[a-z]+-[0-9]+$", principal.session_name) != ""
}

rule "engineers" {
  effect     = "allow"
  profiles   = ["prod"]
  principals = ["arn:aws:iam::111122223333:role/engineer"]
}
`,
		"policy.test.hcl": `test "broken condition needs approval" {
  principal = "arn:aws:sts::111122223333:assumed-role/engineer/no-ticket"
  profile   = "prod"
  expect    = "require_approval"
}
`,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := run(t, dir, "", "policy", "explain", dir, "--principal", "arn:aws:sts::111122223333:assumed-role/engineer/no-ticket", "--profile", "prod")
	var out explainOutput
	if err := json.Unmarshal([]byte(got.stdout), &out); err != nil || got.code != 0 {
		t.Fatalf("explain: %d %v\n%s%s", got.code, err, got.stdout, got.stderr)
	}
	if out.Decision != "require_approval" || out.Rule != "ticketed-needs-approval" {
		t.Errorf("explain: %s by %q, want require_approval by ticketed-needs-approval", out.Decision, out.Rule)
	}
	if !strings.Contains(got.stderr, "warning: Condition can fail on caller values") {
		t.Errorf("explain does not pass on the compiler's warning:\n%s", got.stderr)
	}
	got = run(t, dir, "", "policy", "test", dir)
	if got.code != 0 {
		t.Errorf("policy test: exit %d\n%s%s", got.code, got.stdout, got.stderr)
	}
}
