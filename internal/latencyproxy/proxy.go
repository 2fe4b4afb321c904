// Package latencyproxy is an HTTP proxy for the AWS emulator that adds the
// latency of the real AWS services: each request is forwarded to moto and
// its answer delayed by a per-service latency (by default STS 60 ms,
// DynamoDB 8 ms, SSM 10 ms). It also records every call, so a test can
// count the AWS calls one request to the TVM made.
//
// The service of a request is read from its SigV4 credential scope
// (Authorization: ... Credential=AKID/DATE/REGION/SERVICE/aws4_request),
// then from X-Amz-Target (DynamoDB_20120810.*, AmazonSSM.*), then from the
// host name (sts.amazonaws.com, dynamodb.us-east-1.amazonaws.com).
//
// Where the latency goes: the request reaches moto at once; moto's status
// line and headers are sent back at once; the body (chunked, so a caller
// waits for its end even when it is empty) follows after the latency. A caller sees the whole latency on every call (an SDK reads the
// body before a call returns), while the clients of motoserver.Config,
// which send moto one request at a time and hold their lock only until the
// headers arrive, still overlap the latencies of concurrent calls as they
// would against AWS. Delaying before forwarding would hold that lock across
// the latency and serialise every concurrent vend.
package latencyproxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Default latencies, per SigV4 service name: what a Lambda in the same
// region typically sees (STS AssumeRole is the slow one).
var DefaultLatencies = map[string]time.Duration{
	"sts":      60 * time.Millisecond,
	"dynamodb": 8 * time.Millisecond,
	"ssm":      10 * time.Millisecond,
}

// Call is one request the proxy forwarded.
type Call struct {
	Service   string // SigV4 service name, "" when unknown
	Operation string // e.g. TransactWriteItems, AssumeRole; "" when unknown
	Status    int    // moto's status code (502 when moto did not answer)
	Start     time.Time
	End       time.Time     // when the delayed body was sent
	Upstream  time.Duration // of which moto took (queueing behind Serialize included)
}

// Proxy forwards to an upstream (moto) with per-service latency.
// Configure it before Start; Latency, Calls and Reset are safe to use while
// it serves.
type Proxy struct {
	// Upstream is moto's URL, e.g. http://127.0.0.1:5055.
	Upstream *url.URL
	// Serialize sends upstream one request at a time (moto is not
	// thread-safe), for callers that do not serialise their own requests.
	Serialize bool

	mu        sync.Mutex
	latencies map[string]time.Duration
	other     time.Duration // services not in latencies
	calls     []Call

	upstream sync.Mutex
	rp       *httputil.ReverseProxy
	srv      *http.Server
	ln       net.Listener
}

// New returns a proxy for upstream with DefaultLatencies.
func New(upstream string) (*Proxy, error) {
	u, err := url.Parse(upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("latencyproxy: upstream %q is not an http(s) URL", upstream)
	}
	p := &Proxy{Upstream: u, latencies: map[string]time.Duration{}}
	for k, v := range DefaultLatencies {
		p.latencies[k] = v
	}
	return p, nil
}

// SetLatency sets the latency of a SigV4 service ("sts", "dynamodb", ...);
// service "*" sets the latency of every service not named.
func (p *Proxy) SetLatency(service string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if service == "*" {
		p.other = d
		return
	}
	p.latencies[strings.ToLower(service)] = d
}

// Latency returns the latency applied to service.
func (p *Proxy) Latency(service string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d, ok := p.latencies[service]; ok {
		return d
	}
	return p.other
}

// ParseLatencies reads "sts=60ms,dynamodb=8ms,ssm=10ms,*=0s" into SetLatency
// calls.
func (p *Proxy) ParseLatencies(spec string) error {
	for _, kv := range strings.Split(spec, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		name, val, ok := strings.Cut(kv, "=")
		d, err := time.ParseDuration(strings.TrimSpace(val))
		if !ok || strings.TrimSpace(name) == "" || err != nil || d < 0 {
			return fmt.Errorf("latencyproxy: %q is not SERVICE=DURATION (e.g. sts=60ms)", kv)
		}
		p.SetLatency(strings.TrimSpace(name), d)
	}
	return nil
}

