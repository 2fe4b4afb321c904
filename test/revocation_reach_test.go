package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRevocationReachPrecondition plans revocation.tf alone, offline, with
// the module's inputs it reads stubbed: a policy that names roles in
// another account must not plan without a writer role there, because the
// revoker would refuse (or, before, mis-write) every revocation of them;
// with create = false the module deploys nothing and the check is off.
func TestRevocationReachPrecondition(t *testing.T) {
	tofu := os.Getenv(envTofu)
	if tofu == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: run the tests with make test", envTofu)
		}
		t.Skipf("%s is not set: run the tests with make test", envTofu)
	}
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(root, "revocation.tf"))
	if err != nil {
		t.Fatal(err)
	}
	stub := `
variable "policy_role_arns" { type = list(string) }
variable "revoker_role_name" {
  type    = string
  default = null
}
variable "create" {
  type    = bool
  default = true
}
locals {
  account_id       = "111122223333"
  policy_role_arns = var.policy_role_arns
}
`
	for name, data := range map[string][]byte{"revocation.tf": src, "stub.tf": []byte(stub)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE=/dev/null", "TF_IN_AUTOMATION=1", "NO_COLOR=1")
	run := func(args ...string) (string, error) {
		cmd := exec.Command(tofu, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("init", "-input=false", "-no-color"); err != nil {
		t.Fatalf("tofu init: %v\n%s", err, out)
	}
	const local, remote = `"arn:aws:iam::111122223333:role/sentinel/dev"`, `"arn:aws:iam::444455556666:role/sentinel/prod-admin"`
	for _, tc := range []struct {
		name    string
		vars    []string
		wantErr string
	}{
		{"own account only", []string{"policy_role_arns=[" + local + "]"}, ""},
		{"other account, no writer role", []string{"policy_role_arns=[" + local + "," + remote + "]"},
			"The policy names roles in other accounts (arn:aws:iam::444455556666:role/sentinel/prod-admin), and revoker_role_name is not set"},
		{"other account with a writer role", []string{"policy_role_arns=[" + local + "," + remote + "]", "revoker_role_name=sentinel-tvm-revocation-writer"}, ""},
		// create = false: nothing is deployed, so nothing has to reach.
		{"other account, no writer role, create off", []string{"policy_role_arns=[" + local + "," + remote + "]", "create=false"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"plan", "-input=false", "-no-color", "-lock=false", "-refresh=false"}
			for _, v := range tc.vars {
				args = append(args, "-var", v)
			}
			out, err := run(args...)
			flat := strings.Join(strings.Fields(out), " ")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("plan failed:\n%s", out)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("plan succeeded, want %q:\n%s", tc.wantErr, out)
			case tc.wantErr != "" && !strings.Contains(flat, tc.wantErr):
				t.Fatalf("plan error does not say %q:\n%s", tc.wantErr, out)
			}
		})
	}
}
