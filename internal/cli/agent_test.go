package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"

	"github.com/sentinel-tvm/sentinel-tvm/internal/clienttest"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
)

func TestLoopbackListen(t *testing.T) {
	tests := []struct{ addr, want, wantErr string }{
		{"127.0.0.1:0", "127.0.0.1:0", ""},
		{"127.0.0.2:8080", "127.0.0.2:8080", ""},
		{"localhost:0", "127.0.0.1:0", ""},
		{"[::1]:0", "[::1]:0", ""},
		{"0.0.0.0:0", "", `--listen "0.0.0.0:0" is not a loopback address (127.0.0.1, ::1 or localhost): the agent serves credentials to this machine only`},
		{":0", "", `--listen ":0" is not a loopback address (127.0.0.1, ::1 or localhost): the agent serves credentials to this machine only`},
		{"[::]:0", "", `--listen "[::]:0" is not a loopback address (127.0.0.1, ::1 or localhost): the agent serves credentials to this machine only`},
		{"192.168.1.10:80", "", `--listen "192.168.1.10:80" is not a loopback address (127.0.0.1, ::1 or localhost): the agent serves credentials to this machine only`},
		{"example.com:80", "", `--listen "example.com:80" is not a loopback address (127.0.0.1, ::1 or localhost): the agent serves credentials to this machine only`},
		{"127.0.0.1", "", `--listen "127.0.0.1" is not HOST:PORT`},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			got, err := loopbackListen(tc.addr)
			if got != tc.want || errString(err) != tc.wantErr {
				t.Errorf("got %q, %q\nwant %q, %q", got, errString(err), tc.want, tc.wantErr)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// testAgent starts an agent for dev-readonly, signing as alice, with
// credentials that live `lifetime` and a fast backoff.
func testAgent(t *testing.T, srv *clienttest.Server, lifetime time.Duration) (*agent, *agentServer, *testutil.SyncBuffer) {
	t.Helper()
	srv.STS.SetLifetime(lifetime)
	log := &testutil.SyncBuffer{}
	a, err := newAgent(agentVend(srv.Client(t, clienttest.Alice), vendOptions{profile: "dev-readonly"}), log)
	if err != nil {
		t.Fatal(err)
	}
	a.minBackoff, a.maxBackoff = 50*time.Millisecond, 200*time.Millisecond
	s, err := a.start(context.Background(), defaultListen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return a, s, log
}

type agentAnswer struct {
	status int
	code   string // error code
	key    string // AccessKeyId
	body   map[string]string
}

func agentGet(t *testing.T, method, uri, auth string) agentAnswer {
	t.Helper()
	req, _ := http.NewRequest(method, uri, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]string
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("answer is not a JSON object of strings: %v\n%s", err, b)
	}
	return agentAnswer{resp.StatusCode, body["code"], body["AccessKeyId"], body}
}

func TestAgentServes(t *testing.T) {
	srv := clienttest.NewServer(t)
	a, s, _ := testAgent(t, srv, 0)
	if !strings.HasPrefix(s.uri, "http://127.0.0.1:") || !strings.HasSuffix(s.uri, agentPath) || len(a.token) != 64 {
		t.Fatalf("uri %q token %q", s.uri, a.token)
	}
	tests := []struct {
		name, method, path, auth string
		wantStatus               int
		wantCode                 string
	}{
		{"token", "GET", agentPath, a.token, 200, ""},
		{"no token", "GET", agentPath, "", 401, "Unauthorized"},
		{"wrong token", "GET", agentPath, strings.Repeat("0", 64), 403, "AccessDenied"},
		{"token prefix", "GET", agentPath, a.token[:32], 403, "AccessDenied"},
		{"bearer", "GET", agentPath, "Bearer " + a.token, 403, "AccessDenied"},
		{"POST", "POST", agentPath, a.token, 405, "MethodNotAllowed"},
		{"other path", "GET", "/", a.token, 404, "NotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := agentGet(t, tc.method, strings.TrimSuffix(s.uri, agentPath)+tc.path, tc.auth)
			if got.status != tc.wantStatus || got.code != tc.wantCode {
				t.Errorf("got %d %q, want %d %q: %v", got.status, got.code, tc.wantStatus, tc.wantCode, got.body)
			}
			if tc.wantStatus == 200 {
				want := map[string]string{"AccessKeyId": testutil.AccessKeyID(1), "SecretAccessKey": testutil.SecretKey(1),
					"Token": testutil.SessionToken(1), "Expiration": got.body["Expiration"]}
				if len(got.body) != 4 || got.body["AccessKeyId"] != want["AccessKeyId"] || got.body["SecretAccessKey"] != want["SecretAccessKey"] || got.body["Token"] != want["Token"] {
					t.Errorf("body = %v", got.body)
				}
				exp, err := time.Parse(time.RFC3339, got.body["Expiration"])
				if err != nil || time.Until(exp) < 14*time.Minute {
					t.Errorf("Expiration %q", got.body["Expiration"])
				}
			} else if got.key != "" || strings.Contains(strings.Join(mapValues(got.body), " "), testutil.SecretMarker) {
				t.Errorf("credentials in a refusal: %v", got.body)
			}
		})
	}

	// A request from another machine never gets an answer, token or not.
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", agentPath, nil) // RemoteAddr 192.0.2.1
	r.Header.Set("Authorization", a.token)
	a.ServeHTTP(w, r)
	if w.Code != 403 || strings.Contains(w.Body.String(), testutil.SecretMarker) {
		t.Errorf("non-loopback client: %d %s", w.Code, w.Body)
	}
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestAgentRefreshWithSDK: the SDK's default chain, pointed at the agent by
// the container variables, keeps getting valid credentials across expiries.
func TestAgentRefreshWithSDK(t *testing.T) {
	srv := clienttest.NewServer(t)
	tvmSetup(t, srv)
	a, s, log := testAgent(t, srv, 2*time.Second)
	t.Setenv(containerURIVar, s.uri)
	t.Setenv(containerTokenVar, a.token)
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"))
	if err != nil {
		t.Fatal(err)
	}
	first, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if first.AccessKeyID != testutil.AccessKeyID(1) || !first.CanExpire {
		t.Fatalf("first = %s (expires %v %s)", first.AccessKeyID, first.CanExpire, first.Expires)
	}
	// The SDK's cache counts credentials as expired 5 minutes early (so
	// here at once) and asks the agent again each time.
	a.mu.RLock()
	expires := a.creds.Expiration
	a.mu.RUnlock()
	time.Sleep(time.Until(expires) + 100*time.Millisecond)
	second, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if second.AccessKeyID == first.AccessKeyID {
		t.Errorf("after expiry still %s", second.AccessKeyID)
	}
	if got := agentGet(t, "GET", s.uri, a.token); got.key != second.AccessKeyID || got.body["Expiration"] <= time.Now().UTC().Format(time.RFC3339) {
		t.Errorf("agent serves %s expiring %s", got.key, got.body["Expiration"])
	}
	if !strings.Contains(log.String(), "sentinel-tvm: refreshed credentials; they expire at ") {
		t.Errorf("log:\n%s", log)
	}
	noSecrets(t, log.String())
}

// TestAgentRefreshFailure: while refreshing fails the agent backs off and
// serves the current credentials until they expire, then says why it has
// none; once the TVM answers again it serves new ones.
func TestAgentRefreshFailure(t *testing.T) {
	srv := clienttest.NewServer(t)
	a, s, log := testAgent(t, srv, 2*time.Second)
	srv.STS.Fail(errors.New("ServiceUnavailable: down"))
	if got := agentGet(t, "GET", s.uri, a.token); got.key != testutil.AccessKeyID(1) {
		t.Fatalf("before expiry: %+v", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	var got agentAnswer
	for time.Now().Before(deadline) {
		if got = agentGet(t, "GET", s.uri, a.token); got.status != 200 {
			break
		}
		if got.key != testutil.AccessKeyID(1) {
			t.Fatalf("new credentials while STS is down: %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantMsg := "the credentials expired and could not be refreshed: unavailable: credentials could not be issued; try again later (request "
	if got.status != 503 || got.code != "CredentialsExpired" || !strings.HasPrefix(got.body["message"], wantMsg) {
		t.Fatalf("after expiry: %+v", got)
	}
	if n := strings.Count(log.String(), "sentinel-tvm: refreshing credentials failed: unavailable: credentials could not be issued; try again later (request "); n < 2 {
		t.Errorf("%d failures logged, want retries:\n%s", n, log)
	}
	if !strings.Contains(log.String(), "; retrying in 100ms (the current ones expire at ") {
		t.Errorf("no backoff doubling in the log:\n%s", log)
	}

	srv.STS.Fail(nil)
	deadline = time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got = agentGet(t, "GET", s.uri, a.token); got.status == 200 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.status != 200 || got.key != testutil.AccessKeyID(2) {
		t.Errorf("after recovery: %+v", got)
	}
	noSecrets(t, log.String())
}

func TestAgentRefreshAt(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		lifetime time.Duration
		want     time.Duration // after issue
	}{
		{"1h session: 15m before", time.Hour, 45 * time.Minute},
		{"20m session: half-way", 20 * time.Minute, 10 * time.Minute},
		{"15m session: half-way", 15 * time.Minute, 7*time.Minute + 30*time.Second},
		{"short session: half-way", 4 * time.Second, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := &agent{now: func() time.Time { return now }, refreshBefore: agentRefreshBefore}
			a.creds.Expiration = now.Add(tc.lifetime)
			a.issued = now
			if got := a.refreshAt().Sub(now); got != tc.want {
				t.Errorf("refresh %s after issue, want %s", got, tc.want)
			}
		})
	}
}

func TestAgentCommand(t *testing.T) {
	srv := clienttest.NewServer(t)
	flags := tvmSetup(t, srv)
	tests := []struct {
		name       string
		args       []string
		wantStderr string
		wantCode   int
	}{
		{"public listen", []string{"--profile", "dev-readonly", "--listen", "0.0.0.0:8080"},
			"Error: --listen \"0.0.0.0:8080\" is not a loopback address (127.0.0.1, ::1 or localhost): the agent serves credentials to this machine only\nRun 'sentinel-tvm agent --help' for usage.\n", 2},
		{"denied", []string{"--profile", "prod-denied"}, "sentinel-tvm: policy_denied: Nobody uses prod-denied (request RID)\n", 1},
		{"no profile", nil, "Error: --profile is required\nRun 'sentinel-tvm agent --help' for usage.\n", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tvmMain(append(append([]string{"agent"}, flags...), tc.args...)...)
			if stderr := normalize(r.stderr, srv.URL); r.code != tc.wantCode || stderr != tc.wantStderr || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit %d, stderr:\n%s", r.code, r.stdout, stderr, tc.wantCode, tc.wantStderr)
			}
		})
	}
}

// TestRunAgent runs the command's body until its context ends.
func TestRunAgent(t *testing.T) {
	srv := clienttest.NewServer(t)
	tvmSetup(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &testutil.SyncBuffer{}, &testutil.SyncBuffer{}
	done := make(chan error)
	go func() {
		done <- runAgent(ctx, agentOptions{listen: "localhost:0", vendOptions: vendOptions{clientOptions: clientOptions{url: srv.URL,
			region: clienttest.Region, sourceProfile: "alice"}, profile: "dev-readonly"}}, stdout, stderr)
	}()
	var uri, token string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && token == ""; time.Sleep(10 * time.Millisecond) {
		uri, token = parseExports(stdout.String())
	}
	if !strings.HasPrefix(uri, "http://127.0.0.1:") || len(token) != 64 {
		t.Fatalf("stdout:\n%s", stdout)
	}
	creds, err := endpointcreds.New(uri, func(o *endpointcreds.Options) { o.AuthorizationToken = token }).Retrieve(context.Background())
	if err != nil || creds.AccessKeyID != testutil.AccessKeyID(1) {
		t.Errorf("SDK container provider: %v %v", creds.AccessKeyID, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("runAgent: %v", err)
	}
	want := "export " + containerURIVar + "=" + uri + "\nexport " + containerTokenVar + "=" + token + "\n"
	if stdout.String() != want {
		t.Errorf("stdout:\n%s\nwant\n%s", stdout, want)
	}
	if stderr.String() != "sentinel-tvm: serving profile dev-readonly on "+uri+" until interrupted\n" {
		t.Errorf("stderr:\n%s", stderr)
	}
	if _, err := http.Get(uri); err == nil {
		t.Error("still serving after the context ended")
	}
	var _ aws.CredentialsProvider = (*endpointcreds.Provider)(nil)
}

// parseExports reads the agent's two export lines.
func parseExports(out string) (uri, token string) {
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "export "+containerURIVar+"="); ok {
			uri = v
		}
		if v, ok := strings.CutPrefix(line, "export "+containerTokenVar+"="); ok {
			token = v
		}
	}
	return uri, token
}
