package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// restEvent is the REST API proxy-integration event in its wire form, with
// the keys and nulls API Gateway sends (testdata/rest-api-iam-event.json).
// events.APIGatewayProxyRequest cannot express all of it (it has no
// principalOrgId and omits empty identity fields), so the Handler marshals
// this and lets the backend decode it, as the Lambda runtime would.
type restEvent struct {
	Resource                        string              `json:"resource"`
	Path                            string              `json:"path"`
	HTTPMethod                      string              `json:"httpMethod"`
	Headers                         map[string]string   `json:"headers"`
	MultiValueHeaders               map[string][]string `json:"multiValueHeaders"`
	QueryStringParameters           map[string]string   `json:"queryStringParameters"`
	MultiValueQueryStringParameters map[string][]string `json:"multiValueQueryStringParameters"`
	PathParameters                  map[string]string   `json:"pathParameters"`
	StageVariables                  map[string]string   `json:"stageVariables"`
	RequestContext                  restContext         `json:"requestContext"`
	Body                            *string             `json:"body"`
	IsBase64Encoded                 bool                `json:"isBase64Encoded"`
}

type restContext struct {
	AccountID         string       `json:"accountId"`
	APIID             string       `json:"apiId"`
	DomainName        string       `json:"domainName"`
	DomainPrefix      string       `json:"domainPrefix"`
	ExtendedRequestID string       `json:"extendedRequestId"`
	HTTPMethod        string       `json:"httpMethod"`
	Identity          restIdentity `json:"identity"`
	Path              string       `json:"path"`
	Protocol          string       `json:"protocol"`
	RequestID         string       `json:"requestId"`
	RequestTime       string       `json:"requestTime"`
	RequestTimeEpoch  int64        `json:"requestTimeEpoch"`
	ResourceID        string       `json:"resourceId"`
	ResourcePath      string       `json:"resourcePath"`
	Stage             string       `json:"stage"`
}

type restIdentity struct {
	AccessKey                     *string   `json:"accessKey"`
	AccountID                     *string   `json:"accountId"`
	Caller                        *string   `json:"caller"`
	CognitoAuthenticationProvider *string   `json:"cognitoAuthenticationProvider"`
	CognitoAuthenticationType     *string   `json:"cognitoAuthenticationType"`
	CognitoIdentityID             *string   `json:"cognitoIdentityId"`
	CognitoIdentityPoolID         *string   `json:"cognitoIdentityPoolId"`
	PrincipalOrgID                *string   `json:"principalOrgId"`
	SourceIP                      string    `json:"sourceIp"`
	User                          *string   `json:"user"`
	UserAgent                     *string   `json:"userAgent"`
	UserArn                       *string   `json:"userArn"`
	ClientCert                    *struct{} `json:"clientCert"` // null: no mutual TLS
}

// nullable maps "" to JSON null, as API Gateway sends absent values.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// event builds the proxy event for a verified request.
func (h *Handler) event(r *http.Request, body []byte, id SigningIdentity, rt route, params map[string]string, requestID string, now time.Time) restEvent {
	sourceIP, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		sourceIP = r.RemoteAddr
	}
	headers, multi := eventHeaders(r, sourceIP)
	query, multiQuery := eventQuery(r.URL.RawQuery)

	ev := restEvent{
		Resource:                        rt.resource,
		Path:                            r.URL.Path,
		HTTPMethod:                      r.Method,
		Headers:                         headers,
		MultiValueHeaders:               multi,
		QueryStringParameters:           query,
		MultiValueQueryStringParameters: multiQuery,
		PathParameters:                  params,
		RequestContext: restContext{
			AccountID:         h.cfg.AccountID,
			APIID:             h.cfg.APIID,
			DomainName:        r.Host,
			DomainPrefix:      domainPrefix(r.Host),
			ExtendedRequestID: extendedID(),
			HTTPMethod:        r.Method,
			Identity: restIdentity{
				AccessKey:      nullable(id.AccessKey),
				AccountID:      nullable(id.AccountID),
				Caller:         nullable(id.Caller),
				PrincipalOrgID: nullable(id.PrincipalOrgID),
				SourceIP:       sourceIP,
				User:           nullable(id.User),
				UserAgent:      nullable(r.Header.Get("User-Agent")),
				UserArn:        nullable(id.UserARN),
			},
			Path:             r.URL.Path,
			Protocol:         r.Proto,
			RequestID:        requestID,
			RequestTime:      now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			RequestTimeEpoch: now.UnixMilli(),
			ResourceID:       rt.resourceID(),
			ResourcePath:     rt.resource,
			Stage:            h.cfg.Stage,
		},
	}
	// Binary media types are not configured: text bodies pass as they are;
	// bodies that are not UTF-8 are base64-encoded rather than mangled.
	if len(body) > 0 {
		s := string(body)
		if !utf8.Valid(body) {
			s = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
		ev.Body = &s
	}
	return ev
}

// domainPrefix is the first label of the host name, as API Gateway reports it.
func domainPrefix(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	prefix, _, _ := strings.Cut(host, ".")
	return prefix
}

// eventHeaders returns the request headers as API Gateway passes them: the
// last value in headers, all values in multiValueHeaders, Host included, and
// X-Forwarded-For/-Port/-Proto describing the connection (the client's own
// X-Forwarded-For is kept and the peer address appended, never trusted).
func eventHeaders(r *http.Request, sourceIP string) (map[string]string, map[string][]string) {
	multi := make(map[string][]string, len(r.Header)+4)
	for k, vs := range r.Header {
		multi[k] = append([]string(nil), vs...)
	}
	multi["Host"] = []string{r.Host}
	xff := sourceIP
	if prev := strings.Join(r.Header.Values("X-Forwarded-For"), ", "); prev != "" {
		xff = prev + ", " + sourceIP
	}
	multi["X-Forwarded-For"] = []string{xff}
	proto, port := "http", "80"
	if r.TLS != nil {
		proto, port = "https", "443"
	}
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(addr.String()); err == nil {
			port = p
		}
	}
	multi["X-Forwarded-Port"] = []string{port}
	multi["X-Forwarded-Proto"] = []string{proto}

	single := make(map[string]string, len(multi))
	for k, vs := range multi {
		single[k] = vs[len(vs)-1]
	}
	return single, multi
}

// eventQuery returns decoded query parameters, null when there are none.
func eventQuery(raw string) (map[string]string, map[string][]string) {
	values, _ := url.ParseQuery(raw) // like API Gateway, keep what parses
	if len(values) == 0 {
		return nil, nil
	}
	single := make(map[string]string, len(values))
	for k, vs := range values {
		single[k] = vs[len(vs)-1]
	}
	return single, values
}

// extendedID mimics API Gateway's extendedRequestId (12 random bytes, base64).
func extendedID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
