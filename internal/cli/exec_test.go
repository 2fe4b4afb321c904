package cli

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"

	"github.com/sentinel-tvm/sentinel-tvm/internal/clienttest"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
)

func skipWithoutSh(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("needs /bin/sh")
	}
}

func TestExecExitCodes(t *testing.T) {
	skipWithoutSh(t)
	srv := clienttest.NewServer(t)
	flags := tvmSetup(t, srv)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"success", []string{"--profile", "dev-readonly", "--", "/bin/sh", "-c", "echo ok"}, 0, "ok\n", ""},
		{"exit code", []string{"--profile", "dev-readonly", "--", "/bin/sh", "-c", "exit 3"}, 3, "", ""},
		{"killed by a signal", []string{"--profile", "dev-readonly", "--", "/bin/sh", "-c", "kill -TERM $$"}, 128 + 15, "", ""},
		{"flags after the command are its own", []string{"--profile", "dev-readonly", "/bin/sh", "-c", "echo $0", "--profile"}, 0, "--profile\n", ""},
		{"stderr passes", []string{"--profile", "dev-readonly", "--", "/bin/sh", "-c", "echo oops >&2; exit 1"}, 1, "", "oops\n"},
		{"not found", []string{"--profile", "dev-readonly", "--", "no-such-command-xyz"}, 127, "",
			"sentinel-tvm: no-such-command-xyz: executable file not found in $PATH\n"},
		{"denied: the command never runs", []string{"--profile", "prod-denied", "--", "/bin/sh", "-c", "echo ran"}, 1, "",
			"sentinel-tvm: policy_denied: Nobody uses prod-denied (request RID)\n"},
		{"no command", []string{"--profile", "dev-readonly", "--"}, 2, "",
			"Error: sentinel-tvm exec needs a command to run after --\nRun 'sentinel-tvm exec --help' for usage.\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tvmMain(append(append([]string{"exec"}, flags...), tc.args...)...)
			if stderr := normalize(r.stderr, srv.URL); r.code != tc.wantCode || r.stdout != tc.wantStdout || stderr != tc.wantStderr {
				t.Errorf("exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q", r.code, r.stdout, stderr, tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}

// TestExecChild: the command sees the agent's variables and none of the
// caller's credentials, and the SDK's container provider gets credentials
// from the agent while it runs.
func TestExecChild(t *testing.T) {
	skipWithoutSh(t)
	srv := clienttest.NewServer(t)
	flags := tvmSetup(t, srv)
	t.Setenv("AWS_SECURITY_TOKEN", "parent-token")
	t.Setenv("AWS_DEFAULT_PROFILE", "alice")
	dir := t.TempDir()
	envFile, goFile := filepath.Join(dir, "env"), filepath.Join(dir, "go")
	script := `env | grep '^AWS_' | sort > "$1.tmp" && mv "$1.tmp" "$1"; while [ ! -e "$2" ]; do sleep 0.02; done; exit 5`
	done := make(chan tvmResult)
	go func() {
		done <- tvmMain(append(append([]string{"exec"}, flags...), "--profile", "dev-readonly", "--", "/bin/sh", "-c", script, "sh", envFile, goFile)...)
	}()
	var env map[string]string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(envFile); err == nil {
			env = map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				k, v, _ := strings.Cut(line, "=")
				env[k] = v
			}
			break
		}
	}
	if env == nil {
		t.Fatal("the command never ran")
	}
	for _, k := range []string{"AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"} {
		if v, ok := env[k]; ok {
			t.Errorf("the command sees %s=%s", k, v)
		}
	}
	uri, token := env[containerURIVar], env[containerTokenVar]
	if !strings.HasPrefix(uri, "http://127.0.0.1:") || len(token) != 64 || env["AWS_CONFIG_FILE"] == "" {
		t.Errorf("the command's AWS environment: %v", env)
	}
	creds, err := endpointcreds.New(uri, func(o *endpointcreds.Options) { o.AuthorizationToken = token }).Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != testutil.AccessKeyID(1) {
		t.Errorf("SDK container provider: %q %v", creds.AccessKeyID, err)
	}
	os.WriteFile(goFile, nil, 0o600)
	r := <-done
	if r.code != 5 || r.stderr != "" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := endpointcreds.New(uri, func(o *endpointcreds.Options) { o.AuthorizationToken = token }).Retrieve(context.Background()); err == nil {
		t.Error("the agent still serves after the command ended")
	}
}

