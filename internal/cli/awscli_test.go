package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
)

// TestAWSCLICredentialProcess drives the real AWS CLI (v1, from PyPI; `make
// go-test` installs it and sets SENTINEL_TVM_AWSCLI) through a
// credential_process profile that runs the built sentinel-tvm binary against
// `sentinel-tvm dev` on moto.
func TestAWSCLICredentialProcess(t *testing.T) {
	awsBin := os.Getenv("SENTINEL_TVM_AWSCLI")
	if awsBin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SENTINEL_TVM_AWSCLI is not set; run the tests with make go-test")
		}
		t.Skip("SENTINEL_TVM_AWSCLI is not set (make go-test sets it)")
	}
	if testing.Short() {
		t.Skip("starts moto, sentinel-tvm dev and the AWS CLI")
	}
	srv := motoserver.Start(t)
	clearAWSEnv(t)
	dir := t.TempDir()

	bin := filepath.Join(dir, "sentinel-tvm")
	build := exec.Command("go", "build", "-o", bin, "./cmd/sentinel-tvm")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	credsFile := filepath.Join(dir, "credentials")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testutil.SyncBuffer
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		o := devOptions{policies: "../../policies", listen: "127.0.0.1:0", endpoint: srv.URL, credentialsFile: credsFile, region: "us-east-1", identities: []string{
			// May read production (rule sso-engineers-prod-readonly).
			"erin=arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Engineering_0123abcd/erin@example.com",
			// Denied on prod-*.
			"eve=arn:aws:sts::111122223333:assumed-role/contractor-ops/eve",
		}}
		runErr = runDev(ctx, o, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
			if runErr != nil {
				t.Errorf("runDev: %v", runErr)
			}
		case <-time.After(15 * time.Second):
			t.Error("dev did not stop after its context ended")
		}
	})
	base := waitListening(t, stdout.String, done)

	configFile := filepath.Join(dir, "config")
	var cfg strings.Builder
	for _, p := range []struct{ name, source string }{{"ok", "erin"}, {"denied", "eve"}} {
		cfg.WriteString("[profile " + p.name + "]\n")
		cfg.WriteString("credential_process = " + bin + " credentials --url " + base + " --profile prod-readonly --source-profile " + p.source + " --region us-east-1\n\n")
	}
	if err := os.WriteFile(configFile, []byte(cfg.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	// clearAWSEnv set the variables to ""; the CLI treats some empty values
	// as set, so the child gets an environment without any other AWS_*.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_CONFIG_FILE="+configFile,
		"AWS_SHARED_CREDENTIALS_FILE="+credsFile,
		"AWS_ENDPOINT_URL="+srv.URL,
		"AWS_REGION=us-east-1",
		// AWS CLI v1 reads only AWS_DEFAULT_REGION.
		"AWS_DEFAULT_REGION=us-east-1",
	)
	aws := func(profile string) (string, string, error) {
		cmd := exec.Command(awsBin, "sts", "get-caller-identity", "--profile", profile, "--output", "json")
		cmd.Env = env
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}

	t.Run("allowed profile shows the vended role", func(t *testing.T) {
		out, errOut, err := aws("ok")
		if err != nil {
			t.Fatalf("aws: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
		}
		var who struct{ Account, Arn string }
		if err := json.Unmarshal([]byte(out), &who); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, out)
		}
		if want := "arn:aws:sts::444455556666:assumed-role/prod-readonly/erin@example.com"; who.Arn != want {
			t.Errorf("Arn %q, want the vended role %s", who.Arn, want)
		}
		if who.Account != "444455556666" {
			t.Errorf("Account %q, want 444455556666", who.Account)
		}
	})

	t.Run("denied profile fails with our message", func(t *testing.T) {
		out, errOut, err := aws("denied")
		if err == nil {
			t.Fatalf("aws succeeded for a denied profile:\n%s", out)
		}
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("aws: %v", err)
		}
		// The CLI passes the process's stderr through: "Error when retrieving
		// credentials from custom-process: sentinel-tvm: policy_denied: ...".
		if !strings.Contains(errOut, "sentinel-tvm: policy_denied: ") {
			t.Errorf("stderr does not carry the refusal (policy_denied):\n%s", errOut)
		}
		if out != "" {
			t.Errorf("stdout: %s", out)
		}
	})
}
