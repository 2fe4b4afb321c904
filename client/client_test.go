package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/sentinel-tvm/sentinel-tvm/client"
	"github.com/sentinel-tvm/sentinel-tvm/internal/clienttest"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
)

func TestCredentialsFormats(t *testing.T) {
	srv := clienttest.NewServer(t)
	c := srv.Client(t, clienttest.Alice)
	tests := []struct {
		format   client.Format
		wantBody []string // keys of the body as sent
	}{
		{client.FormatNative, []string{`"session_id":"`, `"credentials":{"AccessKeyId":"ASIAVENDED`, `"decision":{"rule":"engineers-dev","via":"policy"}`}},
		{client.FormatCredentialProcess, []string{`"Version":1`, `"SessionToken":"vended-token-`}},
		{client.FormatContainer, []string{`"Token":"vended-token-`, `"AccessKeyId":"ASIAVENDED`}},
	}
	for i, tc := range tests {
		t.Run(string(tc.format), func(t *testing.T) {
			before := time.Now()
			resp, err := c.Credentials(context.Background(), client.CredentialsRequest{Profile: "dev-readonly", DurationSeconds: 1200}, tc.format)
			if err != nil {
				t.Fatal(err)
			}
			n := i + 1
			got := resp.Credentials
			if got.AccessKeyID != testutil.AccessKeyID(n) || got.SecretAccessKey != testutil.SecretKey(n) || got.SessionToken != testutil.SessionToken(n) {
				t.Errorf("credentials = %+v, want the %d-th issued", got, n)
			}
			if d := got.Expiration.Sub(before); d < 19*time.Minute || d > 21*time.Minute {
				t.Errorf("expiration %s is %s away, want 20m", got.Expiration, d)
			}
			for _, want := range tc.wantBody {
				if !strings.Contains(string(resp.Body), want) {
					t.Errorf("body lacks %s:\n%s", want, resp.Body)
				}
			}
			if tc.format == client.FormatNative && (resp.SessionID == "" || resp.Profile != "dev-readonly" || resp.DurationSeconds != 1200) {
				t.Errorf("native fields: %+v", resp)
			}
			ac := resp.AWS()
			if !ac.CanExpire || !ac.Expires.Equal(got.Expiration) || ac.Source != client.ProviderName {
				t.Errorf("AWS() = %+v", ac)
			}
		})
	}
	if got := len(srv.STS.Inputs()); got != 3 {
		t.Errorf("%d AssumeRole calls, want 3", got)
	}
	if in := srv.STS.Inputs()[0]; aws.ToInt32(in.DurationSeconds) != 1200 {
		t.Errorf("DurationSeconds = %d, want 1200", aws.ToInt32(in.DurationSeconds))
	}
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		opts       []clienttest.Option
		id         clienttest.Caller
		clientOpts []client.Option
		before     func(*clienttest.Server)
		profile    string
		want       client.Error // RequestID and ApprovalID checked for shape
		wantHits   int          // backend hits of POST /v1/credentials
	}{
		{name: "policy denied", profile: "prod-denied", wantHits: 1,
			want: client.Error{Status: 403, Code: "policy_denied", Message: "Nobody uses prod-denied"}},
		{name: "approval required", profile: "prod-admin", wantHits: 1,
			want: client.Error{Status: 403, Code: "approval_required", Message: "Production administration needs a second person; poll GET /v1/approvals/"}},
		{name: "invalid request", profile: "no such/profile", wantHits: 1,
			want: client.Error{Status: 400, Code: "invalid_request", Message: "profile must be a profile name (1-64 letters, digits, '.', '_' or '-')"}},
		{name: "not allowed", id: clienttest.Bob, profile: "dev-readonly", wantHits: 1,
			want: client.Error{Status: 403, Code: "policy_denied", Message: "no rule allows this request"}},
		{name: "rate limited", opts: []clienttest.Option{clienttest.WithRateLimit(1)}, profile: "prod-denied", wantHits: 2,
			before: func(s *clienttest.Server) {
				c, _ := s.NewClient(clienttest.Alice)
				c.Credentials(context.Background(), client.CredentialsRequest{Profile: "prod-denied"}, "")
			},
			want: client.Error{Status: 429, Code: "rate_limited", Message: "too many requests; retry later", RetryAfter: time.Second}},
		{name: "STS down, POST not retried", profile: "dev-readonly", wantHits: 1,
			before: func(s *clienttest.Server) { s.STS.Fail(errors.New("ThrottlingException: Rate exceeded")) },
			want:   client.Error{Status: 503, Code: "unavailable", Message: "credentials could not be issued; try again later"}},
		{name: "unknown caller", profile: "dev-readonly", wantHits: 0,
			id:   clienttest.Caller{Credentials: aws.Credentials{AccessKeyID: "AKIAUNKNOWN000000000", SecretAccessKey: "x"}},
			want: client.Error{Status: 403, Code: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}},
		{name: "wrong secret", profile: "dev-readonly", wantHits: 0,
			id: clienttest.Caller{Credentials: aws.Credentials{AccessKeyID: clienttest.Bob.Credentials.AccessKeyID, SecretAccessKey: "wrong"}},
			want: client.Error{Status: 403, Code: "InvalidSignatureException",
				Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}},
		{name: "wrong region", profile: "dev-readonly", wantHits: 0, clientOpts: []client.Option{client.WithRegion("eu-west-1")},
			want: client.Error{Status: 403, Code: "InvalidSignatureException", Message: "Credential should be scoped to a valid region, not 'eu-west-1'."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := clienttest.NewServer(t, tc.opts...)
			if tc.id.Credentials.AccessKeyID == "" {
				tc.id = clienttest.Alice
			}
			if tc.before != nil {
				tc.before(srv)
			}
			c := srv.Client(t, tc.id, tc.clientOpts...)
			resp, err := c.Credentials(context.Background(), client.CredentialsRequest{Profile: tc.profile}, client.FormatCredentialProcess)
			if resp != nil {
				t.Fatalf("credentials despite the error: %+v", resp.Credentials.AccessKeyID)
			}
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *client.Error", err, err)
			}
			if e.Status != tc.want.Status || e.Code != tc.want.Code || !strings.HasPrefix(e.Message, tc.want.Message) {
				t.Errorf("got %d %s %q\nwant %d %s %q", e.Status, e.Code, e.Message, tc.want.Status, tc.want.Code, tc.want.Message)
			}
			if tc.want.Code == "rate_limited" && (e.RetryAfter < time.Second || e.RetryAfter > time.Minute) {
				t.Errorf("RetryAfter = %s", e.RetryAfter)
			}
			if e.RequestID == "" {
				t.Error("no request ID")
			}
			if (tc.want.Code == "approval_required") != hex32.MatchString(e.ApprovalID) {
				t.Errorf("ApprovalID = %q", e.ApprovalID)
			}
			if !strings.HasPrefix(e.Error(), e.Code+": "+e.Message+" (request ") {
				t.Errorf("Error() = %q", e.Error())
			}
			if !client.IsCode(err, tc.want.Code) {
				t.Errorf("IsCode(err, %q) = false", tc.want.Code)
			}
			if got := srv.Hits("POST /v1/credentials"); got != tc.wantHits {
				t.Errorf("%d backend hits, want %d", got, tc.wantHits)
			}
		})
	}
}

