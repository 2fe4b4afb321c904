package awsdeps_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"golang.org/x/time/rate"

	"github.com/sentinel-tvm/sentinel-tvm/internal/awsdeps"
	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
	"github.com/sentinel-tvm/sentinel-tvm/internal/policy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

func TestMain(m *testing.M) { os.Exit(motoserver.Main(m)) }

// bundle compiles a one-profile policy whose description is desc, so two
// descriptions give two bundles with two hashes.
func bundle(t testing.TB, desc string) (value, sha string) {
	t.Helper()
	src := fmt.Sprintf(`
profile "dev" {
  role_arn    = "arn:aws:iam::111122223333:role/dev"
  description = %q
}

rule "engineers" {
  effect     = "allow"
  profiles   = ["dev"]
  principals = ["arn:aws:iam::111122223333:role/engineer-*"]
}
`, desc)
	c, diags := policy.Compile([]policy.Source{{Name: "policy.hcl", Data: []byte(src)}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	// As Terraform writes it: base64gzip.
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(c.Bundle); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), c.SHA256
}

// countingSSM counts GetParameter calls: the test must show that the
// instances re-read the parameter during the change, not only served their
// caches.
type countingSSM struct {
	awsdeps.SSMAPI
	calls atomic.Int64
}

func (c *countingSSM) GetParameter(ctx context.Context, in *ssm.GetParameterInput, opt ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	c.calls.Add(1)
	return c.SSMAPI.GetParameter(ctx, in, opt...)
}

// TestPolicyChangeRefusesNothing applies a policy change as Terraform does
// (the parameter's new value first, the function's environment after it)
// on moto, with instances of the old and then the new configuration
// serving throughout: with the parameter's version pinned, none is refused,
// and each serves the bundle its configuration names.
func TestPolicyChangeRefusesNothing(t *testing.T) {
	srv := motoserver.Shared(t)
	client := ssm.NewFromConfig(srv.Config)
	ctx := context.Background()
	name := "/sentinel-tvm-test/pinned"
	v1, sha1 := bundle(t, "before")
	v2, sha2 := bundle(t, "after")

	put := func(value string) int64 {
		t.Helper()
		out, err := client.PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String(name), Value: aws.String(value), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.Version
	}
	ver1 := put(v1)

	const ttl = 20 * time.Millisecond
	counter := &countingSSM{SSMAPI: client}
	source := func(version int64, sha string) *awsdeps.SSMPolicySource {
		return &awsdeps.SSMPolicySource{Client: counter, Parameter: fmt.Sprintf("%s:%d", name, version), SHA256: sha, TTL: ttl}
	}

	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		served   atomic.Int64
		mu       sync.Mutex
		failures []string
	)
	// serve runs one warm instance until stop, asserting every answer.
	serve := func(src *awsdeps.SSMPolicySource, want string) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			p, err := src.Policy(ctx)
			switch {
			case err != nil:
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
			case p.SHA256() != want:
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%s served %s, want %s", src.Parameter, p.SHA256(), want))
				mu.Unlock()
			default:
				served.Add(1)
			}
			time.Sleep(time.Millisecond)
		}
	}

	// Old instances serve from the start, through the whole change.
	for range 4 {
		wg.Add(1)
		go serve(source(ver1, sha1), sha1)
	}
	time.Sleep(5 * ttl)

	// Step 1: the parameter's new value. Old instances' caches expire
	// several times before step 2.
	callsBefore := counter.calls.Load()
	ver2 := put(v2)
	if ver2 == ver1 {
		t.Fatalf("the parameter's version did not change (%d)", ver2)
	}
	time.Sleep(10 * ttl)
	if counter.calls.Load() == callsBefore {
		t.Fatal("no instance re-read the parameter between the two steps: the test shows nothing")
	}

	// Step 2: the environment names the new version and hash; new
	// instances start beside the old ones, which drain afterwards.
	for range 4 {
		wg.Add(1)
		go serve(source(ver2, sha2), sha2)
	}
	time.Sleep(10 * ttl)
	close(stop)
	wg.Wait()

	if len(failures) > 0 {
		t.Fatalf("%d of %d requests refused or served the wrong bundle; first: %s", len(failures), int(served.Load())+len(failures), failures[0])
	}
	if served.Load() == 0 {
		t.Fatal("nothing served")
	}
	t.Logf("%d requests served, %d parameter reads", served.Load(), counter.calls.Load())
}

// TestUnpinnedParameterRefusesDuringChange is the window the pin closes: an
// instance reading the parameter's latest version refuses every request
// between the parameter's update and its environment's.
func TestUnpinnedParameterRefusesDuringChange(t *testing.T) {
	srv := motoserver.Shared(t)
	client := ssm.NewFromConfig(srv.Config)
	ctx := context.Background()
	name := "/sentinel-tvm-test/unpinned"
	v1, sha1 := bundle(t, "before")
	v2, _ := bundle(t, "after")
	for _, v := range []string{v1, v2} {
		if _, err := client.PutParameter(ctx, &ssm.PutParameterInput{
			Name: aws.String(name), Value: aws.String(v), Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true),
		}); err != nil {
			t.Fatal(err)
		}
	}
	src := &awsdeps.SSMPolicySource{Client: client, Parameter: name, SHA256: sha1, TTL: time.Minute}
	if _, err := src.Policy(ctx); !errors.Is(err, vend.ErrPolicyUnavailable) {
		t.Fatalf("unpinned read after the update: %v, want policy unavailable", err)
	}
	pinned := &awsdeps.SSMPolicySource{Client: client, Parameter: name + ":1", SHA256: sha1, TTL: time.Minute}
	if _, err := pinned.Policy(ctx); err != nil {
		t.Fatalf("pinned read of version 1: %v", err)
	}
}

