package console

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/client"
)

// fakeAPI answers like the service for one pending approval and records
// the calls that change state.
type fakeAPI struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeAPI) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeAPI) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

var pending = client.Approval{ApprovalID: "AP1", Status: "pending", Profile: "prod-admin",
	Requester: "arn:aws:iam::111122223333:role/sre-platform", Rule: "r", Justification: "<script>alert(1)</script>",
	DurationSeconds: 1800, CreatedAt: time.Now().Add(-5 * time.Minute), ExpiresAt: time.Now().Add(time.Hour)}

func (f *fakeAPI) Profiles(context.Context) ([]client.Profile, error) {
	return []client.Profile{{Name: "prod-db", Access: "break_glass", Rule: "bg", ReasonCodes: []string{"incident"}, MinJustificationLength: 20}}, nil
}
func (f *fakeAPI) ListApprovals(context.Context, string) ([]client.Approval, error) {
	return []client.Approval{pending}, nil
}
func (f *fakeAPI) CreateApproval(_ context.Context, r client.CreateApprovalRequest, _ ...client.CallOption) (*client.Approval, error) {
	f.record("create " + r.Profile)
	return &pending, nil
}
func (f *fakeAPI) Approve(_ context.Context, id, comment string, _ ...client.CallOption) (*client.Approval, error) {
	f.record("approve " + id + " " + comment)
	a := pending
	a.Status = "approved"
	return &a, nil
}
func (f *fakeAPI) Deny(_ context.Context, id, comment string, _ ...client.CallOption) (*client.Approval, error) {
	f.record("deny " + id)
	return nil, &client.Error{Status: 403, Code: "forbidden", Message: "nobody approves or denies their own request", RequestID: "rid-1"}
}
func (f *fakeAPI) Cancel(_ context.Context, id, _ string, _ ...client.CallOption) (*client.Approval, error) {
	f.record("cancel " + id)
	return &pending, nil
}
func (f *fakeAPI) ListSessions(context.Context, client.SessionFilter) ([]client.Session, error) {
	return nil, nil
}
func (f *fakeAPI) GetSession(_ context.Context, id string) (*client.Session, error) {
	return nil, &client.Error{Status: 404, Code: "not_found", Message: "no session " + id}
}
func (f *fakeAPI) Revoke(_ context.Context, id string, _ client.RevokeRequest, _ ...client.CallOption) (*client.Revocation, error) {
	f.record("revoke " + id)
	return &client.Revocation{SessionID: id, Status: "revoked", Enforcement: "session_tag"}, nil
}
func (f *fakeAPI) ListBreakGlass(context.Context, bool) ([]client.BreakGlassEvent, error) {
	return nil, nil
}
func (f *fakeAPI) OpenBreakGlass(_ context.Context, r client.BreakGlassRequest, _ ...client.CallOption) (*client.BreakGlassEvent, error) {
	f.record("open " + r.Profile)
	return nil, errors.New("unreachable")
}
func (f *fakeAPI) CloseBreakGlass(_ context.Context, id, _ string, _ ...client.CallOption) (*client.BreakGlassEvent, error) {
	f.record("close " + id)
	return nil, errors.New("unreachable")
}

type harness struct {
	t      *testing.T
	srv    *Server
	api    *fakeAPI
	base   string
	origin string
}

func start(t *testing.T) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	api := &fakeAPI{}
	srv, err := New(Options{API: api, Me: "arn:aws:sts::111122223333:assumed-role/security/eve"}, ln)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	base := "http://" + ln.Addr().String()
	return &harness{t: t, srv: srv, api: api, base: base, origin: base}
}

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// login returns a client holding the session cookie.
func (h *harness) login() *http.Client {
	h.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: noRedirect}
	resp, err := c.Get(h.srv.LoginURL())
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("login: %d", resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == h.srv.CookieName() {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		h.t.Fatalf("session cookie %+v", cookie)
	}
	return c
}

func (h *harness) do(c *http.Client, method, path string, form url.Values, headers ...string) (int, string) {
	h.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, h.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (h *harness) csrf(c *http.Client) string {
	h.t.Helper()
	code, body := h.do(c, "GET", "/approvals", nil)
	m := csrfRE.FindStringSubmatch(body)
	if code != 200 || m == nil {
		h.t.Fatalf("approvals page: %d %s", code, body)
	}
	return m[1]
}

func TestLoginTokenIsOneTime(t *testing.T) {
	h := start(t)
	anon := &http.Client{CheckRedirect: noRedirect}
	for _, path := range []string{"/approvals", "/", "/static/console.css", "/login", "/login?token=wrong"} {
		if code, _ := h.do(anon, "GET", path, nil); code != http.StatusForbidden {
			t.Errorf("GET %s without a session: %d, want 403", path, code)
		}
	}
	c := h.login()
	if code, body := h.do(c, "GET", "/approvals", nil); code != 200 || !strings.Contains(body, "prod-admin") {
		t.Fatalf("after login: %d %s", code, body)
	}
	// The token worked once; another browser cannot use it again.
	u, _ := url.Parse(h.srv.LoginURL())
	if code, _ := h.do(anon, "GET", u.RequestURI(), nil); code != http.StatusForbidden {
		t.Errorf("second use of the login token: %d, want 403", code)
	}
	// A forged cookie is no session.
	forged := &http.Client{CheckRedirect: noRedirect}
	if code, _ := h.do(forged, "GET", "/approvals", nil, "Cookie", h.srv.CookieName()+"=guess"); code != http.StatusForbidden {
		t.Errorf("forged cookie: %d, want 403", code)
	}
}

func TestSecurityHeadersAndEscaping(t *testing.T) {
	h := start(t)
	c := h.login()
	req, _ := http.NewRequest("GET", h.base+"/approvals", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "form-action 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", resp.Header)
	}
	body := string(b)
	if strings.Contains(body, "<script>alert(1)") || !strings.Contains(body, "&lt;script&gt;alert(1)") {
		t.Error("a justification is not escaped")
	}
	// No asset from another origin.
	if m := regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).FindString(body); m != "" {
		t.Errorf("third-party reference %q", m)
	}
}

