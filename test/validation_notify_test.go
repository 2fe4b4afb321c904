package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNotificationInputsValidation runs the validation rules of the Slack
// channel (chatbot.tf) and the approval-expiry sweep (sweep.tf) inputs
// with OpenTofu, offline, as TestInputValidation does.
func TestNotificationInputsValidation(t *testing.T) {
	tofu := os.Getenv(envTofu)
	if tofu == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: run the tests with make test", envTofu)
		}
		t.Skipf("%s is not set: run the tests with make test", envTofu)
	}
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(root, "variables.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "variables.tf"), src, 0o644); err != nil {
		t.Fatal(err)
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
	for _, tc := range []struct {
		name    string
		vars    []string
		wantErr string // "" = valid
	}{
		{"slack channel", []string{`chatbot_slack={workspace_id="T012AB3CD",channel_id="C012AB3CD"}`}, ""},
		{"slack workspace name", []string{`chatbot_slack={workspace_id="my-team",channel_id="C012AB3CD"}`}, "chatbot_slack.workspace_id must be a Slack workspace ID"},
		{"slack channel name", []string{`chatbot_slack={workspace_id="T012AB3CD",channel_id="#alerts"}`}, "chatbot_slack.channel_id must be a Slack channel ID"},
		{"slack logging", []string{`chatbot_slack={workspace_id="T012AB3CD",channel_id="C012AB3CD",logging_level="DEBUG"}`}, "chatbot_slack.logging_level must be ERROR, INFO or NONE"},
		{"slack guardrail", []string{`chatbot_slack={workspace_id="T012AB3CD",channel_id="C012AB3CD",guardrail_policy_arns=["ReadOnlyAccess"]}`}, "chatbot_slack.guardrail_policy_arns must hold IAM policy ARNs"},
		{"sweep cron", []string{`approval_expiry_sweep={schedule_expression="cron(0/10 * * * ? *)"}`}, ""},
		{"sweep off", []string{`approval_expiry_sweep={enabled=false}`}, ""},
		{"sweep every", []string{`approval_expiry_sweep={schedule_expression="every 5 minutes"}`}, "approval_expiry_sweep.schedule_expression must be rate(N unit) or cron(...)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"plan", "-input=false", "-no-color", "-lock=false"}
			for _, v := range tc.vars {
				args = append(args, "-var", v)
			}
			out, err := run(args...)
			flat := strings.Join(strings.Fields(strings.ReplaceAll(out, "│", " ")), " ")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("want valid, got %v:\n%s", err, out)
			case tc.wantErr != "" && (err == nil || !strings.Contains(flat, tc.wantErr)):
				t.Errorf("want an error containing %q, got %v:\n%s", tc.wantErr, err, out)
			}
		})
	}
}
