package vend_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

const goodSHA = "5f2b6c1e0d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func minimalEnv() map[string]string {
	return map[string]string{
		"SENTINEL_TABLE_NAME":       "sentinel-tvm",
		"SENTINEL_POLICY_PARAMETER": "/sentinel-tvm/policy:12",
		"SENTINEL_POLICY_SHA256":    goodSHA,
	}
}

func TestConfigFromEnvDefaults(t *testing.T) {
	got, err := vend.ConfigFromEnv(env(minimalEnv()))
	if err != nil {
		t.Fatal(err)
	}
	want := vend.Config{
		TableName: "sentinel-tvm", PolicyParameter: "/sentinel-tvm/policy:12", PolicySHA256: goodSHA,
		PolicyCacheTTL: time.Minute, RateLimit: 30, OwnerRevokeLimit: 10, RateWindow: time.Minute, Retention: 90 * 24 * time.Hour,
		ApprovalTTL: 24 * time.Hour, ApprovalWindow: time.Hour, Version: "dev",
	}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestConfigFromEnvValues(t *testing.T) {
	e := minimalEnv()
	for k, v := range map[string]string{
		"SENTINEL_POLICY_PARAMETER":   "arn:aws:ssm:eu-west-1:111122223333:parameter/sentinel-tvm/policy",
		"SENTINEL_POLICY_CACHE_TTL":   " 90s ",
		"SENTINEL_RATE_LIMIT":         "5",
		"SENTINEL_OWNER_REVOKE_LIMIT": "3",
		"SENTINEL_RATE_WINDOW":        "10m",
		"SENTINEL_RATE_PER_PROFILE":   "true",
		"SENTINEL_RETENTION":          "720h",
		"SENTINEL_APPROVAL_TTL":       "2h",
		"SENTINEL_APPROVAL_WINDOW":    "30m",
		"SENTINEL_VERSION":            "1.2.3",
	} {
		e[k] = v
	}
	got, err := vend.ConfigFromEnv(env(e))
	if err != nil {
		t.Fatal(err)
	}
	want := vend.Config{
		TableName: "sentinel-tvm", PolicyParameter: "arn:aws:ssm:eu-west-1:111122223333:parameter/sentinel-tvm/policy", PolicySHA256: goodSHA,
		PolicyCacheTTL: 90 * time.Second, RateLimit: 5, OwnerRevokeLimit: 3, RateWindow: 10 * time.Minute, RatePerProfile: true,
		Retention: 720 * time.Hour, ApprovalTTL: 2 * time.Hour, ApprovalWindow: 30 * time.Minute, Version: "1.2.3",
	}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestConfigFromEnvProblems(t *testing.T) {
	long := "/" + strings.Repeat("p", 1011)
	tests := []struct {
		name, value, want string
	}{
		{"SENTINEL_TABLE_NAME", "", "SENTINEL_TABLE_NAME is required (a DynamoDB table name)"},
		{"SENTINEL_TABLE_NAME", "ab", `SENTINEL_TABLE_NAME="ab" is not a DynamoDB table name`},
		{"SENTINEL_TABLE_NAME", "my table", `SENTINEL_TABLE_NAME="my table" is not a DynamoDB table name`},
		{"SENTINEL_POLICY_PARAMETER", "", "SENTINEL_POLICY_PARAMETER is required (an SSM parameter name, optionally with :version)"},
		{"SENTINEL_POLICY_PARAMETER", "/bad name", `SENTINEL_POLICY_PARAMETER="/bad name" is not an SSM parameter name, optionally with :version`},
		{"SENTINEL_POLICY_PARAMETER", "/sentinel-tvm/policy:0", `SENTINEL_POLICY_PARAMETER="/sentinel-tvm/policy:0" is not an SSM parameter name, optionally with :version`},
		{"SENTINEL_POLICY_PARAMETER", "/sentinel-tvm/policy:label", `SENTINEL_POLICY_PARAMETER="/sentinel-tvm/policy:label" is not an SSM parameter name, optionally with :version`},
		{"SENTINEL_POLICY_PARAMETER", long, "SENTINEL_POLICY_PARAMETER is 1012 characters long; SSM parameter names have at most 1011"},
		{"SENTINEL_POLICY_SHA256", "", "SENTINEL_POLICY_SHA256 is required (a lowercase hex sha256)"},
		{"SENTINEL_POLICY_SHA256", strings.ToUpper(goodSHA), `SENTINEL_POLICY_SHA256="` + strings.ToUpper(goodSHA) + `" is not a lowercase hex sha256`},
		{"SENTINEL_POLICY_SHA256", goodSHA[:63], `SENTINEL_POLICY_SHA256="` + goodSHA[:63] + `" is not a lowercase hex sha256`},
		{"SENTINEL_POLICY_CACHE_TTL", "500ms", `SENTINEL_POLICY_CACHE_TTL="500ms" is not a duration from 1s to 15m0s (Go syntax, e.g. 90s, 15m, 24h)`},
		{"SENTINEL_POLICY_CACHE_TTL", "16m", `SENTINEL_POLICY_CACHE_TTL="16m" is not a duration from 1s to 15m0s (Go syntax, e.g. 90s, 15m, 24h)`},
		{"SENTINEL_POLICY_CACHE_TTL", "60", `SENTINEL_POLICY_CACHE_TTL="60" is not a duration from 1s to 15m0s (Go syntax, e.g. 90s, 15m, 24h)`},
		{"SENTINEL_RATE_LIMIT", "0", `SENTINEL_RATE_LIMIT="0" is not a whole number from 1 to 100000`},
		{"SENTINEL_OWNER_REVOKE_LIMIT", "0", `SENTINEL_OWNER_REVOKE_LIMIT="0" is not a whole number from 1 to 1000`},
		{"SENTINEL_OWNER_REVOKE_LIMIT", "1001", `SENTINEL_OWNER_REVOKE_LIMIT="1001" is not a whole number from 1 to 1000`},
		{"SENTINEL_RATE_LIMIT", "100001", `SENTINEL_RATE_LIMIT="100001" is not a whole number from 1 to 100000`},
		{"SENTINEL_RATE_LIMIT", "ten", `SENTINEL_RATE_LIMIT="ten" is not a whole number from 1 to 100000`},
		{"SENTINEL_RATE_WINDOW", "0s", `SENTINEL_RATE_WINDOW="0s" is not a duration from 1s to 24h0m0s (Go syntax, e.g. 90s, 15m, 24h)`},
		{"SENTINEL_RATE_WINDOW", "25h", `SENTINEL_RATE_WINDOW="25h" is not a duration from 1s to 24h0m0s (Go syntax, e.g. 90s, 15m, 24h)`},
		{"SENTINEL_RATE_WINDOW", "1500ms", `SENTINEL_RATE_WINDOW="1500ms" is not a whole number of seconds (the rate-limit window is kept in seconds)`},
		{"SENTINEL_RATE_PER_PROFILE", "yes", `SENTINEL_RATE_PER_PROFILE="yes" is not true or false`},
		{"SENTINEL_RETENTION", "30m", `SENTINEL_RETENTION="30m" is not a duration from 1h0m0s to 87600h0m0s (Go syntax, e.g. 90s, 15m, 24h)`},
		{"SENTINEL_RETENTION", "90d", `SENTINEL_RETENTION="90d" is not a duration from 1h0m0s to 87600h0m0s (Go syntax, e.g. 90s, 15m, 24h)`},
		{"SENTINEL_APPROVAL_TTL", "30s", `SENTINEL_APPROVAL_TTL="30s" is not a duration from 1m0s to 168h0m0s (Go syntax, e.g. 90s, 15m, 24h)`},
		{"SENTINEL_APPROVAL_TTL", "169h", `SENTINEL_APPROVAL_TTL="169h" is not a duration from 1m0s to 168h0m0s (Go syntax, e.g. 90s, 15m, 24h)`},
		{"SENTINEL_APPROVAL_WINDOW", "25h", `SENTINEL_APPROVAL_WINDOW="25h" is not a duration from 1m0s to 24h0m0s (Go syntax, e.g. 90s, 15m, 24h)`},
		{"SENTINEL_APPROVAL_WINDOW", "-1m", `SENTINEL_APPROVAL_WINDOW="-1m" is not a duration from 1m0s to 24h0m0s (Go syntax, e.g. 90s, 15m, 24h)`},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			e := minimalEnv()
			e[tt.name] = tt.value
			got, err := vend.ConfigFromEnv(env(e))
			if err == nil {
				t.Fatalf("accepted: %+v", got)
			}
			if want := "configuration:\n  " + tt.want; err.Error() != want {
				t.Errorf("error\n got %q\nwant %q", err.Error(), want)
			}
			if !reflect.DeepEqual(got, vend.Config{}) {
				t.Errorf("a failed configuration is not zero: %+v", got)
			}
		})
	}
}