func TestHostAndOriginChecks(t *testing.T) {
	h := start(t)
	c := h.login()
	token := h.csrf(c)
	form := url.Values{"csrf": {token}, "decision": {"approve"}, "comment": {"ok"}}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(h.base, "http://"))

	// DNS rebinding: the attacker's name resolves to 127.0.0.1.
	if code, _ := h.do(c, "GET", "/approvals", nil, "Host", "evil.example:"+port); code != http.StatusForbidden {
		t.Errorf("foreign Host: %d, want 403", code)
	}
	for _, hdr := range [][]string{
		{},                                // no Origin
		{"Origin", "http://evil.example"}, // another site
		{"Origin", "http://127.0.0.1:1"},  // another local port
		{"Origin", "null"},
		{"Origin", h.origin, "Sec-Fetch-Site", "cross-site"},
		{"Origin", h.origin, "Sec-Fetch-Site", "same-site"},
	} {
		if code, _ := h.do(c, "POST", "/approvals/AP1/decide", form, hdr...); code != http.StatusForbidden {
			t.Errorf("POST with %v: %d, want 403", hdr, code)
		}
	}
	// Missing or wrong CSRF token.
	for _, tok := range []string{"", "wrong"} {
		f := url.Values{"csrf": {tok}, "decision": {"approve"}}
		if code, _ := h.do(c, "POST", "/approvals/AP1/decide", f, "Origin", h.origin); code != http.StatusForbidden {
			t.Errorf("POST with CSRF %q: %d, want 403", tok, code)
		}
	}
	if calls := h.api.Calls(); len(calls) != 0 {
		t.Fatalf("a refused request reached the API: %v", calls)
	}
	// The same request from the console itself goes through.
	code, _ := h.do(c, "POST", "/approvals/AP1/decide", form, "Origin", h.origin, "Sec-Fetch-Site", "same-origin")
	if code != http.StatusSeeOther {
		t.Fatalf("same-origin POST: %d", code)
	}
	if calls := h.api.Calls(); len(calls) != 1 || calls[0] != "approve AP1 ok" {
		t.Fatalf("calls %v", calls)
	}
	if code, _ := h.do(c, "PUT", "/approvals", nil, "Origin", h.origin); code != http.StatusMethodNotAllowed {
		t.Errorf("PUT: %d", code)
	}
}

func TestRefusalIsShown(t *testing.T) {
	h := start(t)
	c := h.login()
	form := url.Values{"csrf": {h.csrf(c)}, "decision": {"deny"}}
	req, _ := http.NewRequest("POST", h.base+"/approvals/AP1/decide", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", h.origin)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	code, body := h.do(c, "GET", loc, nil)
	if code != 200 || !strings.Contains(body, "forbidden") || !strings.Contains(body, "nobody approves or denies their own request") || !strings.Contains(body, "rid-1") {
		t.Fatalf("refusal page %s: %d %s", loc, code, body)
	}
}

func TestBreakGlassChecksBeforeCalling(t *testing.T) {
	h := start(t)
	c := h.login()
	tok := h.csrf(c)
	for _, f := range []url.Values{
		{"csrf": {tok}, "profile": {"prod-db"}, "reason_code": {"curiosity"}, "justification": {strings.Repeat("x", 30)}},
		{"csrf": {tok}, "profile": {"prod-db"}, "reason_code": {"incident"}, "justification": {"   too short          "}},
		{"csrf": {tok}, "profile": {"prod-admin"}, "reason_code": {"incident"}, "justification": {strings.Repeat("x", 30)}},
	} {
		if code, _ := h.do(c, "POST", "/break-glass", f, "Origin", h.origin); code != http.StatusSeeOther {
			t.Fatalf("%v: %d", f, code)
		}
	}
	if calls := h.api.Calls(); len(calls) != 0 {
		t.Fatalf("an invalid break-glass request reached the API: %v", calls)
	}
}

func TestNewRefusesNonLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Skip(err)
	}
	defer ln.Close()
	if _, err := New(Options{API: &fakeAPI{}}, ln); err == nil {
		t.Fatal("New accepted a listener on every interface")
	}
}

func TestParseMe(t *testing.T) {
	for arn, want := range map[string]meInfo{
		"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Security_0123abcd/eve@example.com": {
			principal: "arn:aws:iam::111122223333:role/AWSReservedSSO_Security_0123abcd", session: "eve@example.com"},
		"arn:aws:iam::111122223333:user/alice": {principal: "arn:aws:iam::111122223333:user/alice"},
	} {
		if got, ok := parseMe(arn); !ok || got != want {
			t.Errorf("parseMe(%s) = %+v %v, want %+v", arn, got, ok, want)
		}
	}
	if _, ok := parseMe(""); ok {
		t.Error("an empty identity parsed")
	}
}
