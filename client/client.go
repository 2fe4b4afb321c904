// Package client calls the Sentinel TVM HTTP API (v1) with the caller's own
// AWS identity: every request is signed with SigV4 for the service
// execute-api, as the REST API's AWS_IAM authorization requires. Callers
// never sign by hand.
//
// Client has one method per route. Provider is an aws.CredentialsProvider
// that vends through the TVM, for aws.NewCredentialsCache and
// config.WithCredentialsProvider:
//
//	c, err := client.New("https://abc123.execute-api.eu-west-1.amazonaws.com/v1")
//	...
//	cfg, err := config.LoadDefaultConfig(ctx, config.WithCredentialsProvider(
//		aws.NewCredentialsCache(client.Provider{Client: c, Profile: "dev-readonly"})))
//
// Service refusals are *Error values carrying the API's error code.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
)

// SigningService is the SigV4 service name of API Gateway.
const SigningService = "execute-api"

// Defaults of a Client.
const (
	DefaultTimeout = 30 * time.Second // a whole request, including reading the answer
	DefaultRetries = 2                // extra attempts of a GET after a 5xx or a network error
)

// maxResponseBytes bounds what the client reads of an answer.
const maxResponseBytes = 1 << 20

// ErrNoRegion: New found no region to sign for.
var ErrNoRegion = errors.New("client: no region to sign for")

// Client calls one TVM deployment. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	region    string
	creds     aws.CredentialsProvider
	http      *http.Client
	signer    *v4.Signer
	retries   int
	backoff   time.Duration
	userAgent string
	mode      string
	now       func() time.Time
}

type options struct {
	mode       string
	creds      aws.CredentialsProvider
	profile    string
	region     string
	httpClient *http.Client
	retries    int
	backoff    time.Duration
	userAgent  string
	now        func() time.Time
	loadConfig func(ctx context.Context, profile string) (aws.Config, error)
}

// Option configures New.
type Option func(*options)

// WithCredentials signs with these credentials instead of the default
// chain. A provider that is not already an *aws.CredentialsCache is wrapped
// in one.
func WithCredentials(p aws.CredentialsProvider) Option { return func(o *options) { o.creds = p } }

// WithSourceProfile signs with the credentials of this shared-config profile
// (the default chain with AWS_PROFILE=name).
func WithSourceProfile(name string) Option { return func(o *options) { o.profile = name } }

// WithRegion sets the region to sign for. Without it the region comes from
// the URL's host (*.execute-api.REGION.amazonaws.com), then from the AWS
// configuration (AWS_REGION, the profile's region).
func WithRegion(region string) Option { return func(o *options) { o.region = region } }

// WithHTTPClient sends requests with c instead of a client with
// DefaultTimeout.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithRetries sets how many more times a GET is tried after a 5xx answer
// or a network error (never after a 4xx). Other methods are never retried.
func WithRetries(n int) Option { return func(o *options) { o.retries = max(n, 0) } }

// WithRetryBackoff sets the wait before the first retry; it doubles after.
func WithRetryBackoff(d time.Duration) Option { return func(o *options) { o.backoff = d } }

// WithUserAgent sets the User-Agent header (never signed).
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// Client modes: how the caller uses the TVM, sent in the ClientHeader of
// every request. The service records the mode on the session and in its
// decision log, and policies can read it as request.client. The caller
// sets it, so it refines a policy rule and never secures one.
const (
	ModeCredentialProcess = "credential_process" // an AWS credential_process
	ModeAgent             = "agent"              // a local credential server
	ModeExec              = "exec"               // a command run with credentials
	ModeSDK               = "sdk"                // this package (the default), e.g. Provider
	ModeConsole           = "console"            // the operators' web console (sentinel-tvm console)
	ModeOther             = "other"              // anything else
)

// ClientHeader carries the client mode.
const ClientHeader = "X-Sentinel-Client"

var modes = []string{ModeCredentialProcess, ModeAgent, ModeExec, ModeSDK, ModeConsole, ModeOther}

// WithMode sets the client mode (default ModeSDK); New refuses a mode that
// is not one of the Mode constants.
func WithMode(mode string) Option { return func(o *options) { o.mode = mode } }

