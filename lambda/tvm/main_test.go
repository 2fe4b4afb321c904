package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sentinel-tvm/sentinel-tvm/internal/revoke"
)

func TestLambdaAWSConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	full := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "S", "AWS_SESSION_TOKEN": "T"}
	cfg, err := lambdaAWSConfig(env(full))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || cfg.Region != "eu-west-1" || creds.AccessKeyID != "AKID" || creds.SessionToken != "T" || cfg.BaseEndpoint != nil {
		t.Fatalf("config %+v, credentials %+v, %v", cfg, creds, err)
	}
	full["AWS_ENDPOINT_URL"] = "http://127.0.0.1:5000"
	if cfg, _ := lambdaAWSConfig(env(full)); aws.ToString(cfg.BaseEndpoint) != "http://127.0.0.1:5000" {
		t.Errorf("BaseEndpoint %v, want the AWS_ENDPOINT_URL", cfg.BaseEndpoint)
	}
	for _, missing := range []string{"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		m := map[string]string{}
		for k, v := range full {
			if k != missing {
				m[k] = v
			}
		}
		if _, err := lambdaAWSConfig(env(m)); err == nil {
			t.Errorf("no error without %s", missing)
		}
	}
}

type stubRevoker struct{ res revoke.Result }

func (s stubRevoker) Revoke(context.Context, revoke.Request) (revoke.Result, error) {
	return s.res, nil
}

// TestServeRevocationAnnouncesTheFallback: a revocation that wrote the
// role-wide cut-off logs a WARN line of its own (event
// revocation_fallback) beside the audit line.
func TestServeRevocationAnnouncesTheFallback(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	cutoff := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	req := revoke.Request{RoleARN: "arn:aws:iam::111122223333:role/r", SessionID: strings.Repeat("a", 32)}
	if _, err := serveRevocation(context.Background(), stubRevoker{revoke.Result{Enforcement: revoke.EnforcementSessionTag}}, log, req); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "revocation_fallback") {
		t.Fatalf("a per-session revocation announced a fallback: %s", buf.String())
	}
	buf.Reset()
	res := revoke.Result{Enforcement: revoke.EnforcementTokenIssueTime, TokenIssueCutoff: cutoff, CutoffWritten: true}
	if _, err := serveRevocation(context.Background(), stubRevoker{res}, log, req); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"level":"WARN","msg":"revocation fell back to a token-issue-time cut-off`) ||
		!strings.Contains(buf.String(), `"event":"revocation_fallback"`) || !strings.Contains(buf.String(), `"token_issue_cutoff":"2030-01-02T03:04:05Z"`) {
		t.Fatalf("log: %s", buf.String())
	}
}