// TestRetries: only GETs are retried, only on 5xx and network errors.
func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		call     func(*client.Client) error
		statuses []int // answers in turn; the last one repeats
		wantErr  string
		wantHits int
	}{
		{"GET 503 then 200", health, []int{503, 502, 200}, "", 3},
		{"GET 503 always", health, []int{503}, "unavailable: down (request r-1)", 3},
		{"GET 404 not retried", health, []int{404, 200}, "not_found: down (request r-1)", 1},
		{"GET 429 not retried", health, []int{429, 200}, "rate_limited: down (request r-1)", 1},
		{"POST 503 not retried", func(c *client.Client) error {
			_, err := c.Revoke(context.Background(), "s1", client.RevokeRequest{Reason: "x"})
			return err
		}, []int{503, 200}, "unavailable: down (request r-1)", 1},
	}
	codes := map[int]string{404: "not_found", 429: "rate_limited", 502: "unavailable", 503: "unavailable"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(hits.Add(1))
				status := tc.statuses[min(n, len(tc.statuses))-1]
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				if status == 200 {
					w.Write([]byte(`{"status":"ok","policy_sha256":"abc","version":"v","session_id":"s1","enforcement":"session_tag"}`))
					return
				}
				w.Write([]byte(`{"error":{"code":"` + codes[status] + `","message":"down","request_id":"r-1"}}`))
			}))
			defer srv.Close()
			c, err := client.New(srv.URL, client.WithRegion("us-east-1"), client.WithRetryBackoff(time.Millisecond),
				client.WithCredentials(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
					return aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"}, nil
				})))
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call(c)
			if got := errString(err); got != tc.wantErr {
				t.Errorf("err = %q, want %q", got, tc.wantErr)
			}
			if got := int(hits.Load()); got != tc.wantHits {
				t.Errorf("%d requests, want %d", got, tc.wantHits)
			}
		})
	}
}