// WithClock sets the signing clock (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

var apiHostRE = regexp.MustCompile(`^[a-z0-9]+\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d{1,2})\.amazonaws\.com(?:\.cn)?$`)

// RegionFromURL returns the region of an API Gateway URL
// (https://ID.execute-api.REGION.amazonaws.com/...), or "".
func RegionFromURL(u *url.URL) string {
	if m := apiHostRE.FindStringSubmatch(strings.ToLower(u.Hostname())); m != nil {
		return m[1]
	}
	return ""
}

// New returns a client for the API at rawURL: the stage's invoke URL (or a
// custom domain, or `sentinel-tvm dev`'s http://127.0.0.1:PORT); routes are
// appended to its path.
func New(rawURL string, opts ...Option) (*Client, error) {
	o := options{mode: ModeSDK, retries: DefaultRetries, backoff: 200 * time.Millisecond, userAgent: "sentinel-tvm-client", now: time.Now,
		loadConfig: func(ctx context.Context, profile string) (aws.Config, error) {
			var fns []func(*config.LoadOptions) error
			if profile != "" {
				fns = append(fns, config.WithSharedConfigProfile(profile))
			}
			return config.LoadDefaultConfig(ctx, fns...)
		}}
	for _, opt := range opts {
		opt(&o)
	}
	if !slices.Contains(modes, o.mode) {
		return nil, fmt.Errorf("client: mode %q is not one of %s", o.mode, strings.Join(modes, ", "))
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: URL %q is not an http(s) URL without credentials, query or fragment", rawURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	region := o.region
	if region == "" {
		region = RegionFromURL(u)
	}
	creds := o.creds
	if creds == nil || region == "" {
		cfg, err := o.loadConfig(context.Background(), o.profile)
		if err != nil {
			return nil, fmt.Errorf("client: loading the AWS configuration: %w", err)
		}
		if creds == nil {
			creds = cfg.Credentials
		}
		if region == "" {
			region = cfg.Region
		}
	}
	if region == "" {
		return nil, fmt.Errorf("%w: the URL %s does not name one; set a region (AWS_REGION or --region)", ErrNoRegion, u.Redacted())
	}
	if creds == nil {
		return nil, errors.New("client: no AWS credentials to sign with")
	}
	if _, ok := creds.(*aws.CredentialsCache); !ok {
		creds = aws.NewCredentialsCache(creds)
	}
	hc := o.httpClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
		tr.TLSHandshakeTimeout = 10 * time.Second
		tr.ResponseHeaderTimeout = DefaultTimeout
		hc = &http.Client{Transport: tr, Timeout: DefaultTimeout}
	}
	return &Client{
		base: u, region: region, creds: creds, http: hc, signer: v4.NewSigner(),
		retries: o.retries, backoff: o.backoff, userAgent: o.userAgent, mode: o.mode, now: o.now,
	}, nil
}

// URL returns the API's base URL.
func (c *Client) URL() string { return c.base.String() }

// Mode returns the client mode the client sends.
func (c *Client) Mode() string { return c.mode }

// Region returns the region the client signs for.
func (c *Client) Region() string { return c.region }

