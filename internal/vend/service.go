// Package vend is the Sentinel TVM service: the Lambda handler that turns a
// SigV4-signed API Gateway request into a policy decision and, only when the
// policy allows, into scoped STS credentials.
package vend

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
)

// STSAPI is the part of the STS client the service uses.
type STSAPI interface {
	AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, optFns ...func(*sts.Options)) (*sts.AssumeRoleOutput, error)
}

// Store is the part of the data layer the service uses.
type Store interface {
	store.Sessions
	store.Approvals
	store.BreakGlass
	store.Idempotency
	store.Blocks
	store.Leases
}

var _ Store = (store.Store)(nil)

// Deps are the service's outside dependencies, real or fake.
type Deps struct {
	Policy  PolicySource
	Store   Store
	STS     STSAPI
	Log     *slog.Logger           // decision log (JSON); default: discard
	Metrics io.Writer              // CloudWatch embedded-metric-format lines; default: discard
	Now     func() time.Time       // default time.Now
	NewID   func() (string, error) // 128-bit random hex IDs; default crypto/rand
	// Revoker writes revocations into IAM; nil answers revocations with
	// 503 (the deployment configured no revoker function).
	Revoker Revoker
	// Notifier publishes state changes (SNS); nil publishes nothing.
	Notifier Notifier
}

// Service handles API requests. It is safe for concurrent use.
type Service struct {
	cfg    Config
	d      Deps
	routes map[string]routeFunc
}

type routeFunc func(ctx context.Context, c *call) (Response, *apiError)

