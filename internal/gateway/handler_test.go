package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var testRoutes = []string{
	"/v1/credentials", // ANY
	"GET /v1/profiles",
	"GET /v1/sessions",
	"/v1/sessions/{id}",
	"POST /v1/sessions/{id}/revoke",
	"GET /v1/approvals/pending",
	"GET /v1/approvals/{id}",
	"GET /v1/files/{path+}",
}

const testRequestID = "c6af9ac6-7b61-41e6-9a41-93e8deadbeef"

// fakeBackend records its calls and answers with resp or err.
type fakeBackend struct {
	calls int
	ev    events.APIGatewayProxyRequest
	resp  events.APIGatewayProxyResponse
	err   error
}

func (b *fakeBackend) invoke(_ context.Context, raw json.RawMessage) (events.APIGatewayProxyResponse, error) {
	b.calls++
	b.ev = events.APIGatewayProxyRequest{}
	if err := json.Unmarshal(raw, &b.ev); err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return b.resp, b.err
}

func newTestHandler(t testing.TB, b *fakeBackend, logs io.Writer) *Handler {
	t.Helper()
	if reflect.ValueOf(b.resp).IsZero() && b.err == nil {
		b.resp = events.APIGatewayProxyResponse{StatusCode: 200, Body: `{"ok":true}`}
	}
	if logs == nil {
		logs = io.Discard
	}
	h, err := NewHandler(Config{
		Verifier:  testVerifier(),
		Backend:   b.invoke,
		Routes:    testRoutes,
		AccountID: "111122223333",
		APIID:     "a1b2c3d4e5",
		Logger:    slog.New(slog.NewJSONHandler(logs, nil)),
		Now:       func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.newID = func() string { return testRequestID }
	return h
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestHandlerRejects runs every failing verification case through the
// gateway: 403 with API Gateway's body, and the backend is never called.
func TestHandlerRejects(t *testing.T) {
	for _, tc := range authCases() {
		if tc.wantCode == "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			b := &fakeBackend{}
			r := tc.req(t)
			w := serve(newTestHandler(t, b, &logs), r)

			want, _ := json.Marshal(map[string]string{"message": tc.wantMsg})
			if w.Code != http.StatusForbidden || w.Body.String() != string(want) {
				t.Errorf("got %d %s, want 403 %s", w.Code, w.Body, want)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if id := w.Header().Get("X-Amzn-Requestid"); id != testRequestID {
				t.Errorf("x-amzn-RequestId = %q", id)
			}
			if b.calls != 0 {
				t.Errorf("backend called %d times", b.calls)
			}
			_, sig, _ := strings.Cut(r.Header.Get("Authorization"), "Signature=")
			for _, secret := range []string{longSecret, tempSecret, tempToken, sig} {
				if len(secret) > 8 && strings.Contains(logs.String(), secret) {
					t.Errorf("log leaks %q: %s", secret, logs.String())
				}
			}
			if !strings.Contains(logs.String(), `"auth_code":"`+tc.wantCode+`"`) {
				t.Errorf("log lacks auth_code %s: %s", tc.wantCode, logs.String())
			}
		})
	}
}

func TestHandlerEvent(t *testing.T) {
	b := &fakeBackend{}
	h := newTestHandler(t, b, nil)
	body := `{"profile":"prod-admin"}`
	r := signed(t, req{
		method: http.MethodPost, target: "http://tvm.local:8080/v1/credentials?format=native&tag=a&tag=b", body: body,
		header: map[string]string{"Content-Type": "application/json", "X-Forwarded-For": "10.0.0.1"},
	})
	r.RemoteAddr = "203.0.113.9:41234"
	auth, date := r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date")

	w := serve(h, r)
	if w.Code != 200 || w.Body.String() != `{"ok":true}` {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}

	sum := sha256.Sum256([]byte("/v1/credentials"))
	want := events.APIGatewayProxyRequest{
		Resource:   "/v1/credentials",
		Path:       "/v1/credentials",
		HTTPMethod: "POST",
		Headers: map[string]string{
			"Authorization": auth, "Content-Type": "application/json", "Host": "tvm.local:8080",
			"User-Agent": "sentinel-tvm-test/1.0", "X-Amz-Date": date, "X-Amz-Security-Token": tempToken,
			"X-Forwarded-For": "10.0.0.1, 203.0.113.9", "X-Forwarded-Port": "80", "X-Forwarded-Proto": "http",
		},
		MultiValueHeaders: map[string][]string{
			"Authorization": {auth}, "Content-Type": {"application/json"}, "Host": {"tvm.local:8080"},
			"User-Agent": {"sentinel-tvm-test/1.0"}, "X-Amz-Date": {date}, "X-Amz-Security-Token": {tempToken},
			"X-Forwarded-For": {"10.0.0.1, 203.0.113.9"}, "X-Forwarded-Port": {"80"}, "X-Forwarded-Proto": {"http"},
		},
		QueryStringParameters:           map[string]string{"format": "native", "tag": "b"},
		MultiValueQueryStringParameters: map[string][]string{"format": {"native"}, "tag": {"a", "b"}},
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:         "111122223333",
			ResourceID:        hex.EncodeToString(sum[:])[:6],
			Stage:             "v1",
			DomainName:        "tvm.local:8080",
			DomainPrefix:      "tvm",
			RequestID:         testRequestID,
			ExtendedRequestID: b.ev.RequestContext.ExtendedRequestID, // random; checked below
			Protocol:          "HTTP/1.1",
			Identity: events.APIGatewayRequestIdentity{
				AccountID: "444455556666",
				Caller:    "AROAEXAMPLE:alice",
				AccessKey: tempKey,
				SourceIP:  "203.0.113.9",
				UserArn:   "arn:aws:sts::444455556666:assumed-role/developer/alice",
				UserAgent: "sentinel-tvm-test/1.0",
				User:      "AROAEXAMPLE:alice",
			},
			ResourcePath:     "/v1/credentials",
			Path:             "/v1/credentials",
			HTTPMethod:       "POST",
			RequestTime:      "04/Mar/2024:19:15:17 +0000",
			RequestTimeEpoch: 1709579717000,
			APIID:            "a1b2c3d4e5",
		},
		Body: body,
	}
	if !reflect.DeepEqual(b.ev, want) {
		got, _ := json.MarshalIndent(b.ev, "", " ")
		exp, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("event:\n%s\nwant:\n%s", got, exp)
	}
	if id := b.ev.RequestContext.ExtendedRequestID; len(id) != 16 {
		t.Errorf("extendedRequestId = %q, want 16 base64 characters", id)
	}
}

func TestHandlerPathParameters(t *testing.T) {
	tests := []struct {
		name, method, target string
		wantResource         string
		wantParams           map[string]string
	}{
		{"literal beats parameter", "GET", "/v1/approvals/pending", "/v1/approvals/pending", nil},
		{"parameter", "GET", "/v1/approvals/ap-1", "/v1/approvals/{id}", map[string]string{"id": "ap-1"}},
		{"escaped parameter", "GET", "/v1/sessions/a%20b%2Fc", "/v1/sessions/{id}", map[string]string{"id": "a b/c"}},
		{"nested", "POST", "/v1/sessions/s-1/revoke", "/v1/sessions/{id}/revoke", map[string]string{"id": "s-1"}},
		{"greedy", "GET", "/v1/files/a/b/c.txt", "/v1/files/{path+}", map[string]string{"path": "a/b/c.txt"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBackend{}
			w := serve(newTestHandler(t, b, nil), signed(t, req{method: tc.method, target: "http://tvm.local" + tc.target}))
			if w.Code != 200 {
				t.Fatalf("status %d %s", w.Code, w.Body)
			}
			if b.ev.Resource != tc.wantResource || b.ev.RequestContext.ResourcePath != tc.wantResource || !reflect.DeepEqual(b.ev.PathParameters, tc.wantParams) {
				t.Errorf("resource %q %q params %v, want %q %v", b.ev.Resource, b.ev.RequestContext.ResourcePath, b.ev.PathParameters, tc.wantResource, tc.wantParams)
			}
		})
	}
}

func TestHandlerGatewayErrors(t *testing.T) {
	tests := []struct {
		name       string
		req        func(t testing.TB) *http.Request
		backend    fakeBackend
		wantStatus int
		wantBody   string
		wantCalls  int
	}{
		{name: "unknown path, unsigned", req: func(t testing.TB) *http.Request { return httptest.NewRequest("GET", "/v2/nothing", nil) },
			wantStatus: 403, wantBody: `{"message":"Missing Authentication Token"}`},
		{name: "unknown path, signed", req: func(t testing.TB) *http.Request { return signed(t, req{target: "http://tvm.local/v1/nothing"}) },
			wantStatus: 403, wantBody: `{"message":"Missing Authentication Token"}`},
		{name: "known resource, method not defined", req: func(t testing.TB) *http.Request {
			return signed(t, req{method: "POST", target: "http://tvm.local/v1/profiles"})
		}, wantStatus: 403, wantBody: `{"message":"Missing Authentication Token"}`},
		{name: "trailing slash", req: func(t testing.TB) *http.Request { return signed(t, req{target: "http://tvm.local/v1/profiles/"}) },
			wantStatus: 403, wantBody: `{"message":"Missing Authentication Token"}`},
		{name: "body too large", req: func(t testing.TB) *http.Request {
			return signed(t, req{method: "POST", target: "http://tvm.local/v1/credentials", body: strings.Repeat("x", DefaultMaxBodyBytes+1)})
		}, wantStatus: 413, wantBody: `{"message":"HTTP content length exceeded 65536 bytes."}`},
		{name: "backend error", req: func(t testing.TB) *http.Request { return signed(t, req{target: "http://tvm.local/v1/profiles"}) },
			backend: fakeBackend{err: errors.New("boom")}, wantStatus: 502, wantBody: `{"message":"Internal server error"}`, wantCalls: 1},
		{name: "backend status 0", req: func(t testing.TB) *http.Request { return signed(t, req{target: "http://tvm.local/v1/profiles"}) },
			backend: fakeBackend{resp: events.APIGatewayProxyResponse{Body: "x"}}, wantStatus: 502, wantBody: `{"message":"Internal server error"}`, wantCalls: 1},
		{name: "backend bad base64", req: func(t testing.TB) *http.Request { return signed(t, req{target: "http://tvm.local/v1/profiles"}) },
			backend: fakeBackend{resp: events.APIGatewayProxyResponse{StatusCode: 200, Body: "!!", IsBase64Encoded: true}}, wantStatus: 502, wantBody: `{"message":"Internal server error"}`, wantCalls: 1},
		{name: "backend status out of range", req: func(t testing.TB) *http.Request { return signed(t, req{target: "http://tvm.local/v1/profiles"}) },
			backend: fakeBackend{resp: events.APIGatewayProxyResponse{StatusCode: 1000}}, wantStatus: 502, wantBody: `{"message":"Internal server error"}`, wantCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.backend
			w := serve(newTestHandler(t, &b, nil), tc.req(t))
			if w.Code != tc.wantStatus || w.Body.String() != tc.wantBody || b.calls != tc.wantCalls {
				t.Errorf("got %d %s (%d calls), want %d %s (%d calls)", w.Code, w.Body, b.calls, tc.wantStatus, tc.wantBody, tc.wantCalls)
			}
		})
	}
}