func health(c *client.Client) error { _, err := c.Health(context.Background()); return err }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestNetworkErrorRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close() // nothing listens there any more
	var signs atomic.Int64
	c, err := client.New(u, client.WithRegion("us-east-1"), client.WithRetryBackoff(time.Millisecond),
		client.WithCredentials(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			signs.Add(1)
			return aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"}, nil
		})))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Profiles(context.Background())
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v", err)
	}
	if signs.Load() != 1 { // cached by the client's CredentialsCache
		t.Errorf("credentials retrieved %d times, want 1 (cached)", signs.Load())
	}
}

func TestRoutes(t *testing.T) {
	srv := clienttest.NewServer(t)
	alice := srv.Client(t, clienttest.Alice)
	ctx := context.Background()

	profiles, err := alice.Profiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range profiles {
		names = append(names, p.Name+"="+p.Access)
	}
	if got := strings.Join(names, " "); got != "dev-readonly=allow prod-admin=require_approval" {
		t.Errorf("profiles = %s", got)
	}

	_, err = alice.Credentials(ctx, client.CredentialsRequest{Profile: "prod-admin"}, "")
	var e *client.Error
	if !errors.As(err, &e) || e.ApprovalID == "" {
		t.Fatalf("err = %v", err)
	}
	a, err := alice.GetApproval(ctx, e.ApprovalID)
	if err != nil {
		t.Fatal(err)
	}
	if a.ApprovalID != e.ApprovalID || a.Status != client.ApprovalPending || a.Profile != "prod-admin" || a.Decided() {
		t.Errorf("approval = %+v", a)
	}
	srv.Decide(t, e.ApprovalID, true)
	if a, err = alice.GetApproval(ctx, e.ApprovalID); err != nil || a.Status != client.ApprovalApproved || len(a.Decisions) != 1 || a.Decisions[0].Decision != "approve" {
		t.Fatalf("approval = %+v, %v", a, err)
	}
	resp, err := alice.Credentials(ctx, client.CredentialsRequest{Profile: "prod-admin", ApprovalID: e.ApprovalID}, "")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Decision.Via != "approval" || resp.DurationSeconds != 900 {
		t.Errorf("vend = %+v", resp)
	}
	if _, err := alice.GetApproval(ctx, "0123456789abcdef0123456789abcdef"); !client.IsCode(err, client.CodeNotFound) {
		t.Errorf("unknown approval: %v", err)
	}
}

