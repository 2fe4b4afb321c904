package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sentinel-tvm/sentinel-tvm/internal/clienttest"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
)

// tvmSetup points the default credential chain at shared-config files with
// the test identities (alice, bob, and mallory whom the TVM does not know),
// so the commands sign as a user's machine would, and returns the flags
// that reach srv as alice.
func tvmSetup(t *testing.T, srv *clienttest.Server) []string {
	t.Helper()
	dir := t.TempDir()
	var creds strings.Builder
	for _, id := range []clienttest.Caller{clienttest.Alice, clienttest.Bob,
		{Name: "mallory", Credentials: aws.Credentials{AccessKeyID: "AKIAMALLORY000000000", SecretAccessKey: "mallory-secret"}}} {
		creds.WriteString("[" + id.Name + "]\naws_access_key_id = " + id.Credentials.AccessKeyID +
			"\naws_secret_access_key = " + id.Credentials.SecretAccessKey + "\n")
		if id.Credentials.SessionToken != "" {
			creds.WriteString("aws_session_token = " + id.Credentials.SessionToken + "\n")
		}
	}
	tvmWrite(t, filepath.Join(dir, "credentials"), creds.String())
	tvmWrite(t, filepath.Join(dir, "config"), "[profile alice]\n[profile bob]\n[profile mallory]\n")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE",
		urlEnv, "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		containerURIVar, containerTokenVar, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ENDPOINT_URL"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return []string{"--url", srv.URL, "--region", clienttest.Region, "--source-profile", "alice"}
}

func tvmWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

type tvmResult struct {
	code           int
	stdout, stderr string
}

func tvmMain(args ...string) tvmResult {
	var stdout, stderr testutil.SyncBuffer
	code := Main(args, strings.NewReader(""), &stdout, &stderr)
	return tvmResult{code, stdout.String(), stderr.String()}
}

var (
	requestIDRE  = regexp.MustCompile(`\(request [0-9a-f-]{36}\)`)
	approvalIDRE = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
)

// normalize replaces request and approval IDs, the server URL and the
// sentinel-tvm error's Retry-After seconds with placeholders.
func normalize(s, url string) string {
	s = requestIDRE.ReplaceAllString(s, "(request RID)")
	s = approvalIDRE.ReplaceAllString(s, "AID")
	return strings.ReplaceAll(s, url, "URL")
}

// noSecrets checks that nothing any side signed or vended with leaks.
func noSecrets(t *testing.T, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		for _, secret := range []string{testutil.SecretMarker, clienttest.Alice.Credentials.SecretAccessKey,
			clienttest.Alice.Credentials.SessionToken, "mallory-secret"} {
			if strings.Contains(out, secret) {
				t.Errorf("secret %q in output:\n%s", secret, out)
			}
		}
	}
}

// credentialProcess decodes and checks credential_process JSON: one line,
// Version 1, the n-th credentials the fake STS issued.
func credentialProcess(t *testing.T, out string, n int) time.Time {
	t.Helper()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Errorf("stdout is not one line: %q", out)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	var got struct {
		Version                                    int
		AccessKeyId, SecretAccessKey, SessionToken string
		Expiration                                 time.Time
	}
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("stdout: %v\n%s", err, out)
	}
	if got.Version != 1 || got.AccessKeyId != testutil.AccessKeyID(n) || got.SecretAccessKey != testutil.SecretKey(n) ||
		got.SessionToken != testutil.SessionToken(n) || got.Expiration.IsZero() {
		t.Errorf("credential_process JSON = %s", out)
	}
	return got.Expiration
}