func TestHandlerResponse(t *testing.T) {
	tests := []struct {
		name       string
		resp       events.APIGatewayProxyResponse
		wantHeader http.Header
		wantBody   string
	}{
		{
			name: "headers merged, base64 body",
			resp: events.APIGatewayProxyResponse{
				StatusCode:        201,
				Headers:           map[string]string{"Content-Type": "application/json", "X-One": "1", "X-Both": "s"},
				MultiValueHeaders: map[string][]string{"X-Many": {"a", "b"}, "X-One": {"1"}, "X-Both": {"m"}},
				Body:              "eyJvayI6dHJ1ZX0=",
				IsBase64Encoded:   true,
			},
			wantHeader: http.Header{"Content-Type": {"application/json"}, "X-One": {"1"}, "X-Many": {"a", "b"}, "X-Both": {"m", "s"}, "X-Amzn-Requestid": {testRequestID}},
			wantBody:   `{"ok":true}`,
		},
		{
			name:       "default content type",
			resp:       events.APIGatewayProxyResponse{StatusCode: 429, Headers: map[string]string{"Retry-After": "3"}, Body: `{"error":{}}`},
			wantHeader: http.Header{"Content-Type": {"application/json"}, "Retry-After": {"3"}, "X-Amzn-Requestid": {testRequestID}},
			wantBody:   `{"error":{}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBackend{resp: tc.resp}
			w := serve(newTestHandler(t, b, nil), signed(t, req{target: "http://tvm.local/v1/profiles"}))
			if w.Code != tc.resp.StatusCode || w.Body.String() != tc.wantBody || !reflect.DeepEqual(w.Header(), tc.wantHeader) {
				t.Errorf("got %d %v %s, want %d %v %s", w.Code, w.Header(), w.Body, tc.resp.StatusCode, tc.wantHeader, tc.wantBody)
			}
		})
	}
}

func TestNewHandlerErrors(t *testing.T) {
	b := &fakeBackend{}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no verifier", Config{Backend: b.invoke}, "gateway: Verifier and Backend are required"},
		{"no backend", Config{Verifier: testVerifier()}, "gateway: Verifier and Backend are required"},
		{"relative path", Config{Verifier: testVerifier(), Backend: b.invoke, Routes: []string{"GET v1/x"}}, `gateway: route "GET v1/x": path must start with /`},
		{"empty segment", Config{Verifier: testVerifier(), Backend: b.invoke, Routes: []string{"/v1//x"}}, `gateway: route "/v1//x": empty segment`},
		{"bad parameter", Config{Verifier: testVerifier(), Backend: b.invoke, Routes: []string{"/v1/{id"}}, `gateway: route "/v1/{id": bad parameter "{id"`},
		{"greedy not last", Config{Verifier: testVerifier(), Backend: b.invoke, Routes: []string{"/v1/{p+}/x"}}, `gateway: route "/v1/{p+}/x": greedy parameter must be last`},
		{"brace inside literal", Config{Verifier: testVerifier(), Backend: b.invoke, Routes: []string{"/v1/a{b}"}}, `gateway: route "/v1/a{b}": bad segment "a{b}"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewHandler(tc.cfg)
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestHandlerRoundTrip signs real HTTP requests with the SDK against an
// httptest server: the gateway must see what the client signed on the wire.
func TestHandlerRoundTrip(t *testing.T) {
	b := &fakeBackend{}
	h := newTestHandler(t, b, nil)
	h.cfg.Verifier.Now = time.Now
	h.cfg.Now = time.Now
	srv := httptest.NewServer(h)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	tests := []struct {
		name, method, path, body string
		wantResource             string
	}{
		{"GET with query", "GET", "/v1/sessions/s-1?active=true&profile=a%20b", "", "/v1/sessions/{id}"},
		{"POST with body", "POST", "/v1/credentials?format=credential_process", `{"profile":"dev"}`, "/v1/credentials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.body == "" {
				r.Body, r.ContentLength = http.NoBody, 0
			}
			if err := v4.NewSigner().SignHTTP(context.Background(), tempCreds, r, hashHex(tc.body), "execute-api", testRegion, time.Now()); err != nil {
				t.Fatal(err)
			}
			r.Header.Set("X-Forwarded-For", "6.6.6.6") // unsigned and never trusted
			resp, err := srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(got) != `{"ok":true}` {
				t.Fatalf("got %d %s", resp.StatusCode, got)
			}
			id := b.ev.RequestContext.Identity
			if b.ev.Resource != tc.wantResource || b.ev.Body != tc.body || id.SourceIP != "127.0.0.1" || id.UserArn != alice.UserARN ||
				b.ev.Headers["X-Forwarded-For"] != "6.6.6.6, 127.0.0.1" || b.ev.Headers["X-Forwarded-Port"] != port {
				t.Errorf("event: resource %q body %q sourceIp %q userArn %q headers %v", b.ev.Resource, b.ev.Body, id.SourceIP, id.UserArn, b.ev.Headers)
			}
		})
	}
}
