package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
)

// Dev identities of the tests. The example policy lets SSO engineers with
// an @example.com user read production (rule sso-engineers-prod-readonly)
// and nobody else.
var devIdentities = []string{
	"sso=arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Engineering_0123abcd/alice@example.com",
	"alice=arn:aws:sts::111122223333:assumed-role/engineer-dev/alice",
	"bob=arn:aws:iam::111122223333:user/bob",
}

func devArgs(endpoint, credsFile string) []string {
	args := []string{"dev", "--policies", "../../policies", "--listen", "127.0.0.1:0", "--aws-endpoint", endpoint, "--credentials-file", credsFile}
	for _, id := range devIdentities {
		args = append(args, "--identity", id)
	}
	return args
}

func TestDevUsageErrors(t *testing.T) {
	ok := devArgs("http://127.0.0.1:1", filepath.Join(t.TempDir(), "c"))[1:]
	with := func(flag, value string) []string {
		out := append([]string{"dev"}, ok...)
		for i := range out {
			if out[i] == flag {
				out[i+1] = value
				return out
			}
		}
		return append(out, flag, value)
	}
	without := func(flag string) []string {
		out := []string{"dev"}
		for i := 0; i < len(ok); i++ {
			if ok[i] == flag {
				i++
				continue
			}
			out = append(out, ok[i])
		}
		return out
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no flags", []string{"dev"}, "Error: --policies is required"},
		{"no listen", without("--listen"), "Error: --listen is required"},
		{"no endpoint", without("--aws-endpoint"), "Error: --aws-endpoint is required"},
		{"no credentials file", without("--credentials-file"), "Error: --credentials-file is required"},
		{"no identity", without("--identity"), "Error: at least one --identity NAME=CALLER_ARN is required"},
		{"bad listen", with("--listen", "8080"), `Error: --listen "8080" is not HOST:PORT`},
		{"bad endpoint", with("--aws-endpoint", "127.0.0.1:5000"), `Error: --aws-endpoint "127.0.0.1:5000" is not an http(s) URL`},
		{"bad region", with("--region", "moon"), `Error: --region "moon" is not a region name such as us-east-1`},
		{"bad identity", with("--identity", "alice"), `Error: --identity: identity "alice" is not NAME=CALLER_ARN`},
		{"root identity", with("--identity", "r=arn:aws:iam::111122223333:root"), `Error: --identity: identity r: arn:aws:iam::111122223333:root is a root;`},
		{"no policy dir", with("--policies", "/nonexistent"), `Error: "/nonexistent" is not a readable directory`},
		{"argument", append(with("--region", "us-east-1"), "extra"), `Error: sentinel-tvm dev takes no arguments, got ["extra"]`},
		{"unknown flag", with("--port", "1"), "Error: unknown flag: --port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, ExitUsage, stderr.String())
			}
			if !strings.HasPrefix(stderr.String(), tt.wantErr) {
				t.Errorf("stderr:\n%s\nwant it to start with %q", stderr.String(), tt.wantErr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %s", stdout.String())
			}
		})
	}
}

