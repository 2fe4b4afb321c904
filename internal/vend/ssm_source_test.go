package vend_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/sentinel-tvm/sentinel-tvm/internal/awsdeps"
	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// fakeSSM serves one parameter value, or Err, and counts the reads.
type fakeSSM struct {
	mu     sync.Mutex
	value  *string
	err    error
	inputs []*ssm.GetParameterInput
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	if f.err != nil {
		return nil, f.err
	}
	return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: in.Name, Type: ssmtypes.ParameterTypeSecureString, Value: f.value}}, nil
}

func (f *fakeSSM) set(value string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.value, f.err = aws.String(value), err
}

func (f *fakeSSM) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.inputs)
}

func gzipBase64(t testing.TB, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func newSSMSource(t testing.TB) (*awsdeps.SSMPolicySource, *fakeSSM, *testutil.Clock) {
	c := testPolicy(t)
	f := &fakeSSM{}
	f.set(string(c.Bundle), nil)
	clk := testutil.NewClock(testNow)
	return &awsdeps.SSMPolicySource{Client: f, Parameter: "/sentinel-tvm/policy", SHA256: c.SHA256, TTL: time.Minute, Now: clk.Now}, f, clk
}

func TestSSMPolicySourceCache(t *testing.T) {
	ctx := context.Background()
	src, f, clk := newSSMSource(t)
	p, err := src.Policy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.SHA256() != testPolicy(t).SHA256 {
		t.Errorf("sha256 = %s", p.SHA256())
	}
	in := f.inputs[0]
	if aws.ToString(in.Name) != "/sentinel-tvm/policy" || !aws.ToBool(in.WithDecryption) {
		t.Errorf("GetParameter input: %s decrypt %v", aws.ToString(in.Name), aws.ToBool(in.WithDecryption))
	}
	// Within the TTL: from memory.
	for _, d := range []time.Duration{0, time.Second, 59 * time.Second} {
		clk.Set(testNow.Add(d))
		if p2, err := src.Policy(ctx); err != nil || p2 != p {
			t.Fatalf("at +%s: %v (same policy: %v)", d, err, p2 == p)
		}
	}
	if n := f.calls(); n != 1 {
		t.Fatalf("%d reads within one TTL, want 1", n)
	}
	// At the TTL: read again.
	clk.Set(testNow.Add(time.Minute))
	if _, err := src.Policy(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.calls(); n != 2 {
		t.Fatalf("%d reads after the TTL, want 2", n)
	}
	// A failure after the TTL is a failure: no stale policy...
	clk.Set(testNow.Add(2*time.Minute + time.Second))
	f.set("", errors.New("ThrottlingException: Rate exceeded"))
	for i := 0; i < 3; i++ {
		p, err := src.Policy(ctx)
		if p != nil || !errors.Is(err, vend.ErrPolicyUnavailable) {
			t.Fatalf("read %d after a failure: %v, %v", i, p, err)
		}
	}
	// ...and every request tries again until SSM answers.
	if n := f.calls(); n != 5 {
		t.Errorf("%d reads, want 5", n)
	}
	f.set(string(testPolicy(t).Bundle), nil)
	if _, err := src.Policy(ctx); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestSSMPolicySourceConcurrentColdStart(t *testing.T) {
	src, f, _ := newSSMSource(t)
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Go(func() {
			if _, err := src.Policy(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := f.calls(); n != 1 {
		t.Errorf("%d reads for 20 concurrent first requests, want 1", n)
	}
}

func TestSSMPolicySourceValues(t *testing.T) {
	c := testPolicy(t)
	huge := make([]byte, 16<<20+1)
	tests := []struct {
		name    string
		value   string
		nilVal  bool
		sha     string
		wantErr string
	}{
		{name: "bundle JSON", value: string(c.Bundle)},
		{name: "bundle JSON with whitespace", value: "\n " + string(c.Bundle) + "\n"},
		{name: "base64 gzip", value: gzipBase64(t, c.Bundle)},
		{name: "sha256 mismatch", value: string(c.Bundle), sha: strings.Repeat("0", 64),
			wantErr: "bundle sha256 " + c.SHA256 + " does not match the deployed " + strings.Repeat("0", 64)},
		{name: "tampered bundle", value: strings.Replace(string(c.Bundle), "dev-data", "all-data", 1),
			wantErr: "does not match the deployed " + c.SHA256},
		{name: "invalid JSON with its sha256", value: `{"format": `, sha: sha256Hex(`{"format": `), wantErr: "policy unavailable: "},
		{name: "not base64", value: "not a bundle!", wantErr: "the value is neither bundle JSON nor base64"},
		{name: "base64 not gzip", value: base64.StdEncoding.EncodeToString([]byte("plain")), wantErr: "the value is base64 but not gzip"},
		{name: "gzip bomb", value: gzipBase64(t, huge), wantErr: "the bundle exceeds 16777216 bytes"},
		{name: "no value", nilVal: true, wantErr: "ssm parameter /sentinel-tvm/policy has no value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, f, _ := newSSMSource(t)
			f.set(tt.value, nil)
			if tt.nilVal {
				f.value = nil
			}
			if tt.sha != "" {
				src.SHA256 = tt.sha
			}
			p, err := src.Policy(context.Background())
			if tt.wantErr == "" {
				if err != nil || p.SHA256() != c.SHA256 {
					t.Fatalf("err %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, vend.ErrPolicyUnavailable) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v\nwant one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestHandlerWithSSMPolicy runs requests against an SSM-backed policy:
// whatever is wrong with the parameter, the answer is 503 and nothing is
// vended.
func TestHandlerWithSSMPolicy(t *testing.T) {
	c := testPolicy(t)
	tests := []struct {
		name   string
		value  string
		err    error
		sha    string
		status int
	}{
		{name: "JSON", value: string(c.Bundle), status: 200},
		{name: "base64 gzip", value: gzipBase64(t, c.Bundle), status: 200},
		{name: "SSM failing", err: awsError("SSM", "GetParameter", 400, "AccessDeniedException"), status: 503},
		{name: "SSM throttling", err: awsError("SSM", "GetParameter", 400, "ThrottlingException"), status: 503},
		{name: "sha256 mismatch", value: string(c.Bundle), sha: strings.Repeat("a", 64), status: 503},
		{name: "invalid JSON", value: "{not json", sha: sha256Hex("{not json"), status: 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, f, _ := newSSMSource(t)
			f.set(tt.value, tt.err)
			if tt.sha != "" {
				src.SHA256 = tt.sha
			}
			h := newHarness(t, withPolicySource(src))
			src.Now = h.clock.Now
			for _, ev := range []string{"credentials-native.json", "profiles.json", "health.json"} {
				r := h.do(loadEvent(t, ev))
				if r.StatusCode != tt.status {
					t.Fatalf("%s: %d %s", ev, r.StatusCode, r.Body)
				}
				if tt.status == 503 {
					checkNoAWSText(t, r.Body)
					if !strings.HasPrefix(r.Err.Message, "the policy is unavailable") {
						t.Errorf("%s: message %q", ev, r.Err.Message)
					}
				}
			}
			if tt.status == 503 && (h.sts.Calls() != 0 || len(h.store.Calls()) != 0) {
				t.Error("dependencies called without a policy")
			}
			if tt.status == 200 && f.calls() != 1 {
				t.Errorf("%d SSM reads for three requests within the TTL, want 1", f.calls())
			}
		})
	}
}

func sha256Hex(s string) string { return policy.SHA256Hex([]byte(s)) }