// Error is an error answer of the API: the service's own
// {"error": {...}} body, or API Gateway's (authentication, throttling),
// whose code is its x-amzn-ErrorType or "http_STATUS".
type Error struct {
	Status     int
	Code       string // e.g. policy_denied, approval_required, rate_limited
	Message    string
	RequestID  string
	ApprovalID string        // approval_required
	RetryAfter time.Duration // rate_limited (Retry-After), 0 when not given
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// Error codes of the API.
const (
	CodeInvalidRequest   = "invalid_request"
	CodeForbidden        = "forbidden"
	CodePolicyDenied     = "policy_denied"
	CodeApprovalRequired = "approval_required"
	CodeSessionRevoked   = "session_revoked"
	CodeNotFound         = "not_found"
	CodeConflict         = "conflict"
	CodeRateLimited      = "rate_limited"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

// IsCode reports whether err is an *Error with the code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// CallOption sets something on one call.
type CallOption func(*call)

type call struct {
	idempotencyKey string
}

// WithIdempotencyKey sends an Idempotency-Key header: the service answers a
// repeated state-creating call with the same key as it answered the first.
func WithIdempotencyKey(key string) CallOption { return func(c *call) { c.idempotencyKey = key } }

// do sends one signed request and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any, opts ...CallOption) error {
	var co call
	for _, o := range opts {
		o(&co)
	}
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("client: encoding the request: %w", err)
		}
		body = b
	}
	// path is escaped (IDs went through url.PathEscape).
	unescaped, err := url.PathUnescape(path)
	if err != nil {
		return fmt.Errorf("client: bad path %q", path)
	}
	u := *c.base
	u.Path, u.RawPath = c.base.Path+unescaped, c.base.EscapedPath()+path
	u.RawQuery = query.Encode()

	attempts := 1
	if method == http.MethodGet {
		attempts += c.retries
	}
	wait := c.backoff
	var last error
	for i := range attempts {
		if i > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return last
			case <-t.C:
			}
			wait *= 2
		}
		status, data, hdr, err := c.send(ctx, method, u.String(), body, co)
		if err != nil {
			last = err
			if ctx.Err() != nil {
				return err
			}
			var se *signError
			if errors.As(err, &se) {
				return err
			}
			continue
		}
		if status >= 200 && status < 300 {
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("client: %s %s: the answer is not the expected JSON: %w", method, path, err)
			}
			return nil
		}
		last = decodeError(status, data, hdr)
		if status < 500 {
			return last
		}
	}
	return last
}

// signError is a failure to sign (no caller credentials): never retried.
type signError struct{ err error }

func (e *signError) Error() string { return e.err.Error() }
func (e *signError) Unwrap() error { return e.err }

func (c *Client) send(ctx context.Context, method, rawURL string, body []byte, co call) (int, []byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	if len(body) == 0 {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(ClientHeader, c.mode)
	if co.idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", co.idempotencyKey)
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return 0, nil, nil, &signError{fmt.Errorf("client: no AWS credentials to sign the request: %w", err)}
	}
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), SigningService, c.region, c.now().UTC()); err != nil {
		return 0, nil, nil, &signError{fmt.Errorf("client: signing the request: %w", err)}
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent) // after signing: never signed
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("client: %s %s: %w", method, c.base.Redacted(), unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("client: reading the answer: %w", err)
	}
	return resp.StatusCode, data, resp.Header, nil
}

// unwrapURLError drops *url.Error's "Get URL:" prefix (the caller names the
// URL once).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// decodeError reads an error answer: the service's body, or API Gateway's
// {"message": ...} / {"Message": ...}.
func decodeError(status int, data []byte, hdr http.Header) *Error {
	e := &Error{Status: status, RequestID: hdr.Get("X-Amzn-Requestid")}
	var body struct {
		Error *struct {
			Code              string `json:"code"`
			Message           string `json:"message"`
			RequestID         string `json:"request_id"`
			ApprovalID        string `json:"approval_id"`
			RetryAfterSeconds int    `json:"retry_after_seconds"`
		} `json:"error"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(data, &body)
	switch {
	case body.Error != nil && body.Error.Code != "":
		e.Code, e.Message, e.ApprovalID = body.Error.Code, body.Error.Message, body.Error.ApprovalID
		if body.Error.RequestID != "" {
			e.RequestID = body.Error.RequestID
		}
		if body.Error.RetryAfterSeconds > 0 {
			e.RetryAfter = time.Duration(body.Error.RetryAfterSeconds) * time.Second
		}
	default:
		e.Code = hdr.Get("X-Amzn-Errortype")
		if i := strings.IndexByte(e.Code, ':'); i >= 0 {
			e.Code = e.Code[:i]
		}
		if e.Code == "" {
			e.Code = "http_" + strconv.Itoa(status)
		}
		e.Message = cmpOr(body.Message, body.MessageU, http.StatusText(status))
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	if s := hdr.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(s); err == nil {
			e.RetryAfter = max(time.Until(t).Round(time.Second), 0)
		}
	}
	return e
}

func cmpOr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
