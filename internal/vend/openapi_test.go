package vend_test

// The handler against api/openapi.yaml: the router serves exactly
// the documented operations, and every answer of the handler, success and
// error, validates against the document, for every documented status of
// every operation and every error code each one documents. Requests are
// built as HTTP requests, validated against the document (a request the
// document rejects must be one the handler rejects), matched with the
// document's router, and handed to the handler as the API Gateway event of
// the matched resource.

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/sentinel-tvm/sentinel-tvm/internal/apidoc"
	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/revoke"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// loadAPIDoc loads the document as Terraform renders it.
func loadAPIDoc(t testing.TB) *openapi3.T {
	t.Helper()
	doc, err := apidoc.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestRouterServesTheDocumentedOperations: Service.Routes() is exactly the
// document's operations.
func TestRouterServesTheDocumentedOperations(t *testing.T) {
	doc := loadAPIDoc(t)
	var documented []string
	for _, op := range apidoc.Operations(doc) {
		documented = append(documented, op.Route())
	}
	served := newHarness(t).svc.Routes()
	slices.Sort(documented)
	slices.Sort(served)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("the handler serves %s, which api/openapi.yaml does not document", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("api/openapi.yaml documents %s, which the handler does not serve", r)
		}
	}
}

// TestErrorCodeEnumIsTheHandlers: the ErrorCode enum is the handler's set
// of Code constants (errors.go), and each constant's status is the one the
// document gives the code.
func TestErrorCodeEnumIsTheHandlers(t *testing.T) {
	doc := loadAPIDoc(t)
	var enum []string
	for _, v := range doc.Components.Schemas["ErrorCode"].Value.Enum {
		enum = append(enum, v.(string))
	}
	consts := handlerErrorCodes(t)
	slices.Sort(enum)
	if !slices.Equal(enum, consts) {
		t.Errorf("ErrorCode enum %v, the handler's codes (errors.go) %v", enum, consts)
	}
}

// handlerErrorCodes reads the values of the Code* constants of errors.go.
func handlerErrorCodes(t testing.TB) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if !strings.HasPrefix(n.Name, "Code") || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					t.Fatalf("errors.go: %s is not a string literal", n.Name)
				}
				v, _ := strconv.Unquote(lit.Value)
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatal("errors.go: no Code constants")
	}
	return out
}

// switchPolicy is a policy source that can be made to panic.
type switchPolicy struct {
	src   vend.PolicySource
	panic atomic.Bool
}

func (s *switchPolicy) Policy(ctx context.Context) (*policy.Policy, error) {
	if s.panic.Load() {
		panic("policy source exploded")
	}
	return s.src.Policy(ctx)
}

// contract drives the handler through documented requests and checks
// every answer against the document, recording what it saw.
type contract struct {
	t      *testing.T
	doc    *openapi3.T
	router routers.Router
	// seen[operationId][status] = error codes seen ("" for a success)
	seen map[string]map[int]map[string]bool
}

func newContract(t *testing.T) *contract {
	doc := loadAPIDoc(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &contract{t: t, doc: doc, router: router, seen: map[string]map[int]map[string]bool{}}
}

// apiCall is one request and the answer it must get.
type apiCall struct {
	caller string // the signing identity's ARN; none: the event carries no IAM identity
	method string
	path   string // concrete, e.g. /v1/approvals/0000...
	query  url.Values
	header map[string]string
	body   string
	// undocumented: the document rejects the request (the handler must
	// answer 4xx).
	undocumented bool
	status       int
	code         string // error code of an error status
}

const noIdentity = "-"

var authenticate = func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "sigv4" || in.RequestValidationInput.Request.Header.Get("Authorization") == "" {
		return errors.New("no SigV4 Authorization header")
	}
	return nil
}