// waitListening waits for the "listening on http://ADDR" line and returns
// the URL.
func waitListening(t *testing.T, out func() string, done <-chan struct{}) string {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for {
		if i := strings.Index(out(), "listening on "); i >= 0 {
			line, _, ok := strings.Cut(out()[i+len("listening on "):], "\n")
			if ok {
				return line
			}
		}
		select {
		case <-done:
			t.Fatalf("dev ended before listening; output:\n%s", out())
		case <-deadline:
			t.Fatalf("dev is not listening after 2 minutes; output:\n%s", out())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// signedRequest signs a request for API Gateway (service execute-api) as
// the AWS SDKs do.
func signedRequest(t *testing.T, creds aws.Credentials, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

type devResponse struct {
	status int
	body   map[string]any
	raw    string
}

func send(t *testing.T, req *http.Request) devResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := devResponse{status: resp.StatusCode, raw: string(raw)}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("%s %s: status %d, body is not JSON: %s", req.Method, req.URL, resp.StatusCode, raw)
	}
	return r
}

// fileCredentials loads a section of the credentials file with the SDK's
// own loader.
func fileCredentials(t *testing.T, path, name string) aws.Credentials {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithSharedCredentialsFiles([]string{path}),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedConfigProfile(name),
		config.WithRegion("us-east-1"),
	)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

func clearAWSEnv(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
	}
}

func TestDevServesSignedRequests(t *testing.T) {
	srv := motoserver.Start(t)
	clearAWSEnv(t)
	credsFile := filepath.Join(t.TempDir(), "credentials")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testutil.SyncBuffer
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		o := devOptions{policies: "../../policies", listen: "127.0.0.1:0", endpoint: srv.URL, identities: devIdentities, credentialsFile: credsFile, region: "us-east-1"}
		runErr = runDev(ctx, o, &stdout, &stderr)
	}()
	base := waitListening(t, stdout.String, done)
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("listening on %q", base)
	}

	sso := fileCredentials(t, credsFile, "sso")
	alice := fileCredentials(t, credsFile, "alice")
	bob := fileCredentials(t, credsFile, "bob")

	t.Run("health", func(t *testing.T) {
		r := send(t, signedRequest(t, bob, "GET", base+"/v1/health", ""))
		srcs, err := policy.ReadDir("../../policies")
		if err != nil {
			t.Fatal(err)
		}
		var policies []policy.Source
		for _, s := range srcs {
			if !policy.IsTestFile(s.Name) {
				policies = append(policies, s)
			}
		}
		compiled, diags := policy.Compile(policies)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if r.status != 200 || r.body["status"] != "ok" || r.body["policy_sha256"] != compiled.SHA256 {
			t.Errorf("health: %d %s", r.status, r.raw)
		}
	})

	t.Run("allowed vend works against the emulator", func(t *testing.T) {
		r := send(t, signedRequest(t, sso, "POST", base+"/v1/credentials", `{"profile": "prod-readonly"}`))
		if r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.raw)
		}
		c, _ := r.body["credentials"].(map[string]any)
		key, _ := c["AccessKeyId"].(string)
		secret, _ := c["SecretAccessKey"].(string)
		token, _ := c["SessionToken"].(string)
		if key == "" || secret == "" || token == "" {
			t.Fatalf("no credentials: %s", r.raw)
		}
		cfg := srv.Config.Copy()
		cfg.Credentials = credentials.NewStaticCredentialsProvider(key, secret, token)
		who, err := sts.NewFromConfig(cfg).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := aws.ToString(who.Arn), "arn:aws:sts::444455556666:assumed-role/prod-readonly/alice@example.com"; got != want {
			t.Errorf("the vended credentials are %s, want %s", got, want)
		}
	})

	t.Run("denied", func(t *testing.T) {
		r := send(t, signedRequest(t, alice, "POST", base+"/v1/credentials", `{"profile": "prod-readonly"}`))
		e, _ := r.body["error"].(map[string]any)
		if r.status != 403 || e["code"] != "policy_denied" {
			t.Errorf("status %d: %s", r.status, r.raw)
		}
	})

	t.Run("unsigned", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/v1/health", nil)
		r := send(t, req)
		if r.status != 403 || r.body["message"] != "Missing Authentication Token" {
			t.Errorf("status %d: %s", r.status, r.raw)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		forged := sso
		forged.SecretAccessKey = "not-" + forged.SecretAccessKey
		r := send(t, signedRequest(t, forged, "POST", base+"/v1/credentials", `{"profile": "prod-readonly"}`))
		if r.status != 403 || r.body["credentials"] != nil {
			t.Errorf("status %d: %s", r.status, r.raw)
		}
	})

	t.Run("unknown key", func(t *testing.T) {
		r := send(t, signedRequest(t, aws.Credentials{AccessKeyID: "AKIAUNKNOWN", SecretAccessKey: "x"}, "GET", base+"/v1/health", ""))
		if r.status != 403 {
			t.Errorf("status %d: %s", r.status, r.raw)
		}
	})

	cancel()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("dev did not stop after its context ended")
	}
	if runErr != nil {
		t.Fatalf("runDev: %v", runErr)
	}
	for _, s := range []string{sso.SecretAccessKey, sso.SessionToken, bob.SecretAccessKey} {
		if strings.Contains(stdout.String()+stderr.String(), s) {
			t.Error("a secret reached the output")
		}
	}
}

// TestDevBinaryStopsOnSignals runs the built binary as `make run` does and
// stops it with SIGINT, then (provisioning the same emulator again) with
// SIGTERM.
func TestDevBinaryStopsOnSignals(t *testing.T) {
	srv := motoserver.Start(t)
	clearAWSEnv(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "sentinel-tvm")
	build := exec.Command("go", "build", "-o", bin, "github.com/sentinel-tvm/sentinel-tvm/cmd/sentinel-tvm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	credsFile := filepath.Join(dir, "credentials")
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, devArgs(srv.URL, credsFile)...)
			var stderr testutil.SyncBuffer
			cmd.Stderr = &stderr
			pipe, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			lines := make(chan string, 16)
			go func() {
				sc := bufio.NewScanner(pipe)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
				exited <- cmd.Wait()
			}()
			select {
			case line, ok := <-lines:
				if !ok || !strings.HasPrefix(line, "listening on http://127.0.0.1:") {
					cmd.Process.Kill()
					t.Fatalf("first line %q; stderr:\n%s", line, stderr.String())
				}
				r := send(t, signedRequest(t, fileCredentials(t, credsFile, "bob"), "GET", strings.TrimPrefix(line, "listening on ")+"/v1/health", ""))
				if r.status != 200 {
					t.Errorf("health: %d %s", r.status, r.raw)
				}
			case <-time.After(2 * time.Minute):
				cmd.Process.Kill()
				t.Fatalf("not listening; stderr:\n%s", stderr.String())
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("exit: %v; stderr:\n%s", err, stderr.String())
				}
			case <-time.After(15 * time.Second):
				cmd.Process.Kill()
				t.Fatal("dev did not stop")
			}
			if fi, err := os.Stat(credsFile); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("credentials file: %v %v", fi, err)
			}
		})
	}
}