func TestCredentialsCommand(t *testing.T) {
	const cmdLine = "sentinel-tvm credentials --url URL --profile prod-admin --region us-east-1 --source-profile alice"
	tests := []struct {
		name       string
		opts       []clienttest.Option
		before     func(*testing.T, *clienttest.Server, []string)
		args       []string // after the command and the tvmSetup flags
		noFlags    bool     // without the tvmSetup flags
		wantCode   int
		wantStderr string // normalized
		wantVend   int    // the n-th credentials on stdout; 0: none
	}{
		{name: "allowed", args: []string{"--profile", "dev-readonly"}, wantVend: 1},
		{name: "allowed with a duration", args: []string{"--profile", "dev-readonly", "--duration", "45m"}, wantVend: 1},
		{name: "policy denied", args: []string{"--profile", "prod-denied"}, wantCode: 1,
			wantStderr: "sentinel-tvm: policy_denied: Nobody uses prod-denied (request RID)\n"},
		{name: "not allowed", args: []string{"--profile", "dev-readonly", "--source-profile", "bob"}, wantCode: 1,
			wantStderr: "sentinel-tvm: policy_denied: no rule allows this request (request RID)\n"},
		{name: "approval required", args: []string{"--profile", "prod-admin"}, wantCode: 1,
			wantStderr: "sentinel-tvm: approval_required: Production administration needs a second person; poll GET /v1/approvals/AID (request RID); " +
				"approval AID: once approved, run: " + cmdLine + " --approval-id AID (add --wait to wait for it)\n"},
		{name: "rate limited", opts: []clienttest.Option{clienttest.WithRateLimit(1)},
			before: func(t *testing.T, _ *clienttest.Server, flags []string) {
				if r := tvmMain(append([]string{"credentials", "--profile", "dev-readonly"}, flags...)...); r.code != 0 {
					t.Fatalf("first vend: %+v", r)
				}
			},
			args: []string{"--profile", "dev-readonly"}, wantCode: 1,
			wantStderr: "sentinel-tvm: rate_limited: too many requests; retry later (request RID); retry in Ns\n"},
		{name: "duration out of range", args: []string{"--profile", "dev-readonly", "--duration", "5m"}, wantCode: 1,
			wantStderr: "sentinel-tvm: invalid_request: duration_seconds must be from 900 to 43200 (longer requests are capped by the policy) (request RID)\n"},
		{name: "STS down", before: func(_ *testing.T, s *clienttest.Server, _ []string) { s.STS.Fail(errors.New("ExpiredToken: nope")) },
			args: []string{"--profile", "dev-readonly"}, wantCode: 1,
			wantStderr: "sentinel-tvm: unavailable: credentials could not be issued; try again later (request RID)\n"},
		{name: "unknown signer", args: []string{"--profile", "dev-readonly", "--source-profile", "mallory"}, wantCode: 1,
			wantStderr: "sentinel-tvm: UnrecognizedClientException: The security token included in the request is invalid. (request RID)\n"},
		{name: "wrong region", args: []string{"--profile", "dev-readonly", "--region", "eu-west-1"}, wantCode: 1,
			wantStderr: "sentinel-tvm: InvalidSignatureException: Credential should be scoped to a valid region, not 'eu-west-1'. (request RID)\n"},
		{name: "no such source profile", args: []string{"--profile", "dev-readonly", "--source-profile", "nobody"}, wantCode: 1,
			wantStderr: "sentinel-tvm: loading the AWS configuration: failed to get shared config profile, nobody\n"},

		{name: "url from SENTINEL_TVM_URL", noFlags: true, wantVend: 1,
			before: func(t *testing.T, s *clienttest.Server, _ []string) { t.Setenv(urlEnv, s.URL) },
			args:   []string{"--profile", "dev-readonly", "--region", clienttest.Region, "--source-profile", "alice"}},
		{name: "--url over SENTINEL_TVM_URL", wantVend: 1, args: []string{"--profile", "dev-readonly"},
			before: func(t *testing.T, _ *clienttest.Server, _ []string) { t.Setenv(urlEnv, "http://127.0.0.1:1") }},
		{name: "no url", noFlags: true, args: []string{"--profile", "p"}, wantCode: 2,
			wantStderr: "Error: --url is required (or set SENTINEL_TVM_URL)\nRun 'sentinel-tvm credentials --help' for usage.\n"},
		{name: "no profile", args: nil, wantCode: 2,
			wantStderr: "Error: --profile is required\nRun 'sentinel-tvm credentials --help' for usage.\n"},
		{name: "bad SENTINEL_TVM_URL", noFlags: true, args: []string{"--profile", "p"}, wantCode: 2,
			before:     func(t *testing.T, _ *clienttest.Server, _ []string) { t.Setenv(urlEnv, "ftp://x") },
			wantStderr: "Error: SENTINEL_TVM_URL \"ftp://x\" is not an http(s) URL (no credentials, query or fragment)\nRun 'sentinel-tvm credentials --help' for usage.\n"},
		{name: "bad url", noFlags: true, args: []string{"--url", "ftp://x", "--profile", "p"}, wantCode: 2,
			wantStderr: "Error: --url \"ftp://x\" is not an http(s) URL (no credentials, query or fragment)\nRun 'sentinel-tvm credentials --help' for usage.\n"},
		{name: "fractional duration", args: []string{"--profile", "p", "--duration", "1.5s"}, wantCode: 2,
			wantStderr: "Error: --duration 1.5s must be a positive whole number of seconds, e.g. 30m\nRun 'sentinel-tvm credentials --help' for usage.\n"},
		{name: "no region", noFlags: true, args: []string{"--url", "http://127.0.0.1:1", "--profile", "p", "--source-profile", "alice"}, wantCode: 2,
			wantStderr: "Error: http://127.0.0.1:1: the URL names no region; pass --region\nRun 'sentinel-tvm credentials --help' for usage.\n"},
		{name: "argument", args: []string{"--profile", "p", "extra"}, wantCode: 2,
			wantStderr: "Error: sentinel-tvm credentials takes no arguments, got [\"extra\"]\nRun 'sentinel-tvm credentials --help' for usage.\n"},
		{name: "bad wait timeout", args: []string{"--profile", "p", "--wait-timeout", "0s"}, wantCode: 2,
			wantStderr: "Error: --wait-timeout 0s must be positive\nRun 'sentinel-tvm credentials --help' for usage.\n"},
		{name: "unreachable", noFlags: true, args: []string{"--url", "http://127.0.0.1:1", "--profile", "p", "--region", "us-east-1", "--source-profile", "alice"}, wantCode: 1,
			wantStderr: "sentinel-tvm: POST http://127.0.0.1:1: dial tcp 127.0.0.1:1: connect: connection refused\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := clienttest.NewServer(t, tc.opts...)
			flags := tvmSetup(t, srv)
			if tc.before != nil {
				tc.before(t, srv, flags)
			}
			args := []string{"credentials"}
			if !tc.noFlags {
				args = append(args, flags...)
			}
			r := tvmMain(append(args, tc.args...)...)
			stderr := regexp.MustCompile(`retry in \d+s`).ReplaceAllString(normalize(r.stderr, srv.URL), "retry in Ns")
			if r.code != tc.wantCode || stderr != tc.wantStderr {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d, stderr:\n%s", r.code, stderr, tc.wantCode, tc.wantStderr)
			}
			if tc.wantVend > 0 {
				exp := credentialProcess(t, r.stdout, tc.wantVend)
				want := 15 * time.Minute
				if i := slicesIndex(tc.args, "--duration"); i >= 0 {
					want, _ = time.ParseDuration(tc.args[i+1])
				}
				if d := time.Until(exp); d < want-time.Minute || d > want {
					t.Errorf("credentials expire in %s, want %s", d, want)
				}
			} else if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			noSecrets(t, r.stderr)
		})
	}
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// pendingApproval waits for the store to hold one pending approval.
func pendingApproval(t *testing.T, srv *clienttest.Server) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		as, err := srv.Store.ListApprovalsByStatus(context.Background(), store.ApprovalPending, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(as) == 1 {
			return as[0].ID
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no pending approval")
	return ""
}

func TestCredentialsWait(t *testing.T) {
	defer func(d time.Duration) { approvalPoll = d }(approvalPoll)
	approvalPoll = 10 * time.Millisecond
	const waiting = "sentinel-tvm: profile prod-admin needs approval; waiting up to 15m0s for approval AID to be decided\n"
	tests := []struct {
		name       string
		args       []string
		decide     func(t *testing.T, srv *clienttest.Server, id string) // nil: never decided
		wantCode   int
		wantStderr string
	}{
		{name: "approved", decide: func(t *testing.T, s *clienttest.Server, id string) { s.Decide(t, id, true) },
			wantStderr: waiting + "sentinel-tvm: approval AID approved after 0s; vending\n"},
		{name: "denied", decide: func(t *testing.T, s *clienttest.Server, id string) { s.Decide(t, id, false) }, wantCode: 1,
			wantStderr: waiting + "sentinel-tvm: approval AID is denied by arn:aws:iam::111122223333:role/security-lead: clienttest\n"},
		{name: "cancelled", decide: func(t *testing.T, s *clienttest.Server, id string) { s.Cancel(t, id) }, wantCode: 1,
			wantStderr: waiting + "sentinel-tvm: approval AID is cancelled\n"},
		{name: "timeout", args: []string{"--wait-timeout", "100ms"}, wantCode: 1,
			wantStderr: "sentinel-tvm: profile prod-admin needs approval; waiting up to 100ms for approval AID to be decided\n" +
				"sentinel-tvm: approval AID is still pending after 100ms; to wait again, run: sentinel-tvm credentials --url URL --profile prod-admin " +
				"--region us-east-1 --source-profile alice --approval-id AID --wait\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := clienttest.NewServer(t)
			flags := tvmSetup(t, srv)
			done := make(chan tvmResult)
			go func() {
				done <- tvmMain(append(append([]string{"credentials", "--profile", "prod-admin", "--wait"}, flags...), tc.args...)...)
			}()
			id := pendingApproval(t, srv)
			if tc.decide != nil {
				tc.decide(t, srv, id)
			}
			r := <-done
			if stderr := normalize(r.stderr, srv.URL); r.code != tc.wantCode || stderr != tc.wantStderr {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d, stderr:\n%s", r.code, stderr, tc.wantCode, tc.wantStderr)
			}
			if tc.wantCode == 0 {
				credentialProcess(t, r.stdout, 1)
				a, err := srv.Store.GetApproval(context.Background(), id)
				if err != nil || a.Status != store.ApprovalUsed {
					t.Errorf("approval after the vend: %+v %v", a.Status, err)
				}
				if srv.StandInApprovals {
					t.Log("GET /v1/approvals/{id} answered by the test's stand-in: the service has no such route yet")
				}
			} else if r.stdout != "" || srv.STS.Calls() != 0 {
				t.Errorf("vended without approval: %q", r.stdout)
			}
			if got := srv.Hits("GET /v1/approvals/{id}"); got == 0 {
				t.Error("the approval was never polled")
			}
			noSecrets(t, r.stderr)
		})
	}
}

// TestCredentialsApprovalID: an approved request named with --approval-id
// vends at once, and only once.
func TestCredentialsApprovalID(t *testing.T) {
	srv := clienttest.NewServer(t)
	flags := tvmSetup(t, srv)
	args := append([]string{"credentials", "--profile", "prod-admin"}, flags...)
	if r := tvmMain(args...); r.code != 1 {
		t.Fatalf("first: %+v", r)
	}
	id := pendingApproval(t, srv)
	srv.Decide(t, id, true)
	r := tvmMain(append(args, "--approval-id", id)...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("with the approval: %+v", r)
	}
	credentialProcess(t, r.stdout, 1)
	r = tvmMain(append(args, "--approval-id", id)...)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "sentinel-tvm: approval_required: ") {
		t.Errorf("approval used twice: %+v", r)
	}
}