// throttlingSSM is a fake SSM endpoint (JSON protocol) that answers
// GetParameter with value, throttling as allow decides.
func throttlingSSM(t testing.TB, value string, allow func() bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var throttled atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if !strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".GetParameter") {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"ValidationException","message":"unexpected call"}`)
			return
		}
		if !allow() {
			throttled.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{
			"Name": "/p", "Type": "SecureString", "Value": value, "Version": 1,
		}})
	}))
	t.Cleanup(s.Close)
	return s, &throttled
}

// coldClient is a new instance's SSM client for endpoint, with the
// production retryer.
func coldClient(endpoint string) *ssm.Client { return clientWith(endpoint, awsdeps.SSMRetryer()) }

// clientWith is an SSM client for endpoint with retryer (nil: the SDK's
// default).
func clientWith(endpoint string, retryer aws.Retryer) *ssm.Client {
	return ssm.NewFromConfig(aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(endpoint),
	}, func(o *ssm.Options) {
		if retryer != nil {
			o.Retryer = retryer
		}
	})
}

// TestDefaultRetryerGivesUpOnThrottles is why the client has a retryer of
// its own: the SDK's default gives up after three attempts.
func TestDefaultRetryerGivesUpOnThrottles(t *testing.T) {
	value, sha := bundle(t, "x")
	var n atomic.Int64
	srv, _ := throttlingSSM(t, value, func() bool { return n.Add(1) > 5 })
	src := &awsdeps.SSMPolicySource{Client: clientWith(srv.URL, nil), Parameter: "/p", SHA256: sha, TTL: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := src.Policy(ctx); err == nil {
		t.Fatal("the default retryer loaded the policy through 5 throttles: the test no longer shows the difference")
	}
}

// TestThrottledReadIsRetried: a cold start that meets throttles retries
// them and loads the policy.
func TestThrottledReadIsRetried(t *testing.T) {
	value, sha := bundle(t, "x")
	var n atomic.Int64
	srv, throttled := throttlingSSM(t, value, func() bool { return n.Add(1) > 5 })
	src := &awsdeps.SSMPolicySource{Client: coldClient(srv.URL), Parameter: "/p", SHA256: sha, TTL: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := src.Policy(ctx); err != nil {
		t.Fatalf("after %d throttles: %v", throttled.Load(), err)
	}
	if throttled.Load() != 5 {
		t.Fatalf("%d throttles answered, want 5", throttled.Load())
	}
}

// TestThrottledUntilTheDeadlineFailsClosed: throttles that outlast the
// request's deadline end in policy_unavailable, within the deadline.
func TestThrottledUntilTheDeadlineFailsClosed(t *testing.T) {
	value, sha := bundle(t, "x")
	srv, throttled := throttlingSSM(t, value, func() bool { return false })
	src := &awsdeps.SSMPolicySource{Client: coldClient(srv.URL), Parameter: "/p", SHA256: sha, TTL: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := src.Policy(ctx)
	if !errors.Is(err, vend.ErrPolicyUnavailable) {
		t.Fatalf("got %v, want policy unavailable", err)
	}
	if throttled.Load() < 2 {
		t.Fatalf("%d attempts: throttles were not retried", throttled.Load())
	}
}

// BenchmarkColdStartBurst: burst cold starts, each a new instance with its
// own client reading the policy once under a 10 s deadline, against an
// endpoint that allows 40 GetParameter calls per second (Parameter Store's
// default throughput) with a burst of 40. Reported: cold starts that loaded
// the policy, throttles answered, and the latency of the slowest and the
// median cold start. docs/benchmarks.md records a run:
//
//	go test ./internal/awsdeps -run '^$' -bench ColdStartBurst -benchtime 1x
func BenchmarkColdStartBurst(b *testing.B) {
	for _, tc := range []struct {
		name    string
		retryer func() aws.Retryer
	}{
		{"retryer=sentinel", awsdeps.SSMRetryer},
		{"retryer=sdk-default", func() aws.Retryer { return nil }},
	} {
		b.Run(tc.name, func(b *testing.B) { coldStartBurst(b, tc.retryer) })
	}
}

func coldStartBurst(b *testing.B, retryer func() aws.Retryer) {
	const burst = 200
	value, sha := bundle(b, "x")
	for range b.N {
		limiter := rate.NewLimiter(40, 40)
		srv, throttled := throttlingSSM(b, value, limiter.Allow)
		var (
			wg        sync.WaitGroup
			ok        atomic.Int64
			mu        sync.Mutex
			latencies []time.Duration
		)
		start := make(chan struct{})
		for range burst {
			wg.Add(1)
			go func() {
				defer wg.Done()
				src := &awsdeps.SSMPolicySource{Client: clientWith(srv.URL, retryer()), Parameter: "/p", SHA256: sha, TTL: time.Minute}
				<-start
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if _, err := src.Policy(ctx); err == nil {
					ok.Add(1)
				}
				mu.Lock()
				latencies = append(latencies, time.Since(t0))
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		slices.Sort(latencies)
		b.ReportMetric(float64(ok.Load()), "loaded")
		b.ReportMetric(float64(burst), "coldstarts")
		b.ReportMetric(float64(throttled.Load()), "throttles")
		b.ReportMetric(latencies[len(latencies)/2].Seconds(), "p50-s")
		b.ReportMetric(latencies[len(latencies)*99/100].Seconds(), "p99-s")
		b.ReportMetric(latencies[len(latencies)-1].Seconds(), "max-s")
	}
}
