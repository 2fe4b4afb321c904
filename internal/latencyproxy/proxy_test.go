package latencyproxy

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
)

func TestService(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		host   string
		want   string
	}{
		{"credential scope", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=abc"}, "127.0.0.1:1", "sts"},
		{"scope wins over target", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20250101/eu-west-1/dynamodb/aws4_request, SignedHeaders=host", "X-Amz-Target": "AmazonSSM.GetParameter"}, "", "dynamodb"},
		{"dynamodb target", map[string]string{"X-Amz-Target": "DynamoDB_20120810.TransactWriteItems"}, "", "dynamodb"},
		{"ssm target", map[string]string{"X-Amz-Target": "AmazonSSM.GetParameter"}, "", "ssm"},
		{"kms target", map[string]string{"X-Amz-Target": "TrentService.Decrypt"}, "", "kms"},
		{"global host", nil, "sts.amazonaws.com", "sts"},
		{"regional host", nil, "dynamodb.us-east-1.amazonaws.com:443", "dynamodb"},
		{"unknown", nil, "127.0.0.1:5055", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://"+cmpOr(tt.host, "x")+"/", nil)
			r.Host = tt.host
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			if got := Service(r); got != tt.want {
				t.Errorf("Service = %q, want %q", got, tt.want)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestOperation(t *testing.T) {
	tests := []struct {
		name   string
		target string
		ctype  string
		url    string
		body   string
		want   string
	}{
		{"json target", "DynamoDB_20120810.UpdateItem", "application/x-amz-json-1.0", "/", "{}", "UpdateItem"},
		{"query form", "", "application/x-www-form-urlencoded; charset=utf-8", "/", "Action=AssumeRole&Version=2011-06-15", "AssumeRole"},
		{"query string", "", "", "/?Action=GetCallerIdentity", "", "GetCallerIdentity"},
		{"unknown", "", "application/json", "/", "{}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", tt.url, strings.NewReader(tt.body))
			if tt.target != "" {
				r.Header.Set("X-Amz-Target", tt.target)
			}
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			if got := Operation(r, []byte(tt.body)); got != tt.want {
				t.Errorf("Operation = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseLatencies(t *testing.T) {
	p, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Latency("sts"); got != 60*time.Millisecond {
		t.Errorf("default sts = %v, want 60ms", got)
	}
	if err := p.ParseLatencies("sts=5ms, dynamodb=0s,*=1ms"); err != nil {
		t.Fatal(err)
	}
	for svc, want := range map[string]time.Duration{"sts": 5 * time.Millisecond, "dynamodb": 0, "ssm": 10 * time.Millisecond, "iam": time.Millisecond} {
		if got := p.Latency(svc); got != want {
			t.Errorf("Latency(%s) = %v, want %v", svc, got, want)
		}
	}
	for _, bad := range []string{"sts", "sts=fast", "=1ms", "sts=-1ms"} {
		if err := p.ParseLatencies(bad); err == nil {
			t.Errorf("ParseLatencies(%q): no error", bad)
		}
	}
	if _, err := New("127.0.0.1:1"); err == nil {
		t.Error("New accepts an upstream without a scheme")
	}
}

func startProxy(t *testing.T, upstream string) (*Proxy, string) {
	t.Helper()
	p, err := New(upstream)
	if err != nil {
		t.Fatal(err)
	}
	u, err := p.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, u
}

// The headers come at once, the body after the service's latency; the
// call is recorded with its service and operation.
func TestDelaysTheBody(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Upstream", "moto")
		w.WriteHeader(http.StatusTeapot)
		w.Write(append([]byte("echo:"), b...))
	}))
	defer up.Close()
	p, u := startProxy(t, up.URL)
	p.SetLatency("sts", 150*time.Millisecond)

	req, _ := http.NewRequest("POST", u+"/", strings.NewReader("Action=AssumeRole&Version=2011-06-15"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=x")
	var firstByte time.Time
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{GotFirstResponseByte: func() { firstByte = time.Now() }}))
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	total := time.Since(start)
	if resp.StatusCode != http.StatusTeapot || resp.Header.Get("X-Upstream") != "moto" || string(body) != "echo:Action=AssumeRole&Version=2011-06-15" {
		t.Fatalf("answer %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if total < 150*time.Millisecond {
		t.Errorf("the call took %v, want at least the 150ms latency", total)
	}
	if h := firstByte.Sub(start); h > 100*time.Millisecond {
		t.Errorf("headers after %v, want them before the latency", h)
	}
	calls := p.Reset()
	if len(calls) != 1 || calls[0].Service != "sts" || calls[0].Operation != "AssumeRole" || calls[0].Status != http.StatusTeapot {
		t.Fatalf("calls = %+v", calls)
	}
	if len(p.Calls()) != 0 {
		t.Error("Reset kept calls")
	}
}

// With Serialize, moto never sees two requests at once, yet concurrent
// callers overlap their latencies.
func TestSerialize(t *testing.T) {
	var inFlight, peak atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inFlight.Add(-1)
	}))
	defer up.Close()
	p, u := startProxy(t, up.URL)
	p.Serialize = true
	p.SetLatency("dynamodb", 200*time.Millisecond)

	const n = 8
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", u+"/", strings.NewReader("{}"))
			req.Header.Set("X-Amz-Target", "DynamoDB_20120810.GetItem")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	if got := peak.Load(); got != 1 {
		t.Errorf("moto saw %d requests at once, want 1", got)
	}
	if el := time.Since(start); el > 4*200*time.Millisecond {
		t.Errorf("%d concurrent calls took %v: the latencies did not overlap", n, el)
	}
	if got := len(p.Calls()); got != n {
		t.Errorf("%d calls recorded, want %d", got, n)
	}
}

// Against moto with the SDK: the service and operation of real calls.
func TestRecordsSDKCalls(t *testing.T) {
	srv := motoserver.Start(t)
	p, u := startProxy(t, srv.URL)
	p.ParseLatencies("sts=1ms,dynamodb=1ms")
	cfg := motoserver.Config(u)
	ctx := context.Background()
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{Limit: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.Calls() {
		got = append(got, c.Service+" "+c.Operation)
	}
	if want := "sts GetCallerIdentity,dynamodb ListTables"; strings.Join(got, ",") != want {
		t.Errorf("calls %q, want %q", got, want)
	}
}
