package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Backend is the Lambda handler the gateway invokes, given the event as the
// Lambda runtime would: its JSON. (events.APIGatewayProxyRequest cannot
// carry every identity field, principalOrgId among them, so the backend
// decodes the JSON into its own type.)
type Backend func(context.Context, json.RawMessage) (events.APIGatewayProxyResponse, error)

// Config configures a Handler.
type Config struct {
	Verifier *Verifier // required
	Backend  Backend   // required
	// Routes are the REST API's resources, "METHOD /path/{param}" or
	// "/path/{param}" (any method); a last segment "{name+}" is greedy.
	Routes       []string
	AccountID    string           // the API's account (requestContext.accountId)
	APIID        string           // requestContext.apiId; default "local"
	Stage        string           // requestContext.stage; default "v1"
	MaxBodyBytes int64            // default 64 KiB; larger bodies get 413
	Logger       *slog.Logger     // default slog.Default()
	Now          func() time.Time // default time.Now
}

// DefaultMaxBodyBytes is the Handler's default body limit.
const DefaultMaxBodyBytes = 64 << 10

// Handler serves a Backend like an API Gateway REST API with AWS_IAM
// authorization and Lambda proxy integrations on every route. It behaves as
// a custom domain mapped to the stage with an empty base path: the URL path is
// the resource path, with no stage prefix.
type Handler struct {
	cfg    Config
	routes []route
	newID  func() string
}

// NewHandler checks cfg and compiles its routes.
func NewHandler(cfg Config) (*Handler, error) {
	if cfg.Verifier == nil || cfg.Backend == nil {
		return nil, errors.New("gateway: Verifier and Backend are required")
	}
	if cfg.APIID == "" {
		cfg.APIID = "local"
	}
	if cfg.Stage == "" {
		cfg.Stage = "v1"
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Handler{cfg: cfg, newID: newUUID}
	for _, s := range cfg.Routes {
		rt, err := parseRoute(s)
		if err != nil {
			return nil, err
		}
		h.routes = append(h.routes, rt)
	}
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.cfg.Now()
	requestID := h.newID()
	log := h.cfg.Logger.With("request_id", requestID, "method", r.Method, "path", r.URL.Path)

	rt, params, ok := h.match(r.Method, r.URL.EscapedPath())
	if !ok {
		log.Info("gateway: no such resource", "status", http.StatusForbidden)
		writeError(w, requestID, http.StatusForbidden, "MissingAuthenticationTokenException", MsgMissingToken)
		return
	}
	log = log.With("resource", rt.resource)

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		log.Info("gateway: body too large", "status", http.StatusRequestEntityTooLarge, "error", err.Error())
		writeError(w, requestID, http.StatusRequestEntityTooLarge, "RequestTooLargeException",
			fmt.Sprintf("HTTP content length exceeded %d bytes.", h.cfg.MaxBodyBytes))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	id, err := h.cfg.Verifier.Verify(r)
	if err != nil {
		var ae *AuthError
		if !errors.As(err, &ae) {
			ae = &AuthError{Code: CodeSignatureMismatch, Message: MsgSignatureMismatch, Detail: err.Error()}
		}
		log.Warn("gateway: authentication failed", "status", http.StatusForbidden, "auth_code", ae.Code, "auth_detail", ae.Detail)
		writeError(w, requestID, http.StatusForbidden, ae.ErrorType(), ae.Message)
		return
	}
	log = log.With("caller_arn", id.UserARN, "access_key", id.AccessKey)

	payload, err := json.Marshal(h.event(r, body, id, rt, params, requestID, start))
	if err != nil {
		log.Error("gateway: encoding event", "error", err.Error())
		writeError(w, requestID, http.StatusInternalServerError, "InternalServerErrorException", "Internal server error")
		return
	}
	resp, err := h.cfg.Backend(r.Context(), payload)
	if err != nil {
		log.Error("gateway: backend failed", "status", http.StatusBadGateway, "error", err.Error())
		writeError(w, requestID, http.StatusBadGateway, "", "Internal server error")
		return
	}
	if err := writeResponse(w, requestID, resp); err != nil {
		log.Error("gateway: malformed Lambda proxy response", "status", http.StatusBadGateway, "error", err.Error())
		writeError(w, requestID, http.StatusBadGateway, "", "Internal server error")
		return
	}
	log.Info("gateway: request", "status", resp.StatusCode, "duration_ms", h.cfg.Now().Sub(start).Milliseconds())
}

// writeError answers like API Gateway's own error responses.
func writeError(w http.ResponseWriter, requestID string, status int, errorType, message string) {
	b, _ := json.Marshal(map[string]string{"message": message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", requestID)
	if errorType != "" {
		w.Header().Set("X-Amzn-Errortype", errorType)
	}
	w.WriteHeader(status)
	w.Write(b)
}

// writeResponse writes a Lambda proxy response. Headers and multiValueHeaders
// are merged; a pair present in both is sent once.
func writeResponse(w http.ResponseWriter, requestID string, resp events.APIGatewayProxyResponse) error {
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return fmt.Errorf("statusCode %d", resp.StatusCode)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return fmt.Errorf("body is not base64: %w", err)
		}
	}
	hdr := w.Header()
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			hdr.Add(k, v)
		}
	}
	for k, v := range resp.Headers {
		if !slices.Contains(hdr.Values(k), v) {
			hdr.Add(k, v)
		}
	}
	if hdr.Get("Content-Type") == "" {
		hdr.Set("Content-Type", "application/json")
	}
	hdr.Set("X-Amzn-Requestid", requestID)
	w.WriteHeader(resp.StatusCode)
	w.Write(body) // a write error means the client went away
	return nil
}