// TestRequests checks each method's method, path, query, body and headers
// on the wire.
func TestRequests(t *testing.T) {
	type seen struct{ method, path, query, body, idem, ct string }
	var got seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 1024)
		n, _ := r.Body.Read(b)
		got = seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, string(b[:n]), r.Header.Get("Idempotency-Key"), r.Header.Get("Content-Type")}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIA/") ||
			!strings.Contains(r.Header.Get("Authorization"), "/us-west-2/execute-api/aws4_request") {
			t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c, err := client.New(srv.URL+"/prod/", client.WithRegion("us-west-2"),
		client.WithCredentials(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"}, nil
		})))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := client.WithIdempotencyKey("k-1")
	tests := []struct {
		name string
		call func() error
		want seen
	}{
		{"CreateApproval", func() error {
			_, err := c.CreateApproval(ctx, client.CreateApprovalRequest{Profile: "p", Justification: "j"}, key)
			return err
		}, seen{"POST", "/prod/v1/approvals", "", `{"profile":"p","justification":"j"}`, "k-1", "application/json"}},
		{"ListApprovals", func() error { _, err := c.ListApprovals(ctx, "pending"); return err },
			seen{"GET", "/prod/v1/approvals", "status=pending", "", "", ""}},
		{"GetApproval escapes", func() error { _, err := c.GetApproval(ctx, "a/b"); return err },
			seen{"GET", "/prod/v1/approvals/a%2Fb", "", "", "", ""}},
		{"Approve", func() error { _, err := c.Approve(ctx, "a1", "ok", key); return err },
			seen{"POST", "/prod/v1/approvals/a1/approve", "", `{"comment":"ok"}`, "k-1", "application/json"}},
		{"Deny", func() error { _, err := c.Deny(ctx, "a1", ""); return err },
			seen{"POST", "/prod/v1/approvals/a1/deny", "", `{}`, "", "application/json"}},
		{"Cancel", func() error { _, err := c.Cancel(ctx, "a1", ""); return err },
			seen{"POST", "/prod/v1/approvals/a1/cancel", "", `{}`, "", "application/json"}},
		{"OpenBreakGlass", func() error {
			_, err := c.OpenBreakGlass(ctx, client.BreakGlassRequest{Profile: "p", ReasonCode: "incident", Justification: "j", DurationSeconds: 900}, key)
			return err
		}, seen{"POST", "/prod/v1/break-glass", "", `{"profile":"p","reason_code":"incident","justification":"j","duration_seconds":900}`, "k-1", "application/json"}},
		{"ListBreakGlass", func() error { _, err := c.ListBreakGlass(ctx, true); return err },
			seen{"GET", "/prod/v1/break-glass", "active=true", "", "", ""}},
		{"CloseBreakGlass", func() error { _, err := c.CloseBreakGlass(ctx, "e1", "done"); return err },
			seen{"POST", "/prod/v1/break-glass/e1/close", "", `{"comment":"done"}`, "", "application/json"}},
		{"ListSessions", func() error {
			_, err := c.ListSessions(ctx, client.SessionFilter{Profile: "p", Principal: "arn:x", ActiveOnly: true})
			return err
		}, seen{"GET", "/prod/v1/sessions", "active=true&principal=arn%3Ax&profile=p", "", "", ""}},
		{"GetSession", func() error { _, err := c.GetSession(ctx, "s1"); return err },
			seen{"GET", "/prod/v1/sessions/s1", "", "", "", ""}},
		{"Revoke", func() error {
			_, err := c.Revoke(ctx, "s1", client.RevokeRequest{Reason: "r", BlockMinutes: 5}, key)
			return err
		}, seen{"POST", "/prod/v1/sessions/s1/revoke", "", `{"reason":"r","block_minutes":5}`, "k-1", "application/json"}},
		{"Profiles", func() error { _, err := c.Profiles(ctx); return err }, seen{"GET", "/prod/v1/profiles", "", "", "", ""}},
		{"Health", func() error { _, err := c.Health(ctx); return err }, seen{"GET", "/prod/v1/health", "", "", "", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got = seen{}
			if err := tc.call(); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	static := client.WithCredentials(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return aws.Credentials{}, nil }))
	tests := []struct {
		name       string
		url        string
		opts       []client.Option
		wantRegion string
		wantErr    string
	}{
		{"region from host", "https://abc123.execute-api.eu-west-1.amazonaws.com/v1", []client.Option{static}, "eu-west-1", ""},
		{"option wins", "https://abc123.execute-api.eu-west-1.amazonaws.com/v1", []client.Option{static, client.WithRegion("us-east-2")}, "us-east-2", ""},
		{"local", "http://127.0.0.1:8080", []client.Option{static, client.WithRegion("us-east-1")}, "us-east-1", ""},
		{"ftp", "ftp://x", []client.Option{static}, "", `client: URL "ftp://x" is not an http(s) URL without credentials, query or fragment`},
		{"query", "https://x/?a=b", []client.Option{static}, "", `client: URL "https://x/?a=b" is not an http(s) URL without credentials, query or fragment`},
		{"userinfo", "https://u:p@x/", []client.Option{static}, "", `client: URL "https://u:p@x/" is not an http(s) URL without credentials, query or fragment`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.New(tc.url, tc.opts...)
			if got := errString(err); got != tc.wantErr {
				t.Fatalf("err = %q, want %q", got, tc.wantErr)
			}
			if err == nil && c.Region() != tc.wantRegion {
				t.Errorf("region = %q, want %q", c.Region(), tc.wantRegion)
			}
		})
	}
}