// do validates the request, runs it through the handler as the API Gateway
// event of the documented resource, validates the answer and returns it.
func (k *contract) do(h *harness, c apiCall) result {
	t := k.t
	t.Helper()
	target := c.path
	if len(c.query) > 0 {
		target += "?" + c.query.Encode()
	}
	newRequest := func() *http.Request {
		req := httptest.NewRequest(c.method, "https://api.example.com"+target, strings.NewReader(c.body))
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20260302/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=0")
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		return req
	}
	req := newRequest()
	route, pathParams, err := k.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: the document has no such operation: %v", c.method, target, err)
	}
	opID := route.Operation.OperationID
	opts := &openapi3filter.Options{AuthenticationFunc: authenticate, MultiError: true}
	reqIn := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), reqIn)
	switch {
	case c.undocumented && reqErr == nil:
		t.Errorf("%s %s %s: the document admits this request, which the test expects it to reject", opID, target, c.body)
	case !c.undocumented && reqErr != nil:
		t.Errorf("%s %s %s: the request does not validate against the document: %v", opID, target, c.body, reqErr)
	}

	e := loadEvent(t, "credentials-native.json")
	if c.caller == noIdentity {
		delete(e.identity(), "userArn")
	} else {
		e.caller(c.caller)
	}
	e.route(c.method, route.Path).body(c.body)
	e["path"] = c.path
	if len(pathParams) > 0 {
		pp := map[string]any{}
		for k, v := range pathParams {
			pp[k] = v
		}
		e["pathParameters"] = pp
	}
	for k, vs := range c.query {
		e.query(k, vs[len(vs)-1])
	}
	headers := e["headers"].(map[string]any)
	for k, v := range c.header {
		headers[k] = v
	}
	r := h.do(e)

	hdr := http.Header{}
	for k, v := range r.Headers {
		hdr.Set(k, v)
	}
	respIn := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: newRequest(), PathParams: pathParams, Route: route, Options: opts},
		Status:                 r.StatusCode,
		Header:                 hdr,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	respIn.SetBodyBytes([]byte(r.Body))
	if err := openapi3filter.ValidateResponse(context.Background(), respIn); err != nil {
		t.Errorf("%s %s: the answer %d %s does not validate against the document: %v", opID, target, r.StatusCode, r.Body, err)
	}

	code := ""
	if r.Err != nil {
		code = r.Err.Code
	}
	if r.StatusCode != c.status || code != c.code {
		t.Errorf("%s %s %s (caller %s): got %d %s, want %d %s", opID, target, c.body, c.caller, r.StatusCode, r.Body, c.status, c.code)
	}
	if r.StatusCode == http.StatusTooManyRequests {
		if got, want := r.Headers["Retry-After"], strconv.Itoa(r.Err.RetryAfterSeconds); got != want || r.Err.RetryAfterSeconds < 1 {
			t.Errorf("%s: Retry-After %q, retry_after_seconds %d", opID, got, r.Err.RetryAfterSeconds)
		}
	}
	if code == vend.CodeApprovalRequired && r.Err.ApprovalID == "" {
		t.Errorf("%s: approval_required without approval_id: %s", opID, r.Body)
	}
	if k.seen[opID] == nil {
		k.seen[opID] = map[int]map[string]bool{}
	}
	if k.seen[opID][r.StatusCode] == nil {
		k.seen[opID][r.StatusCode] = map[string]bool{}
	}
	k.seen[opID][r.StatusCode][code] = true
	return r
}

// checkCoverage fails for every documented status of every operation the
// test never saw, and for every error code a documented error status admits
// that the test never saw with it; and when the codes seen are not the
// whole ErrorCode enum.
func (k *contract) checkCoverage() {
	t := k.t
	t.Helper()
	all := map[string]bool{}
	for _, op := range apidoc.Operations(k.doc) {
		id := op.Op.OperationID
		for _, status := range op.Statuses() {
			got := k.seen[id][status]
			if len(got) == 0 {
				t.Errorf("%s (%s): documented status %d never exercised", id, op.Route(), status)
				continue
			}
			codes, ok := apidoc.ErrorCodes(apidoc.ResponseSchema(op.Op.Responses.Status(status)))
			if status >= 400 && !ok {
				t.Errorf("%s: the %d answer documents no error codes", id, status)
			}
			for _, code := range codes {
				all[code] = true
				if !got[code] {
					t.Errorf("%s (%s): documented %d %s never exercised", id, op.Route(), status, code)
				}
			}
		}
	}
	var enum []string
	for _, v := range k.doc.Components.Schemas["ErrorCode"].Value.Enum {
		enum = append(enum, v.(string))
		if !all[v.(string)] {
			t.Errorf("error code %s: no operation documents it", v)
		}
	}
	seen := map[string]bool{}
	for _, byStatus := range k.seen {
		for _, codes := range byStatus {
			for c := range codes {
				if c != "" {
					seen[c] = true
				}
			}
		}
	}
	for _, c := range enum {
		if !seen[c] {
			t.Errorf("error code %s never exercised", c)
		}
	}
	for c := range seen {
		if !slices.Contains(enum, c) {
			t.Errorf("the handler answered error code %s, which the ErrorCode enum lacks", c)
		}
	}
}