// New checks the dependencies and returns the service.
func New(cfg Config, d Deps) (*Service, error) {
	if d.Policy == nil || d.Store == nil || d.STS == nil {
		return nil, errors.New("vend: Policy, Store and STS are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if d.Metrics == nil {
		d.Metrics = io.Discard
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.NewID == nil {
		d.NewID = RandomID
	}
	s := &Service{cfg: cfg, d: d}
	s.routes = map[string]routeFunc{
		"POST /v1/credentials": s.credentials,
		"GET /v1/profiles":     s.profiles,
		"GET /v1/health":       s.health,

		"POST /v1/approvals":              s.idempotent(s.createApproval),
		"GET /v1/approvals":               s.listApprovals,
		"GET /v1/approvals/{id}":          s.getApproval,
		"POST /v1/approvals/{id}/approve": s.idempotent(s.decideApproval(true)),
		"POST /v1/approvals/{id}/deny":    s.idempotent(s.decideApproval(false)),
		"POST /v1/approvals/{id}/cancel":  s.idempotent(s.cancelApproval),

		"POST /v1/break-glass":            s.idempotent(s.openBreakGlass),
		"GET /v1/break-glass":             s.listBreakGlass,
		"POST /v1/break-glass/{id}/close": s.idempotent(s.closeBreakGlass),

		"GET /v1/sessions":              s.listSessions,
		"GET /v1/sessions/{id}":         s.getSession,
		"POST /v1/sessions/{id}/revoke": s.idempotent(s.revokeSession),
	}
	return s, nil
}

// Routes lists the operations the service serves, "METHOD /resource".
func (s *Service) Routes() []string {
	out := make([]string, 0, len(s.routes))
	for r := range s.routes {
		out = append(out, r)
	}
	return out
}

// RandomID returns 128 random bits as 32 hex characters.
func RandomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// call is one request in flight, and what its log event will say.
type call struct {
	req       *Request
	requestID string
	start     time.Time
	caller    *policy.Principal // nil until the identity is parsed
	sourceIP  netip.Addr

	// decision log fields
	profile   string
	decision  string
	rule      string
	reason    string
	sessionID string
	duration  int64
	via       string
	client    string      // client mode (X-Sentinel-Client)
	eval      *evaluation // the policy evaluation, when one decided
}

// HandleJSON decodes a raw API Gateway event and handles it; the Lambda
// runtime and the local gateway both call it.
func (s *Service) HandleJSON(ctx context.Context, raw json.RawMessage) (Response, error) {
	var req Request
	if err := json.Unmarshal(raw, &req); err != nil {
		// Still one decision event and its metric, like every request; the
		// request ID is kept when the event got that far.
		c := &call{req: &Request{}, requestID: req.RequestContext.RequestID, start: s.d.Now()}
		aerr := failCause(CodeInvalidRequest, fmt.Errorf("malformed event: %w", err), "malformed request")
		resp := aerr.response(c.requestID)
		s.logCall(c, resp.StatusCode, aerr)
		return resp, nil
	}
	return s.Handle(ctx, &req), nil
}

// Handle answers one request. It never returns without a response and never
// panics: an unexpected failure is a 500 with no credentials.
func (s *Service) Handle(ctx context.Context, req *Request) (resp Response) {
	if req == nil {
		req = &Request{}
	}
	c := &call{req: req, requestID: req.RequestContext.RequestID, start: s.d.Now()}
	var aerr *apiError
	defer func() {
		if r := recover(); r != nil {
			aerr = failCause(CodeInternal, fmt.Errorf("panic: %v\n%s", r, debug.Stack()), "internal error")
			resp = aerr.response(c.requestID)
		}
		s.logCall(c, resp.StatusCode, aerr)
	}()
	route, ok := s.routes[req.HTTPMethod+" "+req.Resource]
	if !ok {
		aerr = fail(CodeNotFound, "no such route: %s %s", req.HTTPMethod, req.Resource)
		return aerr.response(c.requestID)
	}
	if aerr = s.identify(c); aerr != nil {
		return aerr.response(c.requestID)
	}
	if c.client, aerr = clientMode(req); aerr != nil {
		return aerr.response(c.requestID)
	}
	resp, aerr = route(ctx, c)
	if aerr != nil {
		return aerr.response(c.requestID)
	}
	return resp
}

// identify derives the caller from the IAM authorization context. A request
// without an IAM identity gets 403 and nothing else happens.
func (s *Service) identify(c *call) *apiError {
	id := c.req.RequestContext.Identity
	if id.UserArn == "" {
		return fail(CodeForbidden, "the request carries no IAM identity")
	}
	// trusted_session_roles lives in the policy; the user is set once the
	// policy is loaded (principalFor).
	p, err := policy.ParseCaller(id.UserArn)
	if err != nil {
		return failCause(CodeForbidden, err, "the caller is not an IAM user, role session or federated user")
	}
	p.UserID, p.OrgID = id.Caller, id.PrincipalOrgID
	c.caller = &p
	if ip, err := netip.ParseAddr(id.SourceIP); err == nil {
		c.sourceIP = ip
	}
	return nil
}

// loadPolicy returns the current policy, or 503.
func (s *Service) loadPolicy(ctx context.Context, c *call) (*policy.Policy, *apiError) {
	p, err := s.d.Policy.Policy(ctx)
	if err != nil {
		return nil, failCause(CodeUnavailable, err, "the policy is unavailable; try again later")
	}
	pr, err := p.Principal(c.caller.CallerARN, c.caller.UserID, c.caller.OrgID)
	if err != nil {
		return nil, failCause(CodeForbidden, err, "the caller is not an IAM user, role session or federated user")
	}
	c.caller = &pr
	return p, nil
}

// decodeBody decodes a JSON object body strictly into v: unknown fields,
// null members, trailing data, another JSON value than an object and a
// missing body are invalid requests (api/openapi.yaml: every request body
// is an object with additionalProperties false and no nullable member).
func decodeBody(req *Request, v any) *apiError {
	body := req.Body
	if req.IsBase64Encoded {
		return fail(CodeInvalidRequest, "the body must be JSON")
	}
	if len(body) > 64<<10 {
		return fail(CodeInvalidRequest, "the body exceeds 64 KiB")
	}
	if trimmed := bytes.TrimSpace([]byte(body)); json.Valid(trimmed) {
		if trimmed[0] != '{' {
			return fail(CodeInvalidRequest, "the body must be a JSON object")
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &members); err == nil {
			names := slices.Sorted(maps.Keys(members))
			for _, name := range names {
				if string(members[name]) == "null" {
					return fail(CodeInvalidRequest, "field %q must not be null", name)
				}
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fail(CodeInvalidRequest, "the body is not a valid JSON object: %s", jsonProblem(err))
	}
	if dec.More() {
		return fail(CodeInvalidRequest, "the body holds more than one JSON value")
	}
	return nil
}

// jsonProblem describes a JSON decoding error without echoing the input.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return "empty body"
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %q must be %s", typeErr.Field, typeErr.Type)
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("syntax error at byte %d", syntaxErr.Offset)
	}
	msg := err.Error()
	if len(msg) > 80 {
		msg = msg[:80]
	}
	return msg
}

func jsonResponse(status int, v any) Response {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status, buf = http.StatusInternalServerError, *bytes.NewBufferString(`{"error":{"code":"internal","message":"internal error","request_id":""}}`)
	}
	return Response{
		StatusCode: status,
		Headers: map[string]string{
			"Content-Type":           "application/json",
			"Cache-Control":          "no-store",
			"X-Content-Type-Options": "nosniff",
		},
		Body: buf.String(),
	}
}

// health answers GET /v1/health.
func (s *Service) health(ctx context.Context, c *call) (Response, *apiError) {
	p, err := s.d.Policy.Policy(ctx)
	if err != nil {
		return Response{}, failCause(CodeUnavailable, err, "the policy is unavailable")
	}
	return jsonResponse(http.StatusOK, map[string]string{
		"status": "ok", "policy_sha256": p.SHA256(), "version": s.cfg.Version,
	}), nil
}
