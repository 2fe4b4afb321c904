package client_test

// The Go client against api/openapi.yaml: every method's request
// is a documented operation and validates against it, every documented
// operation has a method, and the client's request and answer types use
// only documented fields (and every required request field).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/sentinel-tvm/sentinel-tvm/client"
	"github.com/sentinel-tvm/sentinel-tvm/internal/apidoc"
	"github.com/sentinel-tvm/sentinel-tvm/internal/clienttest"
)

// validatingProxy sits between the client and the test TVM: it validates
// every request and answer against the document and records the
// operations the client called.
type validatingProxy struct {
	router routers.Router
	next   *httputil.ReverseProxy

	mu       sync.Mutex
	problems []string
	ops      map[string]int      // operationId -> requests
	statuses map[string][]string // operationId -> answers, in order: "200", "403 gateway", ...
	handled  map[string]int      // operationId -> answers from the handler (not the gateway's own)
}

// isGatewayAnswer tells API Gateway's own error answer (the document's
// GatewayError: an object with "message" alone, as internal/gateway writes
// for a failed signature, an unknown route or a body too large) from the
// handler's ({"error": {...}} or a success).
func isGatewayAnswer(body []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil || len(m) != 1 {
		return false
	}
	_, ok := m["message"]
	return ok
}

func (p *validatingProxy) fail(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
}

func (p *validatingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := p.router.FindRoute(r)
	if err != nil {
		p.fail("%s %s: no documented operation: %v", r.Method, r.URL.RequestURI(), err)
		http.Error(w, `{"message":"undocumented"}`, http.StatusForbidden)
		return
	}
	opID := route.Operation.OperationID
	p.mu.Lock()
	p.ops[opID]++
	p.mu.Unlock()
	// SkipSettingDefaults: ValidateRequest would otherwise write the
	// parameters' defaults into the request (?active=false), which then no
	// longer matches its signature.
	opts := &openapi3filter.Options{MultiError: true, SkipSettingDefaults: true, AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=") {
			return errors.New("the request is not SigV4-signed")
		}
		return nil
	}}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		p.fail("%s %s %s: the request does not validate against the document: %v", opID, r.URL.RequestURI(), body, err)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	rec := httptest.NewRecorder()
	p.next.ServeHTTP(rec, r)
	resp := rec.Result()
	respBody := rec.Body.Bytes()
	gatewayAnswer := isGatewayAnswer(respBody)
	p.mu.Lock()
	if gatewayAnswer {
		p.statuses[opID] = append(p.statuses[opID], fmt.Sprintf("%d gateway %s", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype")))
		// Every request here is signed and documented: the gateway has no
		// reason to answer one itself.
		p.problems = append(p.problems, fmt.Sprintf("%s %s: the gateway answered %d %s %s, not the handler",
			opID, r.URL.RequestURI(), resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), respBody))
	} else {
		p.statuses[opID] = append(p.statuses[opID], fmt.Sprint(resp.StatusCode))
		p.handled[opID]++
	}
	p.mu.Unlock()
	if !gatewayAnswer {
		check := httptest.NewRequest(r.Method, r.URL.String(), nil)
		out := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: opts},
			Status:                 resp.StatusCode, Header: resp.Header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		out.SetBodyBytes(respBody)
		if err := openapi3filter.ValidateResponse(r.Context(), out); err != nil {
			p.fail("%s: the answer %d %s does not validate: %v", opID, resp.StatusCode, respBody, err)
		}
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(respBody)
}

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := apidoc.Load("..")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// localMethods are the Client methods that call no API; every other one
// must be called in TestClientMatchesTheDocument.
var localMethods = []string{"URL", "Region", "Mode"}

