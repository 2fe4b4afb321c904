package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// envTofu names the OpenTofu binary; `make test` builds it.
const envTofu = "SENTINEL_TVM_TOFU"

// TestInputValidation runs the module's variable validation rules with
// OpenTofu, offline: variables.tf alone is a module that needs no provider,
// so `tofu plan -var ...` evaluates exactly the validation blocks.
func TestInputValidation(t *testing.T) {
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
		{"defaults", nil, ""},
		{"accounts and orgs", []string{`allowed_account_ids=["111122223333"]`, `allowed_org_ids=["o-a1b2c3d4e5"]`}, ""},
		{"short account", []string{`allowed_account_ids=["1111"]`}, "allowed_account_ids must hold 12-digit AWS account IDs"},
		{"bad org", []string{`allowed_org_ids=["org-1"]`}, "allowed_org_ids must hold organization IDs"},
		{"cidr", []string{`allowed_source_cidrs=["203.0.113.0/24","2001:db8::/32"]`}, ""},
		{"address, not a CIDR", []string{`allowed_source_cidrs=["203.0.113.7"]`}, "allowed_source_cidrs must hold CIDR blocks"},
		{"name", []string{`name=my-tvm`}, ""},
		{"name with underscore", []string{`name=my_tvm`}, "name must be 3 to 48 characters"},
		{"durations", []string{`service={rate_window_seconds=90,retention_seconds=2592000,approval_ttl_seconds=1800,approval_window_seconds=7200,policy_cache_ttl_seconds=900}`}, ""},
		{"zero window", []string{`service={rate_window_seconds=0}`}, "rate_window_seconds from 1 to 86400"},
		{"fractional seconds", []string{`service={approval_ttl_seconds=90.5}`}, "Service durations are whole seconds"},
		{"retention too short", []string{`service={retention_seconds=3599}`}, "Service durations are whole seconds"},
		{"cache ttl too long", []string{`service={policy_cache_ttl_seconds=901}`}, "Service durations are whole seconds"},
		{"two-character name", []string{`name=ab`}, "name must be 3 to 48 characters"},
		{"key administrator", []string{`key_administrators=["arn:aws:iam::111122223333:role/admins"]`}, ""},
		{"key user not an ARN", []string{`key_users=["admins"]`}, "key_users must hold IAM role or user ARNs"},
		{"rate limit", []string{`service={rate_limit=0}`}, "service.rate_limit must be a whole number"},
		{"architecture", []string{`lambda={architecture="amd64"}`}, `lambda.architecture must be "arm64" or "x86_64"`},
		{"timeout over the gateway's", []string{`lambda={timeout=30}`}, "lambda.timeout must be from 3 to 29 seconds"},
		{"retention days", []string{`log_retention_days=10`}, "log_retention_days must be a CloudWatch Logs retention"},
		{"kms alias", []string{`kms_key_arn=alias/mine`}, "kms_key_arn must be a KMS key ARN"},
		{"kms key", []string{`kms_key_arn=arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab`}, ""},
		{"policy file with a path", []string{`policy_files={"../x.hcl"="",}`}, "policy_files keys must be plain file names"},
		{"parameter name", []string{`policy_parameter_name=relative`}, "policy_parameter_name must be an absolute SSM parameter name"},
		{"waf arn", []string{`api={waf_web_acl_arn="arn:aws:wafv2:eu-west-1:111122223333:global/webacl/x/1"}`}, "api.waf_web_acl_arn must be a regional WAFv2 web ACL ARN"},
		{"logging level", []string{`api={execution_logging_level="DEBUG"}`}, "api.execution_logging_level must be OFF, ERROR or INFO"},
		{"two topics", []string{`alarms={create_topic=true,topic_arn="arn:aws:sns:eu-west-1:111122223333:t"}`}, "Set alarms.topic_arn or alarms.create_topic, not both"},
		{"alarm period", []string{`alarms={period_seconds=120}`}, "alarms.period_seconds must be 60, 300, 900 or 3600"},
		{"notification e-mail", []string{`notifications={create_topic=true,email_subscriptions=["nope"]}`}, "notifications.email_subscriptions must hold e-mail addresses"},
		{"revoker role name", []string{`revoker_role_name=a/b`}, "revoker_role_name must be an IAM role name"},
		{"pitr days", []string{`table={point_in_time_recovery_days=36}`}, "table.point_in_time_recovery_days must be from 1 to 35"},
		// The Slack channel (chatbot.tf) and the approval-expiry sweep (sweep.tf).
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
