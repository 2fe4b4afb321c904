// Package gateway is the local stand-in for the API Gateway REST API in front
// of the Lambda handler: it verifies AWS Signature Version 4 the way AWS_IAM
// authorization does (Verifier), and turns each verified request into the
// REST API proxy-integration event a Lambda would receive (Handler).
//
// It is used by `sentinel-tvm dev` only; production traffic goes through the
// real API Gateway. Fidelity with API Gateway matters more than features:
// the same handler must see the same event in both places.
package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// SigningIdentity is who signed a request, resolved from its access key:
// what API Gateway puts into requestContext.identity for a caller
// authenticated with AWS_IAM (vend.Identity is the same seen by the handler).
type SigningIdentity struct {
	UserARN        string // userArn, e.g. arn:aws:sts::111122223333:assumed-role/dev/alice
	AccountID      string // accountId of the caller
	Caller         string // caller, e.g. AROAEXAMPLE:alice
	User           string // user, the unique ID (same as Caller for assumed roles)
	PrincipalOrgID string // principalOrgId, empty outside AWS Organizations
	AccessKey      string // accessKey; the Verifier sets it from the request
}

// CredentialStore resolves an access key ID to its identity and secrets.
// sessionToken is empty for long-term keys; for temporary credentials the
// request must carry exactly that token in X-Amz-Security-Token.
type CredentialStore interface {
	Lookup(accessKeyID string) (id SigningIdentity, secretKey string, sessionToken string, ok bool)
}

// Credential is one entry of a StaticStore.
type Credential struct {
	Identity        SigningIdentity
	SecretAccessKey string
	SessionToken    string
}

// StaticStore is a CredentialStore over a fixed map keyed by access key ID
// (the dev identities `sentinel-tvm dev` issues). Do not modify it while in use.
type StaticStore map[string]Credential

var _ CredentialStore = StaticStore(nil)

// Lookup implements CredentialStore.
func (s StaticStore) Lookup(accessKeyID string) (SigningIdentity, string, string, bool) {
	c, ok := s[accessKeyID]
	return c.Identity, c.SecretAccessKey, c.SessionToken, ok
}

// Messages API Gateway answers with (403, body {"message": ...}).
const (
	MsgMissingToken      = "Missing Authentication Token"
	MsgSignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	MsgInvalidToken      = "The security token included in the request is invalid."
)

// Codes of AuthError, stable for logs and tests.
const (
	CodeMissingToken        = "missing_token"        // no Authorization header
	CodeIncompleteSignature = "incomplete_signature" // malformed Authorization or X-Amz-Date
	CodeInvalidScope        = "invalid_scope"        // credential scope: date, region, service, terminator
	CodeExpired             = "expired"              // X-Amz-Date too old or too far ahead
	CodeInvalidToken        = "invalid_token"        // unknown access key or wrong session token
	CodeSignatureMismatch   = "signature_mismatch"   // signature, signed headers or body hash differ
	CodeBodyTooLarge        = "body_too_large"       // body over Verifier.MaxBodyBytes
)

// AuthError is a failed verification. Message is API Gateway's wording and
// may go to the client; Detail is for logs. Neither ever holds the secret
// key, the session token or a signature.
type AuthError struct {
	Code    string
	Message string
	Detail  string
}

func (e *AuthError) Error() string { return "sigv4 " + e.Code + ": " + e.Detail }

// ErrorType is the x-amzn-ErrorType header API Gateway sends with the error.
func (e *AuthError) ErrorType() string {
	switch e.Code {
	case CodeMissingToken:
		return "MissingAuthenticationTokenException"
	case CodeIncompleteSignature:
		return "IncompleteSignatureException"
	case CodeInvalidToken:
		return "UnrecognizedClientException"
	case CodeBodyTooLarge:
		return "RequestTooLargeException"
	}
	return "InvalidSignatureException"
}

func authErr(code, msg, format string, args ...any) *AuthError {
	return &AuthError{Code: code, Message: msg, Detail: fmt.Sprintf(format, args...)}
}

const (
	algorithm     = "AWS4-HMAC-SHA256"
	amzDateLayout = "20060102T150405Z"
	maxSkew       = 5 * time.Minute
	// DefaultVerifierMaxBody is API Gateway's payload limit (10 MiB).
	DefaultVerifierMaxBody = 10 << 20
)

// Verifier checks SigV4 Authorization headers as API Gateway AWS_IAM
// authorization does, for the service execute-api in one region.
//
// Limits, all failing closed: query-string (presigned) signatures and the
// Date header in place of X-Amz-Date are not supported, and a request whose
// signed headers include one the SDK never signs (user-agent, expect,
// x-amzn-trace-id, transfer-encoding, or content-length "0") is rejected as
// a signature mismatch. Requests signed by the AWS SDKs and CLI pass.
type Verifier struct {
	Region       string           // the API's region; the credential scope must name it
	Store        CredentialStore  // nil rejects every key
	Now          func() time.Time // nil means time.Now
	MaxBodyBytes int64            // 0 means DefaultVerifierMaxBody

	service string // "" means execute-api; tests use AWS's "service" vectors
}