// TestNewDefaultChain: without options the client signs with the default
// chain's credentials and region (here a shared-config profile).
func TestNewDefaultChain(t *testing.T) {
	dir := t.TempDir()
	cfgFile, credFile := dir+"/config", dir+"/credentials"
	writeFile(t, cfgFile, "[profile alice]\nregion = us-east-1\n[profile noregion]\n")
	writeFile(t, credFile, "[alice]\naws_access_key_id = "+clienttest.Alice.Credentials.AccessKeyID+
		"\naws_secret_access_key = "+clienttest.Alice.Credentials.SecretAccessKey+
		"\naws_session_token = "+clienttest.Alice.Credentials.SessionToken+"\n[noregion]\naws_access_key_id = A\naws_secret_access_key = B\n")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credFile)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	srv := clienttest.NewServer(t)
	c, err := client.New(srv.URL, client.WithSourceProfile("alice"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Region() != "us-east-1" {
		t.Errorf("region = %q", c.Region())
	}
	if _, err := c.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = client.New(srv.URL, client.WithSourceProfile("noregion"))
	if want := "client: no region to sign for: the URL " + srv.URL + " does not name one; set a region (AWS_REGION or --region)"; errString(err) != want {
		t.Errorf("err = %q\nwant  %q", errString(err), want)
	}
	u, _ := url.Parse(srv.URL)
	if client.RegionFromURL(u) != "" {
		t.Error("a local URL has no region")
	}
}

func TestProviderWithSDK(t *testing.T) {
	srv := clienttest.NewServer(t)
	c := srv.Client(t, clienttest.Alice)
	cache := aws.NewCredentialsCache(client.Provider{Client: c, Profile: "dev-readonly", Duration: 45 * time.Minute})
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"), config.WithCredentialsProvider(cache))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		creds, err := cfg.Credentials.Retrieve(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if creds.AccessKeyID != testutil.AccessKeyID(1) || !creds.CanExpire || time.Until(creds.Expires) < 44*time.Minute {
			t.Errorf("creds = %s expires %s", creds.AccessKeyID, creds.Expires)
		}
	}
	if n := srv.STS.Calls(); n != 1 {
		t.Errorf("%d vends, want 1 (cached)", n)
	}
	_, err = aws.NewCredentialsCache(client.Provider{Client: c, Profile: "prod-denied"}).Retrieve(context.Background())
	if !client.IsCode(err, client.CodePolicyDenied) {
		t.Errorf("denied profile: %v", err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestApprovalFlow runs an approval through the service's own routes: the
// requester is refused, an approver approves, the requester vends once.
func TestApprovalFlow(t *testing.T) {
	srv := clienttest.NewServer(t)
	if srv.StandInApprovals {
		t.Skip("the service has no approval routes")
	}
	ctx := context.Background()
	alice, bob := srv.Client(t, clienttest.Alice), srv.Client(t, clienttest.Bob)
	_, err := alice.Credentials(ctx, client.CredentialsRequest{Profile: "prod-admin", Justification: "deploy"}, "")
	var e *client.Error
	if !errors.As(err, &e) || e.Code != client.CodeApprovalRequired {
		t.Fatalf("err = %v", err)
	}
	pending, err := bob.ListApprovals(ctx, client.ApprovalPending)
	if err != nil || len(pending) != 1 || pending[0].ApprovalID != e.ApprovalID {
		t.Fatalf("pending = %+v, %v", pending, err)
	}
	if _, err := alice.Approve(ctx, e.ApprovalID, "mine"); !client.IsCode(err, client.CodeForbidden) {
		t.Errorf("self-approval: %v", err)
	}
	a, err := bob.Approve(ctx, e.ApprovalID, "ok", client.WithIdempotencyKey("approve-1"))
	if err != nil || a.Status != client.ApprovalApproved {
		t.Fatalf("approve = %+v, %v", a, err)
	}
	if again, err := bob.Approve(ctx, e.ApprovalID, "ok", client.WithIdempotencyKey("approve-1")); err != nil || again.Status != client.ApprovalApproved {
		t.Errorf("repeated with the same key: %+v, %v", again, err)
	}
	resp, err := alice.Credentials(ctx, client.CredentialsRequest{Profile: "prod-admin", ApprovalID: e.ApprovalID}, client.FormatNative)
	if err != nil || resp.Decision.Via != "approval" {
		t.Fatalf("vend = %+v, %v", resp, err)
	}
	if a, err := alice.GetApproval(ctx, e.ApprovalID); err != nil || a.Status != client.ApprovalUsed || a.SessionID != resp.SessionID {
		t.Errorf("approval after use = %+v, %v", a, err)
	}
	if _, err := bob.Deny(ctx, e.ApprovalID, "late"); !client.IsCode(err, client.CodeConflict) {
		t.Errorf("deny after use: %v", err)
	}
	sessions, err := alice.ListSessions(ctx, client.SessionFilter{ActiveOnly: true})
	if err != nil || len(sessions) != 1 || sessions[0].SessionID != resp.SessionID || sessions[0].Via != "approval" {
		t.Fatalf("sessions = %+v, %v", sessions, err)
	}
	if s, err := alice.GetSession(ctx, resp.SessionID); err != nil || s.Profile != "prod-admin" || s.Status != "active" {
		t.Errorf("session = %+v, %v", s, err)
	}
}

func TestModeHeader(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get(client.ClientHeader))
		w.Write([]byte(`{"status":"ok","policy_sha256":"x","version":"v"}`))
	}))
	defer srv.Close()
	creds := client.WithCredentials(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"}, nil
	}))
	for _, mode := range []string{"", client.ModeExec, client.ModeCredentialProcess} {
		opts := []client.Option{client.WithRegion("us-west-2"), creds}
		if mode != "" {
			opts = append(opts, client.WithMode(mode))
		}
		c, err := client.New(srv.URL, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := health(c); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"sdk", "exec", "credential_process"}; !slices.Equal(got, want) {
		t.Errorf("%s sent: %v, want %v", client.ClientHeader, got, want)
	}
	_, err := client.New(srv.URL, client.WithRegion("us-west-2"), creds, client.WithMode("curl"))
	if err == nil || !strings.Contains(err.Error(), `mode "curl" is not one of credential_process, agent, exec, sdk, console, other`) {
		t.Fatalf("a bad mode: %v", err)
	}
}