// TestConfigFromEnvAllProblems checks that one start reports everything.
func TestConfigFromEnvAllProblems(t *testing.T) {
	_, err := vend.ConfigFromEnv(env(map[string]string{
		"SENTINEL_POLICY_SHA256":    "nope",
		"SENTINEL_POLICY_CACHE_TTL": "forever",
		"SENTINEL_RATE_LIMIT":       "-1",
		"SENTINEL_RATE_WINDOW":      "1d",
		"SENTINEL_RATE_PER_PROFILE": "maybe",
		"SENTINEL_RETENTION":        "1s",
		"SENTINEL_APPROVAL_TTL":     "1w",
		"SENTINEL_APPROVAL_WINDOW":  "0",
	}))
	want := `configuration:
  SENTINEL_TABLE_NAME is required (a DynamoDB table name)
  SENTINEL_POLICY_PARAMETER is required (an SSM parameter name, optionally with :version)
  SENTINEL_POLICY_SHA256="nope" is not a lowercase hex sha256
  SENTINEL_POLICY_CACHE_TTL="forever" is not a duration from 1s to 15m0s (Go syntax, e.g. 90s, 15m, 24h)
  SENTINEL_RATE_WINDOW="1d" is not a duration from 1s to 24h0m0s (Go syntax, e.g. 90s, 15m, 24h)
  SENTINEL_RETENTION="1s" is not a duration from 1h0m0s to 87600h0m0s (Go syntax, e.g. 90s, 15m, 24h)
  SENTINEL_APPROVAL_TTL="1w" is not a duration from 1m0s to 168h0m0s (Go syntax, e.g. 90s, 15m, 24h)
  SENTINEL_APPROVAL_WINDOW="0" is not a duration from 1m0s to 24h0m0s (Go syntax, e.g. 90s, 15m, 24h)
  SENTINEL_RATE_LIMIT="-1" is not a whole number from 1 to 100000
  SENTINEL_RATE_PER_PROFILE="maybe" is not true or false`
	if err == nil || err.Error() != want {
		t.Errorf("error\n got %v\nwant %s", err, want)
	}
}