// authorization is a parsed Authorization header.
type authorization struct {
	accessKey, date, region, service, terminator string
	signedHeaders                                []string
	signedHeadersRaw, signature                  string
}

// Verify authenticates r and returns the caller's identity, or an
// *AuthError. It reads the body to check its hash and leaves r.Body
// readable from the start again.
func (v *Verifier) Verify(r *http.Request) (SigningIdentity, error) {
	id, err := v.verify(r)
	if err != nil {
		return SigningIdentity{}, err
	}
	return id, nil
}

func (v *Verifier) verify(r *http.Request) (SigningIdentity, *AuthError) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return SigningIdentity{}, authErr(CodeMissingToken, MsgMissingToken, "no Authorization header")
	}
	a, aerr := parseAuthorization(header, r.Header.Get("X-Amz-Date") != "")
	if aerr != nil {
		return SigningIdentity{}, aerr
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse(amzDateLayout, amzDate)
	if err != nil || t.Format(amzDateLayout) != amzDate {
		return SigningIdentity{}, authErr(CodeIncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
			"X-Amz-Date %q is not in ISO 8601 basic format", truncate(amzDate, 32))
	}
	if !slices.Contains(a.signedHeaders, "host") {
		return SigningIdentity{}, authErr(CodeIncompleteSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
			"host not among signed headers %q", a.signedHeadersRaw)
	}
	if !slices.Contains(a.signedHeaders, "x-amz-date") {
		return SigningIdentity{}, authErr(CodeIncompleteSignature, "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
			"x-amz-date not among signed headers %q", a.signedHeadersRaw)
	}
	if aerr := v.checkScope(a, t, amzDate); aerr != nil {
		return SigningIdentity{}, aerr
	}
	if aerr := v.checkTime(t); aerr != nil {
		return SigningIdentity{}, aerr
	}

	var (
		id            SigningIdentity
		secret, token string
		ok            bool
	)
	if v.Store != nil {
		id, secret, token, ok = v.Store.Lookup(a.accessKey)
	}
	if !ok {
		return SigningIdentity{}, authErr(CodeInvalidToken, MsgInvalidToken, "unknown access key %s", a.accessKey)
	}
	id.AccessKey = a.accessKey
	sentToken := r.Header.Get("X-Amz-Security-Token")
	switch {
	case token == "" && sentToken != "":
		return SigningIdentity{}, authErr(CodeInvalidToken, MsgInvalidToken, "session token sent for long-term key %s", a.accessKey)
	case token != "" && sentToken == "":
		return SigningIdentity{}, authErr(CodeInvalidToken, MsgInvalidToken, "no session token for temporary key %s", a.accessKey)
	case !hmac.Equal([]byte(sentToken), []byte(token)):
		return SigningIdentity{}, authErr(CodeInvalidToken, MsgInvalidToken, "wrong session token for key %s", a.accessKey)
	}

	payloadHash, aerr := v.bodyHash(r)
	if aerr != nil {
		return SigningIdentity{}, aerr
	}

	want, wantSigned, err := v.sign(r, a, t, payloadHash, aws.Credentials{AccessKeyID: a.accessKey, SecretAccessKey: secret, SessionToken: sentToken})
	if err != nil {
		return SigningIdentity{}, authErr(CodeSignatureMismatch, MsgSignatureMismatch, "cannot rebuild canonical request: %v", err)
	}
	if wantSigned != a.signedHeadersRaw {
		return SigningIdentity{}, authErr(CodeSignatureMismatch, MsgSignatureMismatch,
			"signed headers %q cannot be reproduced from the request (got %q)", a.signedHeadersRaw, wantSigned)
	}
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return SigningIdentity{}, authErr(CodeSignatureMismatch, MsgSignatureMismatch, "signature mismatch for key %s", a.accessKey)
	}
	return id, nil
}

