package main

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
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

// TestBootstrapKeepsDeadMethodElimination: the bootstrap, built as it is
// deployed (GOOS=linux, the lambda.norpc tag of lambda/cmd/package), links
// no package that calls reflect.Value.MethodByName with a computed name
// (net/rpc, text/template, html/template). One such package makes the
// linker keep every exported method of every reachable type (all of each
// AWS SDK client's operations): 23.4 MiB instead of 13.2 MiB stripped on
// arm64, past issue 8's 20 MB target.
func TestBootstrapKeepsDeadMethodElimination(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-tags=lambda.norpc", ".")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/aws/aws-lambda-go/lambda") {
		t.Fatalf("go list -deps found no aws-lambda-go: %v", deps)
	}
	for _, bad := range []string{"net/rpc", "text/template", "html/template"} {
		if slices.Contains(deps, bad) {
			t.Errorf("the bootstrap links %s, which disables the linker's dead method elimination", bad)
		}
	}
}