// sampleRequests is a request of every operation the document admits.
func sampleRequests(anyID string) []apiCall {
	return []apiCall{
		{method: "POST", path: "/v1/credentials", body: `{"profile":"dev-readonly"}`},
		{method: "GET", path: "/v1/profiles"},
		{method: "GET", path: "/v1/health"},
		{method: "POST", path: "/v1/approvals", body: `{"profile":"prod-admin","justification":"deploy"}`},
		{method: "GET", path: "/v1/approvals"},
		{method: "GET", path: "/v1/approvals/" + anyID},
		{method: "POST", path: "/v1/approvals/" + anyID + "/approve"},
		{method: "POST", path: "/v1/approvals/" + anyID + "/deny", body: `{"comment":"no"}`},
		{method: "POST", path: "/v1/approvals/" + anyID + "/cancel"},
		{method: "POST", path: "/v1/break-glass", body: `{"profile":"prod-db","reason_code":"incident","justification":"db down"}`},
		{method: "GET", path: "/v1/break-glass"},
		{method: "POST", path: "/v1/break-glass/" + anyID + "/close"},
		{method: "GET", path: "/v1/sessions"},
		{method: "GET", path: "/v1/sessions/" + anyID},
		{method: "POST", path: "/v1/sessions/" + anyID + "/revoke", body: `{"reason":"done"}`},
	}
}