// parseAuthorization splits "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
// Missing parts are reported together, as API Gateway does.
func parseAuthorization(h string, haveDate bool) (authorization, *AuthError) {
	var a authorization
	var cred string
	if rest, ok := strings.CutPrefix(h, algorithm+" "); ok {
		for part := range strings.SplitSeq(rest, ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "Credential":
				cred = val
			case "SignedHeaders":
				a.signedHeadersRaw = val
			case "Signature":
				a.signature = val
			}
		}
	}
	var missing []string
	if cred == "" {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if a.signature == "" {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if a.signedHeadersRaw == "" {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	if !haveDate {
		missing = append(missing, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if len(missing) > 0 {
		algo, _, _ := strings.Cut(h, " ")
		return a, authErr(CodeIncompleteSignature, strings.Join(missing, " "),
			"incomplete Authorization header (scheme %q, %d problems)", truncate(algo, 32), len(missing))
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[0] == "" {
		return a, authErr(CodeIncompleteSignature, "Authorization header requires 'Credential' parameter.",
			"credential has %d parts, want 5", len(parts))
	}
	a.accessKey, a.date, a.region, a.service, a.terminator = parts[0], parts[1], parts[2], parts[3], parts[4]
	a.signedHeaders = strings.Split(a.signedHeadersRaw, ";")
	return a, nil
}

func (v *Verifier) serviceName() string {
	if v.service != "" {
		return v.service
	}
	return "execute-api"
}

func (v *Verifier) checkScope(a authorization, t time.Time, amzDate string) *AuthError {
	if day := t.Format("20060102"); a.date != day {
		return authErr(CodeInvalidScope, fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			truncate(a.date, 16), day, amzDate), "credential date %q != %s", truncate(a.date, 16), day)
	}
	if a.region != v.Region {
		return authErr(CodeInvalidScope, fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", truncate(a.region, 32)),
			"credential region %q, want %q", truncate(a.region, 32), v.Region)
	}
	if s := v.serviceName(); a.service != s {
		return authErr(CodeInvalidScope, fmt.Sprintf("Credential should be scoped to correct service: '%s'.", s),
			"credential service %q, want %q", truncate(a.service, 32), s)
	}
	if a.terminator != "aws4_request" {
		return authErr(CodeInvalidScope, fmt.Sprintf("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", truncate(a.terminator, 32)),
			"credential terminator %q", truncate(a.terminator, 32))
	}
	return nil
}

func (v *Verifier) checkTime(t time.Time) *AuthError {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	n := now().UTC()
	f := func(t time.Time) string { return t.Format(amzDateLayout) }
	if earliest := n.Add(-maxSkew); t.Before(earliest) {
		return authErr(CodeExpired, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 5 min.)", f(t), f(earliest), f(n)),
			"X-Amz-Date %s is %s old", f(t), n.Sub(t).Round(time.Second))
	}
	if latest := n.Add(maxSkew); t.After(latest) {
		return authErr(CodeExpired, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 5 min.)", f(t), f(latest), f(n)),
			"X-Amz-Date %s is %s ahead", f(t), t.Sub(n).Round(time.Second))
	}
	return nil
}

// bodyHash reads the body (restoring it for later readers), hashes it and
// checks a sent X-Amz-Content-Sha256 against the real hash.
func (v *Verifier) bodyHash(r *http.Request) (string, *AuthError) {
	limit := v.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultVerifierMaxBody
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		r.Body.Close()
		if err != nil {
			return "", authErr(CodeSignatureMismatch, MsgSignatureMismatch, "reading body: %v", err)
		}
		if int64(len(b)) > limit {
			return "", authErr(CodeBodyTooLarge, fmt.Sprintf("HTTP content length exceeded %d bytes.", limit), "body over %d bytes", limit)
		}
		body = b
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:])
	if sent := r.Header.Get("X-Amz-Content-Sha256"); sent != "" && sent != h {
		return "", authErr(CodeSignatureMismatch, MsgSignatureMismatch, "X-Amz-Content-Sha256 does not match the body")
	}
	return h, nil
}

// sign recomputes the signature with the SDK's signer over a copy of r that
// carries only the headers the client signed, and returns it with the
// signed-header list the SDK produced.
func (v *Verifier) sign(r *http.Request, a authorization, t time.Time, payloadHash string, creds aws.Credentials) (sig, signedHeaders string, err error) {
	c := &http.Request{
		Method: r.Method,
		// No scheme: the SDK then keeps any port in Host, as sent on the wire.
		URL:    &url.URL{Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Host:   r.Host,
		Header: http.Header{},
	}
	for _, name := range a.signedHeaders {
		switch name {
		case "host", "x-amz-date":
			// The SDK writes these itself from Host and the signing time.
		case "content-length":
			n, err := strconv.ParseInt(r.Header.Get("Content-Length"), 10, 64)
			if err != nil {
				n = r.ContentLength
			}
			c.ContentLength = n
		default:
			if vals, ok := r.Header[http.CanonicalHeaderKey(name)]; ok {
				c.Header[http.CanonicalHeaderKey(name)] = vals
			}
		}
	}
	_, tokenSigned := c.Header["X-Amz-Security-Token"]
	err = v4.NewSigner().SignHTTP(context.Background(), creds, c, payloadHash, v.serviceName(), v.Region, t,
		func(o *v4.SignerOptions) { o.DisableSessionToken = !tokenSigned })
	if err != nil {
		return "", "", err
	}
	got := c.Header.Get("Authorization")
	_, after, _ := strings.Cut(got, "SignedHeaders=")
	signedHeaders, _, _ = strings.Cut(after, ",")
	_, sig, _ = strings.Cut(got, "Signature=")
	return sig, signedHeaders, nil
}

// truncate bounds client-controlled text that ends up in messages and logs.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