// route is one resource (path template) with one method ("" for ANY).
type route struct {
	method, resource string
	segs             []string
}

func parseRoute(s string) (route, error) {
	method, path, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		method, path = "", method
	}
	if method == "ANY" {
		method = ""
	}
	rt := route{method: method, resource: path}
	if !strings.HasPrefix(path, "/") {
		return rt, fmt.Errorf("gateway: route %q: path must start with /", s)
	}
	if path != "/" {
		rt.segs = strings.Split(path[1:], "/")
	}
	for i, seg := range rt.segs {
		name, isVar := strings.CutPrefix(seg, "{")
		switch {
		case seg == "":
			return rt, fmt.Errorf("gateway: route %q: empty segment", s)
		case isVar && (!strings.HasSuffix(name, "}") || len(name) < 2):
			return rt, fmt.Errorf("gateway: route %q: bad parameter %q", s, seg)
		case strings.HasSuffix(seg, "+}") && i != len(rt.segs)-1:
			return rt, fmt.Errorf("gateway: route %q: greedy parameter must be last", s)
		case !isVar && strings.ContainsAny(seg, "{}"):
			return rt, fmt.Errorf("gateway: route %q: bad segment %q", s, seg)
		}
	}
	return rt, nil
}

// kind ranks a template segment: literal 0, {param} 1, {param+} 2.
func kind(seg string) int {
	switch {
	case strings.HasSuffix(seg, "+}"):
		return 2
	case strings.HasPrefix(seg, "{"):
		return 1
	}
	return 0
}

// matchPath returns the path parameters when the escaped path fits rt.
func (rt route) matchPath(escaped string) (map[string]string, bool) {
	var segs []string
	if escaped != "/" && escaped != "" {
		segs = strings.Split(strings.TrimPrefix(escaped, "/"), "/")
	}
	var params map[string]string
	set := func(name, raw string) bool {
		v, err := url.PathUnescape(raw)
		if err != nil || v == "" {
			return false
		}
		if params == nil {
			params = map[string]string{}
		}
		params[name] = v
		return true
	}
	for i, t := range rt.segs {
		if i >= len(segs) {
			return nil, false
		}
		switch kind(t) {
		case 2:
			return params, set(t[1:len(t)-2], strings.Join(segs[i:], "/"))
		case 1:
			if !set(t[1:len(t)-1], segs[i]) {
				return nil, false
			}
		default:
			if v, err := url.PathUnescape(segs[i]); err != nil || v != t {
				return nil, false
			}
		}
	}
	return params, len(segs) == len(rt.segs)
}

// match finds the most specific resource for the path (literal segments win
// over parameters, as in API Gateway), then its method or ANY.
func (h *Handler) match(method, escapedPath string) (route, map[string]string, bool) {
	var best *route
	var bestParams map[string]string
	for i := range h.routes {
		rt := &h.routes[i]
		params, ok := rt.matchPath(escapedPath)
		if !ok {
			continue
		}
		if best == nil || moreSpecific(rt, best) {
			best, bestParams = rt, params
		}
	}
	if best == nil {
		return route{}, nil, false
	}
	var any *route
	for i := range h.routes {
		rt := &h.routes[i]
		if rt.resource != best.resource {
			continue
		}
		if rt.method == method {
			return *rt, bestParams, true
		}
		if rt.method == "" {
			any = rt
		}
	}
	if any == nil {
		return route{}, nil, false
	}
	return *any, bestParams, true
}

func moreSpecific(a, b *route) bool {
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if ka, kb := kind(a.segs[i]), kind(b.segs[i]); ka != kb {
			return ka < kb
		}
	}
	return len(a.segs) > len(b.segs)
}

func (rt route) resourceID() string {
	sum := sha256.Sum256([]byte(rt.resource))
	return hex.EncodeToString(sum[:])[:6]
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