func TestHandlerAnswersMatchTheDocument(t *testing.T) {
	k := newContract(t)
	sw := &switchPolicy{src: vend.StaticPolicy{P: testPolicy(t).Policy}}
	rv := &fakeRevoker{}
	h := newHarness(t, withPolicySource(sw), withRevoker(rv), withNotifier(&fakeNotifier{}))
	ok := func(c apiCall, status int) apiCall { c.status = status; return c }
	bad := func(c apiCall, status int, code string) apiCall { c.status, c.code = status, code; return c }
	unknown := idN(0xdead)

	// Every operation: no IAM identity (403), the policy unavailable
	// (503), a panic (500).
	for _, c := range sampleRequests(unknown) {
		c.caller = noIdentity
		k.do(h, bad(c, 403, vend.CodeForbidden))
		c.caller = callerARN
		h.policy.err = errors.New("ssm: throttled")
		k.do(h, bad(c, 503, vend.CodeUnavailable))
		h.policy.err = nil
		sw.panic.Store(true)
		k.do(h, bad(c, 500, vend.CodeInternal))
		sw.panic.Store(false)
	}

	creds := func(caller, body string, q url.Values) apiCall {
		return apiCall{caller: caller, method: "POST", path: "/v1/credentials", query: q, body: body}
	}
	format := func(f string) url.Values { return url.Values{"format": {f}} }

	// Health and profiles.
	k.do(h, ok(apiCall{caller: callerARN, method: "GET", path: "/v1/health"}, 200))
	k.do(h, ok(apiCall{caller: callerARN, method: "GET", path: "/v1/profiles"}, 200))
	k.do(h, ok(apiCall{caller: eng2, method: "GET", path: "/v1/profiles"}, 200))
	k.do(h, ok(apiCall{caller: eng2, method: "GET", path: "/v1/profiles", header: map[string]string{vend.ClientHeader: "agent"}}, 200))
	k.do(h, bad(apiCall{caller: eng2, method: "GET", path: "/v1/profiles", header: map[string]string{vend.ClientHeader: "curl"}, undocumented: true},
		400, vend.CodeInvalidRequest))

	// Credentials: the three formats.
	r := k.do(h, ok(creds(callerARN, `{"profile":"dev-readonly"}`, nil), 200))
	sessionID := r.JSON["session_id"].(string)
	k.do(h, ok(creds(callerARN, `{"profile":"dev-readonly","duration_seconds":900}`, format("native")), 200))
	k.do(h, ok(creds(callerARN, `{"profile":"dev-readonly"}`, format("credential_process")), 200))
	k.do(h, ok(creds(callerARN, `{"profile":"scoped","justification":"x"}`, format("container")), 200))
	// Refusals the document cannot tell from the request.
	k.do(h, bad(creds(callerARN, `{"profile":"prod-denied"}`, nil), 403, vend.CodePolicyDenied))
	k.do(h, bad(creds(eng2, `{"profile":"org-only"}`, nil), 403, vend.CodePolicyDenied))
	// Requests the document rejects too.
	for _, c := range []apiCall{
		creds(callerARN, `{"profile":"dev-readonly"}`, format("json")),
		creds(callerARN, `{"profile":"dev-readonly"}`, format("")),
		creds(callerARN, ``, nil),
		creds(callerARN, `null`, nil),
		creds(callerARN, `["dev-readonly"]`, nil),
		creds(callerARN, `{"profile":null}`, nil),
		creds(callerARN, `{}`, nil),
		creds(callerARN, `{"profile":"../prod"}`, nil),
		creds(callerARN, `{"profile":"dev-readonly","role_arn":"arn:aws:iam::1:role/x"}`, nil),
		creds(callerARN, `{"profile":"dev-readonly","duration_seconds":899}`, nil),
		creds(callerARN, `{"profile":"dev-readonly","duration_seconds":43201}`, nil),
		creds(callerARN, `{"profile":"dev-readonly","duration_seconds":"900"}`, nil),
		creds(callerARN, `{"profile":"dev-readonly","duration_seconds":null}`, nil),
		creds(callerARN, `{"profile":"prod-admin","approval_id":"123"}`, nil),
		creds(callerARN, `{"profile":"prod-admin","justification":"`+strings.Repeat("é", 1025)+`"}`, nil),
	} {
		c.undocumented = true
		k.do(h, bad(c, 400, vend.CodeInvalidRequest))
	}
	// Approval: required, the vend with it, and a lost race for it.
	r = k.do(h, bad(creds(callerARN, `{"profile":"prod-admin","duration_seconds":1800,"justification":"deploy"}`, nil), 403, vend.CodeApprovalRequired))
	approvalID := r.Err.ApprovalID
	k.do(h, ok(apiCall{caller: sam, method: "POST", path: "/v1/approvals/" + approvalID + "/approve", body: `{"comment":"ok"}`}, 200))
	h.store.Fail("VendApproved", errConflict())
	k.do(h, bad(creds(callerARN, `{"profile":"prod-admin","approval_id":"`+approvalID+`"}`, nil), 409, vend.CodeConflict))
	h.store.Fail("VendApproved", nil)
	k.do(h, ok(creds(callerARN, `{"profile":"prod-admin","approval_id":"`+approvalID+`"}`, nil), 200))
	k.do(h, ok(apiCall{caller: callerARN, method: "GET", path: "/v1/approvals/" + approvalID}, 200)) // used, with session_id
	// STS: a throttle is 503 and leaves a failed session; a configuration
	// error is 500.
	h.sts.Err = &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	k.do(h, bad(creds(callerARN, `{"profile":"dev-readonly"}`, nil), 503, vend.CodeUnavailable))
	failedID := idN(int(h.ids.n.Load()))
	h.sts.Err = &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized"}
	k.do(h, bad(creds(callerARN, `{"profile":"dev-readonly"}`, nil), 500, vend.CodeInternal))
	h.sts.Err = nil

	// Approvals.
	approvals := func(caller, body string, header map[string]string) apiCall {
		return apiCall{caller: caller, method: "POST", path: "/v1/approvals", body: body, header: header}
	}
	key := map[string]string{vend.IdempotencyHeader: "create-1"}
	r = k.do(h, ok(approvals(eng2, `{"profile":"prod-admin","justification":"migrate","duration_seconds":900}`, key), 201))
	pendingID := r.JSON["approval_id"].(string)
	r = k.do(h, ok(approvals(eng2, `{"profile":"prod-admin","justification":"migrate","duration_seconds":900}`, key), 201))
	if r.Headers["Idempotent-Replayed"] != "true" {
		t.Errorf("replay without Idempotent-Replayed: %v", r.Headers)
	}
	k.do(h, bad(approvals(eng2, `{"profile":"prod-admin","justification":"other"}`, key), 409, vend.CodeConflict))
	k.do(h, ok(approvals(eng2, `{"profile":"prod-admin","justification":"again"}`, nil), 200))
	k.do(h, bad(approvals(callerARN, `{"profile":"dev-readonly","justification":"x"}`, nil), 400, vend.CodeInvalidRequest))
	k.do(h, bad(approvals(callerARN, `{"profile":"prod-denied","justification":"x"}`, nil), 403, vend.CodePolicyDenied))
	for _, c := range []apiCall{
		approvals(callerARN, `{"profile":"prod-admin"}`, nil),
		approvals(callerARN, `{"profile":"prod-admin","justification":"   "}`, nil),
		approvals(callerARN, `{"profile":"prod-admin","justification":"x","duration_seconds":3601}`, nil),
		approvals(callerARN, `{"profile":"prod-admin","justification":"x"}`, map[string]string{vend.IdempotencyHeader: "has space"}),
	} {
		c.undocumented = true
		k.do(h, bad(c, 400, vend.CodeInvalidRequest))
	}
	list := func(caller, path string, q url.Values) apiCall {
		return apiCall{caller: caller, method: "GET", path: path, query: q}
	}
	k.do(h, ok(list(sam, "/v1/approvals", nil), 200))
	k.do(h, ok(list(callerARN, "/v1/approvals", url.Values{"status": {"used"}}), 200))
	for _, status := range []string{"nope", ""} {
		c := list(callerARN, "/v1/approvals", url.Values{"status": {status}})
		c.undocumented = true
		k.do(h, bad(c, 400, vend.CodeInvalidRequest))
	}
	k.do(h, ok(list(sam, "/v1/approvals/"+pendingID, nil), 200))
	k.do(h, bad(list(callerARN, "/v1/approvals/"+pendingID, nil), 403, vend.CodeForbidden))
	k.do(h, bad(list(callerARN, "/v1/approvals/"+unknown, nil), 404, vend.CodeNotFound))
	k.do(h, bad(func() apiCall { c := list(callerARN, "/v1/approvals/nope", nil); c.undocumented = true; return c }(), 404, vend.CodeNotFound))

	action := func(caller, id, verb, body string, header map[string]string) apiCall {
		return apiCall{caller: caller, method: "POST", path: "/v1/approvals/" + id + "/" + verb, body: body, header: header}
	}
	for _, verb := range []string{"approve", "deny", "cancel"} {
		c := action(sam, pendingID, verb, `{"comment":"`+strings.Repeat("x", 1025)+`"}`, nil)
		c.undocumented = true
		k.do(h, bad(c, 400, vend.CodeInvalidRequest))
		c = action(sam, pendingID, verb, `null`, nil)
		c.undocumented = true
		k.do(h, bad(c, 400, vend.CodeInvalidRequest))
		c = action(sam, pendingID, verb, ``, map[string]string{vend.IdempotencyHeader: strings.Repeat("k", 256)})
		c.undocumented = true
		k.do(h, bad(c, 400, vend.CodeInvalidRequest))
		k.do(h, bad(action(sam, unknown, verb, ``, nil), 404, vend.CodeNotFound))
		c = action(sam, "NOT-AN-ID", verb, ``, nil)
		c.undocumented = true
		k.do(h, bad(c, 404, vend.CodeNotFound))
	}
	k.do(h, bad(action(eng2, pendingID, "approve", ``, nil), 403, vend.CodeForbidden))   // own request
	k.do(h, bad(action(callerARN, pendingID, "deny", ``, nil), 403, vend.CodeForbidden)) // not an approver
	k.do(h, bad(action(sam, pendingID, "cancel", ``, nil), 403, vend.CodeForbidden))     // not the requester
	decideKey := map[string]string{vend.IdempotencyHeader: "deny-1"}
	k.do(h, ok(action(sam, pendingID, "deny", `{"comment":"not now"}`, decideKey), 200))
	r = k.do(h, ok(action(sam, pendingID, "deny", `{"comment":"not now"}`, decideKey), 200))
	if r.Headers["Idempotent-Replayed"] != "true" {
		t.Errorf("replay without Idempotent-Replayed: %v", r.Headers)
	}
	k.do(h, bad(action(sam, pendingID, "approve", ``, nil), 409, vend.CodeConflict))
	k.do(h, bad(action(sam, pendingID, "deny", ``, nil), 409, vend.CodeConflict))
	k.do(h, bad(action(eng2, pendingID, "cancel", ``, nil), 409, vend.CodeConflict))
	r = k.do(h, ok(approvals(eng2, `{"profile":"prod-admin","justification":"third time"}`, nil), 201))
	k.do(h, ok(action(eng2, r.JSON["approval_id"].(string), "cancel", ``, nil), 200))
	r = k.do(h, ok(approvals(eng2, `{"profile":"prod-admin","justification":"fourth time"}`, nil), 201))
	k.do(h, ok(action(sam, r.JSON["approval_id"].(string), "approve", ``, nil), 200))

	// Break-glass.
	openBG := func(caller, body string) apiCall {
		return apiCall{caller: caller, method: "POST", path: "/v1/break-glass", body: body}
	}
	r = k.do(h, ok(openBG(callerARN, `{"profile":"prod-db","reason_code":"incident","justification":"the database is down","duration_seconds":1800}`), 201))
	eventID := r.JSON["event_id"].(string)
	k.do(h, ok(creds(callerARN, `{"profile":"prod-db"}`, nil), 200)) // via break_glass
	k.do(h, bad(openBG(callerARN, `{"profile":"prod-db","reason_code":"incident","justification":"still down"}`), 409, vend.CodeConflict))
	k.do(h, bad(openBG(sam, `{"profile":"prod-db","reason_code":"incident","justification":"x"}`), 403, vend.CodeForbidden))
	k.do(h, bad(openBG(callerARN, `{"profile":"prod-denied","reason_code":"incident","justification":"x"}`), 403, vend.CodeForbidden))
	k.do(h, bad(openBG(callerARN, `{"profile":"prod-admin","reason_code":"boredom","justification":"x"}`), 400, vend.CodeInvalidRequest))
	for _, c := range []apiCall{
		openBG(callerARN, `{"profile":"prod-admin","reason_code":"incident"}`),
		openBG(callerARN, `{"profile":"prod-admin","reason_code":"incident","justification":"x","duration_seconds":600}`),
		openBG(callerARN, `{"profile":"prod-admin","reason_code":"incident","justification":"x","extra":1}`),
	} {
		c.undocumented = true
		k.do(h, bad(c, 400, vend.CodeInvalidRequest))
	}
	k.do(h, ok(list(callerARN, "/v1/break-glass", nil), 200))
	k.do(h, ok(list(sam, "/v1/break-glass", url.Values{"active": {"true"}}), 200))
	k.do(h, bad(func() apiCall {
		c := list(callerARN, "/v1/break-glass", url.Values{"active": {"yes"}})
		c.undocumented = true
		return c
	}(), 400, vend.CodeInvalidRequest))
	closeBG := func(caller, id, body string) apiCall {
		return apiCall{caller: caller, method: "POST", path: "/v1/break-glass/" + id + "/close", body: body}
	}
	k.do(h, bad(closeBG(eng2, eventID, ``), 403, vend.CodeForbidden))
	k.do(h, bad(closeBG(callerARN, unknown, ``), 404, vend.CodeNotFound))
	c := closeBG(callerARN, eventID, `{"comment":1}`)
	c.undocumented = true
	k.do(h, bad(c, 400, vend.CodeInvalidRequest))
	k.do(h, ok(closeBG(callerARN, eventID, `{"comment":"fixed","revoke_sessions":true}`), 200))
	k.do(h, bad(closeBG(sam, eventID, ``), 409, vend.CodeConflict))

	// Sessions.
	k.do(h, ok(list(callerARN, "/v1/sessions", nil), 200))
	k.do(h, ok(list(sam, "/v1/sessions", url.Values{"principal": {principalARN}, "profile": {"dev-readonly"}, "active": {"true"}}), 200))
	k.do(h, bad(list(eng2, "/v1/sessions", url.Values{"principal": {principalARN}}), 403, vend.CodeForbidden))
	for _, q := range []url.Values{{"active": {"1"}}, {"active": {""}}, {"principal": {"alice"}}, {"principal": {""}}, {"profile": {"../x"}}, {"profile": {""}}} {
		c := list(callerARN, "/v1/sessions", q)
		c.undocumented = true
		k.do(h, bad(c, 400, vend.CodeInvalidRequest))
	}
	// Paging: a page with a next_token, the page it names, and the token
	// refused with another caller or filter.
	first := k.do(h, ok(list(sam, "/v1/sessions", url.Values{"limit": {"1"}}), 200))
	token, _ := first.JSON["next_token"].(string)
	if token == "" {
		t.Fatalf("a page of one of several sessions has no next_token: %s", first.Body)
	}
	k.do(h, ok(list(sam, "/v1/sessions", url.Values{"limit": {"1"}, "next_token": {token}}), 200))
	k.do(h, bad(list(callerARN, "/v1/sessions", url.Values{"next_token": {token}}), 400, vend.CodeInvalidRequest))
	k.do(h, bad(list(sam, "/v1/sessions", url.Values{"next_token": {token}, "active": {"true"}}), 400, vend.CodeInvalidRequest))
	k.do(h, bad(list(sam, "/v1/break-glass", url.Values{"next_token": {token}}), 400, vend.CodeInvalidRequest))
	k.do(h, bad(list(sam, "/v1/approvals", url.Values{"next_token": {token}}), 400, vend.CodeInvalidRequest))
	k.do(h, ok(list(sam, "/v1/break-glass", url.Values{"limit": {"1"}}), 200))
	k.do(h, ok(list(sam, "/v1/approvals", url.Values{"limit": {"1"}, "status": {"approved"}}), 200))
	for _, route := range []string{"/v1/sessions", "/v1/approvals", "/v1/break-glass"} {
		for _, q := range []url.Values{{"limit": {"0"}}, {"limit": {"101"}}, {"limit": {"x"}}, {"next_token": {"!"}}, {"next_token": {""}}} {
			c := list(callerARN, route, q)
			c.undocumented = true
			k.do(h, bad(c, 400, vend.CodeInvalidRequest))
		}
	}
	k.do(h, ok(list(callerARN, "/v1/sessions/"+sessionID, nil), 200))
	k.do(h, ok(list(sam, "/v1/sessions/"+failedID, nil), 200))
	k.do(h, bad(list(eng2, "/v1/sessions/"+sessionID, nil), 403, vend.CodeForbidden))
	k.do(h, bad(list(callerARN, "/v1/sessions/"+unknown, nil), 404, vend.CodeNotFound))
	revokeCall := func(caller, id, body string) apiCall {
		return apiCall{caller: caller, method: "POST", path: "/v1/sessions/" + id + "/revoke", body: body}
	}
	for _, body := range []string{``, `{}`, `{"reason":""}`, `{"reason":"x","block_minutes":0}`, `{"reason":"x","block_minutes":1441}`} {
		c := revokeCall(callerARN, sessionID, body)
		c.undocumented = true
		k.do(h, bad(c, 400, vend.CodeInvalidRequest))
	}
	k.do(h, bad(revokeCall(eng2, sessionID, `{"reason":"mine?"}`), 403, vend.CodeForbidden))
	k.do(h, bad(revokeCall(callerARN, unknown, `{"reason":"x"}`), 404, vend.CodeNotFound))
	k.do(h, bad(revokeCall(callerARN, failedID, `{"reason":"x"}`), 409, vend.CodeConflict))
	k.do(h, ok(revokeCall(callerARN, sessionID, `{"reason":"laptop lost","block_minutes":60}`), 200))
	k.do(h, ok(list(callerARN, "/v1/sessions/"+sessionID, nil), 200)) // revoked
	// The owner again: 409, only operators repair.
	k.do(h, bad(revokeCall(callerARN, sessionID, `{"reason":"again"}`), 409, vend.CodeConflict))
	rv.Result = revoke.Result{Enforcement: revoke.EnforcementTokenIssueTime, TokenIssueCutoff: h.clock.Now(), CutoffWritten: true}
	k.do(h, ok(revokeCall(sam, sessionID, `{"reason":"repair"}`), 200))
	k.do(h, bad(creds(callerARN, `{"profile":"dev-readonly"}`, nil), 403, vend.CodeSessionRevoked))

	// The rate limit: a service allowing one request a minute.
	h1 := newHarness(t, withConfig(func(c *vend.Config) { c.RateLimit = 1 }))
	k.do(h1, ok(creds(callerARN, `{"profile":"dev-readonly"}`, nil), 200))
	k.do(h1, bad(creds(callerARN, `{"profile":"dev-readonly"}`, nil), 429, vend.CodeRateLimited))
	k.do(h1, bad(creds(callerARN, `{"profile":"prod-denied"}`, nil), 429, vend.CodeRateLimited))
	// Approval requests, cancels, break-glass opens and closes count like
	// vends; own-session revocations have an hourly limit of their own.
	h2 := newHarness(t, withRevoker(&fakeRevoker{}), withConfig(func(c *vend.Config) { c.RateLimit, c.OwnerRevokeLimit = 3, 1 }))
	s1 := k.do(h2, ok(creds(callerARN, `{"profile":"dev-readonly"}`, nil), 200)).JSON["session_id"].(string)
	s2 := k.do(h2, ok(creds(callerARN, `{"profile":"dev-readonly"}`, nil), 200)).JSON["session_id"].(string)
	a2 := k.do(h2, ok(apiCall{caller: callerARN, method: "POST", path: "/v1/approvals", body: `{"profile":"prod-admin","justification":"x"}`}, 201)).JSON["approval_id"].(string)
	k.do(h2, bad(apiCall{caller: callerARN, method: "POST", path: "/v1/approvals", body: `{"profile":"prod-admin","justification":"x"}`}, 429, vend.CodeRateLimited))
	k.do(h2, bad(apiCall{caller: callerARN, method: "POST", path: "/v1/approvals/" + a2 + "/cancel"}, 429, vend.CodeRateLimited))
	k.do(h2, bad(openBG(callerARN, `{"profile":"prod-db","reason_code":"incident","justification":"x"}`), 429, vend.CodeRateLimited))
	k.do(h2, ok(revokeCall(callerARN, s1, `{"reason":"done"}`), 200))
	k.do(h2, bad(revokeCall(callerARN, s2, `{"reason":"done"}`), 429, vend.CodeRateLimited))
	h2.clock.Advance(time.Minute)
	e2 := k.do(h2, ok(openBG(callerARN, `{"profile":"prod-db","reason_code":"incident","justification":"x"}`), 201)).JSON["event_id"].(string)
	k.do(h2, ok(creds(callerARN, `{"profile":"dev-readonly"}`, nil), 200))
	k.do(h2, ok(creds(callerARN, `{"profile":"dev-readonly"}`, nil), 200))
	k.do(h2, bad(closeBG(callerARN, e2, ``), 429, vend.CodeRateLimited))

	// Time passes: the approval and the events expire.
	h.clock.Advance(48 * time.Hour)
	k.do(h, ok(list(callerARN, "/v1/break-glass", nil), 200))
	k.do(h, ok(list(callerARN, "/v1/sessions", nil), 200))
	k.do(h, bad(revokeCall(callerARN, sessionID, `{"reason":"late"}`), 409, vend.CodeConflict))

	k.checkCoverage()
}