// buildBinary builds sentinel-tvm into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "sentinel-tvm")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command("go", "build", "-o", bin, "github.com/sentinel-tvm/sentinel-tvm/cmd/sentinel-tvm").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestCredentialProcessWithSDK: a credential_process profile naming the
// built binary works with aws-sdk-go-v2's default configuration unchanged.
func TestCredentialProcessWithSDK(t *testing.T) {
	bin := buildBinary(t)
	srv := clienttest.NewServer(t)
	tvmSetup(t, srv)
	base := bin + " credentials --url " + srv.URL + " --region us-east-1 --source-profile alice --profile "
	tvmWrite(t, os.Getenv("AWS_CONFIG_FILE"), "[profile alice]\n"+
		"[profile tvm]\nregion = us-east-1\ncredential_process = "+base+"dev-readonly --duration 30m\n"+
		"[profile tvm-denied]\nregion = us-east-1\ncredential_process = "+base+"prod-denied\n")

	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithSharedConfigProfile("tvm"))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != testutil.AccessKeyID(1) || creds.SecretAccessKey != testutil.SecretKey(1) ||
		creds.SessionToken != testutil.SessionToken(1) || !creds.CanExpire || time.Until(creds.Expires) < 25*time.Minute {
		t.Errorf("credentials %s, expire %v %s", creds.AccessKeyID, creds.CanExpire, creds.Expires)
	}
	if in := srv.STS.Inputs(); len(in) != 1 || *in[0].DurationSeconds != 1800 {
		t.Errorf("AssumeRole inputs: %d", len(in))
	}

	cfg, err = config.LoadDefaultConfig(context.Background(), config.WithSharedConfigProfile("tvm-denied"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Credentials.Retrieve(context.Background()); err == nil || !strings.Contains(err.Error(), "credential_process") {
		t.Errorf("denied profile: %v", err)
	}
}

// TestBinarySignals: the agent stops on SIGTERM; exec forwards a signal to
// the command and exits with its code.
func TestBinarySignals(t *testing.T) {
	skipWithoutSh(t)
	bin := buildBinary(t)
	srv := clienttest.NewServer(t)
	flags := tvmSetup(t, srv)

	t.Run("agent", func(t *testing.T) {
		cmd := exec.Command(bin, append(append([]string{"agent"}, flags...), "--profile", "dev-readonly")...)
		stdout, _ := cmd.StdoutPipe()
		var stderr testutil.SyncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		var out string
		for range 2 {
			if !sc.Scan() {
				cmd.Process.Kill()
				t.Fatalf("no exports; stderr:\n%s", stderr.String())
			}
			out += sc.Text() + "\n"
		}
		uri, token := parseExports(out)
		t.Setenv(containerURIVar, uri)
		t.Setenv(containerTokenVar, token)
		cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"))
		if err != nil {
			t.Fatal(err)
		}
		if creds, err := cfg.Credentials.Retrieve(context.Background()); err != nil || creds.AccessKeyID != testutil.AccessKeyID(1) {
			t.Errorf("SDK through the agent: %q %v", creds.AccessKeyID, err)
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("agent after SIGTERM: %v\n%s", err, stderr.String())
		}
		noSecrets(t, stderr.String())
	})

	t.Run("exec forwards", func(t *testing.T) {
		ready := filepath.Join(t.TempDir(), "ready")
		script := `trap 'echo got TERM; exit 7' TERM; touch "$1"; while :; do sleep 0.02; done`
		cmd := exec.Command(bin, append(append([]string{"exec"}, flags...), "--profile", "dev-readonly", "--", "/bin/sh", "-c", script, "sh", ready)...)
		var stdout, stderr testutil.SyncBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(ready); err == nil {
				break
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != 7 || stdout.String() != "got TERM\n" || stderr.String() != "" {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
		}
	})
}