func TestClientMatchesTheDocument(t *testing.T) {
	doc := loadDoc(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	srv := clienttest.NewServer(t)
	target, _ := url.Parse(srv.URL)
	proxy := &validatingProxy{router: router, ops: map[string]int{}, statuses: map[string][]string{}, handled: map[string]int{}, next: &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // signed
		},
	}}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)
	newClient := func(id clienttest.Caller) *client.Client {
		creds := credentials.NewStaticCredentialsProvider(id.Credentials.AccessKeyID, id.Credentials.SecretAccessKey, id.Credentials.SessionToken)
		c, err := client.New(front.URL, client.WithCredentials(creds), client.WithRegion(clienttest.Region), client.WithRetries(0))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice, bob := newClient(clienttest.Alice), newClient(clienttest.Bob)
	ctx := context.Background()
	unknown := "0123456789abcdef0123456789abcdef"

	// Each call; refusals are fine, the request and answer are what count.
	var approvalID, sessionID string
	calls := map[string]func(){
		"Health":   func() { _, _ = alice.Health(ctx) },
		"Profiles": func() { _, _ = alice.Profiles(ctx) },
		"Credentials": func() {
			for _, f := range []client.Format{"", client.FormatNative, client.FormatCredentialProcess, client.FormatContainer} {
				r, err := alice.Credentials(ctx, client.CredentialsRequest{Profile: "dev-readonly", DurationSeconds: 900, Justification: "test"}, f)
				if err != nil {
					t.Errorf("Credentials %q: %v", f, err)
				} else if r.SessionID != "" {
					sessionID = r.SessionID
				}
			}
			_, err := alice.Credentials(ctx, client.CredentialsRequest{Profile: "prod-admin", Justification: "deploy"}, "")
			var e *client.Error
			if !errors.As(err, &e) || e.ApprovalID == "" {
				t.Fatalf("approval_required: %v", err)
			}
			approvalID = e.ApprovalID
			_, _ = alice.Credentials(ctx, client.CredentialsRequest{Profile: "prod-admin", ApprovalID: approvalID}, client.FormatCredentialProcess)
		},
		"CreateApproval": func() {
			_, _ = alice.CreateApproval(ctx, client.CreateApprovalRequest{Profile: "prod-admin", Justification: "deploy", DurationSeconds: 1800},
				client.WithIdempotencyKey("create-approval-1"))
		},
		"ListApprovals": func() {
			_, _ = bob.ListApprovals(ctx, "")
			_, _ = alice.ListApprovals(ctx, client.ApprovalPending)
		},
		"GetApproval": func() {
			_, _ = alice.GetApproval(ctx, approvalID)
			_, _ = alice.GetApproval(ctx, unknown)
		},
		"Approve": func() { _, _ = bob.Approve(ctx, approvalID, "ok", client.WithIdempotencyKey("approve-1")) },
		"Deny":    func() { _, _ = bob.Deny(ctx, approvalID, "") },
		"Cancel":  func() { _, _ = alice.Cancel(ctx, approvalID, "never mind") },
		"OpenBreakGlass": func() {
			_, _ = alice.OpenBreakGlass(ctx, client.BreakGlassRequest{Profile: "prod-admin", ReasonCode: "incident", Justification: "down", DurationSeconds: 900})
		},
		"ListBreakGlass": func() {
			_, _ = alice.ListBreakGlass(ctx, false)
			_, _ = bob.ListBreakGlass(ctx, true)
		},
		"CloseBreakGlass": func() { _, _ = alice.CloseBreakGlass(ctx, unknown, "done") },
		"CloseBreakGlassWith": func() {
			_, _ = alice.CloseBreakGlassWith(ctx, unknown, client.CloseBreakGlassRequest{Comment: "done", RevokeSessions: true})
		},
		"ListSessions": func() {
			_, _ = alice.ListSessions(ctx, client.SessionFilter{})
			_, _ = bob.ListSessions(ctx, client.SessionFilter{Profile: "dev-readonly", Principal: "arn:aws:iam::111122223333:role/engineer-dev", ActiveOnly: true})
		},
		"ListSessionsPage": func() {
			if p, err := bob.ListSessionsPage(ctx, client.SessionFilter{}, client.PageOptions{Limit: 1}); err == nil && p.NextToken != "" {
				_, _ = bob.ListSessionsPage(ctx, client.SessionFilter{}, client.PageOptions{Limit: 1, NextToken: p.NextToken})
			}
		},
		"AllSessions": func() { _, _ = client.Collect(alice.AllSessions(ctx, client.SessionFilter{ActiveOnly: true})) },
		"ListApprovalsPage": func() {
			_, _ = bob.ListApprovalsPage(ctx, "", client.PageOptions{Limit: 1})
		},
		"AllApprovals": func() { _, _ = client.Collect(alice.AllApprovals(ctx, client.ApprovalPending)) },
		"ListBreakGlassPage": func() {
			_, _ = bob.ListBreakGlassPage(ctx, false, client.PageOptions{Limit: 1})
		},
		"AllBreakGlass": func() { _, _ = client.Collect(alice.AllBreakGlass(ctx, false)) },
		"GetSession":    func() { _, _ = alice.GetSession(ctx, sessionID) },
		"Revoke": func() {
			_, _ = alice.Revoke(ctx, sessionID, client.RevokeRequest{Reason: "lost laptop", BlockMinutes: 10}, client.WithIdempotencyKey("revoke-1"))
		},
	}
	order := []string{"Health", "Profiles", "Credentials", "CreateApproval", "ListApprovals", "ListApprovalsPage", "AllApprovals",
		"GetApproval", "Approve", "Deny", "Cancel", "OpenBreakGlass", "ListBreakGlass", "ListBreakGlassPage", "AllBreakGlass",
		"CloseBreakGlass", "CloseBreakGlassWith", "ListSessions", "ListSessionsPage", "AllSessions", "GetSession", "Revoke"}
	for _, name := range order {
		calls[name]()
	}

	// Every method that calls the API is in the table.
	ct := reflect.TypeOf(&client.Client{})
	for i := 0; i < ct.NumMethod(); i++ {
		name := ct.Method(i).Name
		if _, ok := calls[name]; !ok && !slices.Contains(localMethods, name) {
			t.Errorf("client method %s is not checked against the document: add it to the calls", name)
		}
	}
	if len(calls) != len(order) {
		t.Errorf("%d calls, %d in order", len(calls), len(order))
	}
	for _, p := range proxy.problems {
		t.Error(p)
	}
	// Every documented operation has a client method, and the handler
	// answered it at least once. The calls above ignore refusals, and the
	// gateway's own answers (403 {"message"}) are not validated against the
	// operation, so a method whose signing broke would otherwise pass on
	// gateway 403s alone, its requests never reaching the handler.
	for _, op := range apidoc.Operations(doc) {
		id := op.Op.OperationID
		switch {
		case proxy.ops[id] == 0:
			t.Errorf("no client method calls %s (%s)", id, op.Route())
		case proxy.handled[id] == 0:
			t.Errorf("%s (%s): no answer came from the handler, only the gateway's own: %v (is the request signed as the gateway verifies?)",
				id, op.Route(), proxy.statuses[id])
		}
	}
	if t.Failed() {
		t.Logf("answers per operation: %v", proxy.statuses)
	}
}