// Calls returns the calls recorded since the last Reset, in the order
// they started.
func (p *Proxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// Reset forgets the recorded calls and returns them.
func (p *Proxy) Reset() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.calls
	p.calls = nil
	return c
}

// Start serves on addr (host:port, port 0 picks one) and returns the
// proxy's URL.
func (p *Proxy) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("latencyproxy: %w", err)
	}
	p.ln = ln
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

// Close stops serving.
func (p *Proxy) Close() error {
	if p.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.srv.Shutdown(ctx)
}

// ServeHTTP forwards r upstream, sends the answer's headers, waits the
// service's latency and sends the body.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "latencyproxy: reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	service := Service(r)
	op := Operation(r, body)

	rec := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	upStart := time.Now()
	if p.Serialize {
		p.upstream.Lock()
	}
	p.reverseProxy().ServeHTTP(rec, r)
	if p.Serialize {
		p.upstream.Unlock()
	}
	upstream := time.Since(upStart)

	for k, v := range rec.header {
		w.Header()[k] = v
	}
	// Chunked, so that a caller waits for the end of the body even when
	// it is empty.
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.status)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	time.Sleep(p.Latency(service))
	// Recorded before the body goes out: once the caller has the answer,
	// Calls includes it.
	p.mu.Lock()
	p.calls = append(p.calls, Call{Service: service, Operation: op, Status: rec.status, Start: start, End: time.Now(), Upstream: upstream})
	p.mu.Unlock()
	w.Write(rec.body.Bytes())
}

func (p *Proxy) reverseProxy() *httputil.ReverseProxy {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rp == nil {
		up := p.Upstream
		p.rp = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(up)
				pr.Out.Host = pr.In.Host // as signed
			},
			Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second},
			ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
				http.Error(w, "latencyproxy: upstream: "+err.Error(), http.StatusBadGateway)
			},
		}
	}
	return p.rp
}

// bufferedResponse holds moto's whole answer, so its headers can go out
// before the delayed body.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(code int) {
	if !b.wrote {
		b.status, b.wrote = code, true
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}

var (
	scopeRE = regexp.MustCompile(`Credential=[^/,\s]+/\d{8}/[^/,\s]+/([a-z0-9-]+)/aws4_request`)
	hostRE  = regexp.MustCompile(`^([a-z0-9-]+)\.([a-z0-9-]+\.)?amazonaws\.com(:\d+)?$`)
)

// targetPrefixes maps X-Amz-Target prefixes of the JSON protocols to the
// SigV4 service.
var targetPrefixes = []struct{ prefix, service string }{
	{"DynamoDB_", "dynamodb"},
	{"DynamoDBStreams_", "dynamodb"},
	{"AmazonSSM.", "ssm"},
	{"TrentService.", "kms"},
	{"AWSSecurityTokenServiceV20110615.", "sts"},
}

// Service returns the SigV4 service name of an AWS API request, or "".
func Service(r *http.Request) string {
	if m := scopeRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		for _, p := range targetPrefixes {
			if strings.HasPrefix(t, p.prefix) {
				return p.service
			}
		}
	}
	if m := hostRE.FindStringSubmatch(strings.ToLower(r.Host)); m != nil {
		return m[1]
	}
	return ""
}

// Operation returns the API operation of a request: the X-Amz-Target's
// action (JSON protocols) or the Action form field (query protocol: STS,
// IAM), or "".
func Operation(r *http.Request, body []byte) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if _, op, ok := strings.Cut(t, "."); ok {
			return op
		}
		return t
	}
	if v := r.URL.Query().Get("Action"); v != "" {
		return v
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if q, err := url.ParseQuery(string(body)); err == nil {
			return q.Get("Action")
		}
	}
	return ""
}