// errConflict is the store's conflict error.
func errConflict() error { return fmt.Errorf("lost the race: %w", store.ErrConflict) }

// TestDocumentRejectsWhatTheSchemasForbid proves the validation above can
// fail: an answer with a field the document does not declare, a code
// outside the enum, a 429 without Retry-After and an undocumented status.
func TestDocumentRejectsWhatTheSchemasForbid(t *testing.T) {
	doc := loadAPIDoc(t)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	check := func(method, path string, status int, header http.Header, body string) error {
		req := httptest.NewRequest(method, "https://api.example.com"+path, nil)
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatal(err)
		}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
			Status:                 status, Header: header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true},
		}
		in.SetBodyBytes([]byte(body))
		return openapi3filter.ValidateResponse(context.Background(), in)
	}
	jsonHdr := http.Header{"Content-Type": {"application/json"}}
	good := `{"status":"ok","policy_sha256":"` + strings.Repeat("a", 64) + `","version":"1"}`
	if err := check("GET", "/v1/health", 200, jsonHdr, good); err != nil {
		t.Fatalf("a good health answer fails: %v", err)
	}
	errBody := func(code string) string {
		return `{"error":{"code":"` + code + `","message":"m","request_id":"r"}}`
	}
	for name, tc := range map[string]struct {
		method, path string
		status       int
		header       http.Header
		body         string
	}{
		"extra field":          {"GET", "/v1/health", 200, jsonHdr, strings.TrimSuffix(good, "}") + `,"extra":1}`},
		"bad sha":              {"GET", "/v1/health", 200, jsonHdr, strings.Replace(good, "aaaa", "AAAA", 1)},
		"undocumented status":  {"GET", "/v1/health", 409, jsonHdr, errBody("conflict")},
		"code outside enum":    {"GET", "/v1/health", 403, jsonHdr, errBody("teapot")},
		"code of another":      {"GET", "/v1/health", 403, jsonHdr, errBody("approval_required")},
		"no Retry-After":       {"POST", "/v1/credentials", 429, jsonHdr, `{"error":{"code":"rate_limited","message":"m","request_id":"r","retry_after_seconds":3}}`},
		"not a date-time":      {"POST", "/v1/credentials", 200, jsonHdr, `{"AccessKeyId":"a","SecretAccessKey":"s","Token":"t","Expiration":"tomorrow"}`},
		"missing request_id":   {"GET", "/v1/profiles", 503, jsonHdr, `{"error":{"code":"unavailable","message":"m"}}`},
		"not JSON":             {"GET", "/v1/profiles", 200, http.Header{"Content-Type": {"text/plain"}}, `profiles`},
		"credentials mismatch": {"POST", "/v1/credentials", 200, jsonHdr, `{"Version":1,"AccessKeyId":"a","SecretAccessKey":"s","Token":"t","Expiration":"2026-03-02T12:00:00Z"}`},
	} {
		if err := check(tc.method, tc.path, tc.status, tc.header, tc.body); err == nil {
			t.Errorf("%s: the document admits %d %s", name, tc.status, tc.body)
		}
	}
	// API Gateway's own 403 is documented.
	if err := check("GET", "/v1/sessions", 403, jsonHdr, `{"message":"Missing Authentication Token"}`); err != nil {
		t.Errorf("API Gateway's 403: %v", err)
	}
}