// TestClientTypesUseDocumentedFields: every JSON field of the client's
// request and answer types is a property of the document's schema, and
// every required property of a request schema is a field.
func TestClientTypesUseDocumentedFields(t *testing.T) {
	doc := loadDoc(t)
	for _, tc := range []struct {
		v       any
		schema  string
		request bool
	}{
		{client.CredentialsRequest{}, "CredentialsRequest", true},
		{client.CreateApprovalRequest{}, "CreateApprovalRequest", true},
		{client.Comment{}, "CommentRequest", true},
		{client.BreakGlassRequest{}, "BreakGlassRequest", true},
		{client.RevokeRequest{}, "RevokeRequest", true},
		{client.Profile{}, "Profile", false},
		{client.Health{}, "Health", false},
		{client.Approval{}, "Approval", false},
		{client.ApprovalDecision{}, "ApprovalDecision", false},
		{client.BreakGlassEvent{}, "BreakGlassEvent", false},
		{client.Session{}, "Session", false},
		{client.Revocation{}, "Revocation", false},
		{client.Decision{}, "NativeCredentials.decision", false},
	} {
		s := schemaAt(t, doc, tc.schema)
		typ := reflect.TypeOf(tc.v)
		var fields []string
		for i := 0; i < typ.NumField(); i++ {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if name == "" || name == "-" {
				t.Errorf("%s.%s has no JSON name", typ.Name(), typ.Field(i).Name)
				continue
			}
			fields = append(fields, name)
			if _, ok := s.Properties[name]; !ok {
				t.Errorf("%s.%s: %q is not a property of %s", typ.Name(), typ.Field(i).Name, name, tc.schema)
			}
		}
		if tc.request {
			for _, req := range s.Required {
				if !slices.Contains(fields, req) {
					t.Errorf("%s lacks %s's required %q", typ.Name(), tc.schema, req)
				}
			}
		}
	}
}

// schemaAt returns a component schema, or a property of one ("A.b").
func schemaAt(t *testing.T, doc *openapi3.T, path string) *openapi3.Schema {
	t.Helper()
	name, prop, _ := strings.Cut(path, ".")
	ref := doc.Components.Schemas[name]
	if ref == nil {
		t.Fatalf("no schema %s", name)
	}
	if prop != "" {
		ref = ref.Value.Properties[prop]
		if ref == nil {
			t.Fatalf("no property %s", path)
		}
	}
	return ref.Value
}

// TestErrorCodesAreTheDocuments: the client's Code constants are the
// document's ErrorCode enum (which internal/vend's test ties to the handler's
// codes), so a code the service can send is one the client names.
func TestErrorCodesAreTheDocuments(t *testing.T) {
	doc := loadDoc(t)
	var enum []string
	for _, v := range doc.Components.Schemas["ErrorCode"].Value.Enum {
		enum = append(enum, v.(string))
	}
	consts := []string{client.CodeInvalidRequest, client.CodeForbidden, client.CodePolicyDenied, client.CodeApprovalRequired,
		client.CodeSessionRevoked, client.CodeNotFound, client.CodeConflict, client.CodeRateLimited, client.CodeUnavailable, client.CodeInternal}
	slices.Sort(enum)
	slices.Sort(consts)
	if !slices.Equal(enum, consts) {
		t.Errorf("ErrorCode enum %v, the client's Code constants %v", enum, consts)
	}
}
