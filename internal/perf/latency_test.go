package perf

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/sentinel-tvm/sentinel-tvm/internal/latencyproxy"
	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
)

// envInt reads a positive whole number from the environment.
func envInt(tb testing.TB, key string, def int) int {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		tb.Fatalf("%s=%q is not a positive whole number", key, v)
	}
	return n
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// maxRun bounds each benchmark's measuring time: SENTINEL_PERF_MAX_RUN
// (default 3m); a run that reaches it reports what it has.
func maxRun(tb testing.TB) time.Duration {
	v := os.Getenv("SENTINEL_PERF_MAX_RUN")
	if v == "" {
		return 3 * time.Minute
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		tb.Fatalf("SENTINEL_PERF_MAX_RUN=%q is not a positive duration", v)
	}
	return d
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loadavg returns /proc/loadavg's first three fields.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// BenchmarkVendVsAssumeRole measures, in one run, a full vend through
// `sentinel-tvm dev` (a SigV4-signed POST /v1/credentials from a dev
// identity, the policy cache warm: one DynamoDB TransactWriteItems and one
// STS AssumeRole) against a bare STS AssumeRole of the same role through
// the same latency proxy, and reports p50/p99 of each and their ratio
// (target: vend / bare ≤ 1.2 at p50 and p99).
//
// The two alternate, one pair per sample, so that load on the machine
// falls on both alike. Samples: max(b.N, SENTINEL_PERF_SAMPLES (200)).
func BenchmarkVendVsAssumeRole(b *testing.B) {
	requirePerf(b)
	d := sharedDev(b)
	n := max(b.N, envInt(b, "SENTINEL_PERF_SAMPLES", 200))

	// The bare call: what the handler sends STS, without the handler. The
	// same client setup as dev's (motoserver.Config through the proxy).
	cfg := motoserver.Config(d.proxyURL)
	client := sts.NewFromConfig(cfg)
	ctx := context.Background()
	assume := func(i int) error {
		_, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn:         aws.String("arn:aws:iam::444455556666:role/sentinel/prod-readonly"),
			RoleSessionName: aws.String("erin@example.com"),
			DurationSeconds: aws.Int32(900),
			SourceIdentity:  aws.String(fmt.Sprintf("stvm.erin.%08x", i)),
			Tags:            []ststypes.Tag{{Key: aws.String("sentinel:session-id"), Value: aws.String(fmt.Sprintf("%032x", i))}},
		})
		return err
	}

	// Warm up: connections, the policy cache, moto's code paths.
	if _, err := d.purge(); err != nil {
		b.Fatal(err)
	}
	for i := range 10 {
		if err := d.vend("erin"); err != nil {
			b.Fatal(err)
		}
		if err := assume(i); err != nil {
			b.Fatal(err)
		}
	}
	load := loadavg()

	// Each sample's time, and the same less moto's own time on its calls
	// (what it would be if the emulator answered in no time: the injected
	// latency standing for the whole of AWS's).
	var vends, bare, vendsX, bareX []time.Duration
	var calls []latencyproxy.Call
	timed := func(f func() error, all, x *[]time.Duration) {
		d.proxy.Reset()
		t0 := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		el := time.Since(t0)
		c := d.proxy.Reset()
		calls = append(calls, c...)
		*all = append(*all, el)
		*x = append(*x, el-upstream(c))
	}
	deadline := time.Now().Add(maxRun(b))
	b.ResetTimer()
	for i := range n {
		if time.Now().After(deadline) {
			b.Logf("stopped after %d of %d samples: SENTINEL_PERF_MAX_RUN reached", i, n)
			n = i
			break
		}
		// Every sample starts from an empty table (see purge: moto's
		// TransactWriteItems slows down as the table grows, DynamoDB's
		// does not). Between samples, not timed.
		if i > 0 {
			b.StopTimer()
			if _, err := d.purge(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		vend := func() error { return d.vend("erin") }
		sts := func() error { return assume(i) }
		if i%2 == 0 {
			timed(vend, &vends, &vendsX)
			timed(sts, &bare, &bareX)
		} else {
			timed(sts, &bare, &bareX)
			timed(vend, &vends, &vendsX)
		}
	}
	b.StopTimer()
	if len(vends) == 0 {
		b.Fatal("no sample within SENTINEL_PERF_MAX_RUN")
	}

	for _, s := range [][]time.Duration{vends, bare, vendsX, bareX} {
		slices.Sort(s)
	}
	vp50, vp99 := percentile(vends, 50), percentile(vends, 99)
	bp50, bp99 := percentile(bare, 50), percentile(bare, 99)
	xvp50, xvp99 := percentile(vendsX, 50), percentile(vendsX, 99)
	xbp50, xbp99 := percentile(bareX, 50), percentile(bareX, 99)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(vp50), "vend-p50-ms")
	b.ReportMetric(ms(vp99), "vend-p99-ms")
	b.ReportMetric(ms(bp50), "sts-p50-ms")
	b.ReportMetric(ms(bp99), "sts-p99-ms")
	b.ReportMetric(float64(vp50)/float64(bp50), "ratio-p50")
	b.ReportMetric(float64(vp99)/float64(bp99), "ratio-p99")
	b.ReportMetric(float64(xvp50)/float64(xbp50), "ratio-p50-no-moto")
	b.ReportMetric(float64(xvp99)/float64(xbp99), "ratio-p99-no-moto")
	b.Logf("%d samples each, latencies %s, load average before %s, after %s", n, latencies(d.proxy), load, loadavg())
	b.Logf("vend p50 %.1f ms p99 %.1f ms (min %.1f max %.1f); bare AssumeRole p50 %.1f ms p99 %.1f ms (min %.1f max %.1f); ratio p50 %.3f p99 %.3f",
		ms(vp50), ms(vp99), ms(vends[0]), ms(vends[len(vends)-1]), ms(bp50), ms(bp99), ms(bare[0]), ms(bare[len(bare)-1]),
		float64(vp50)/float64(bp50), float64(vp99)/float64(bp99))
	b.Logf("less moto's own time: vend p50 %.1f ms p99 %.1f ms; bare p50 %.1f ms p99 %.1f ms; ratio p50 %.3f p99 %.3f",
		ms(xvp50), ms(xvp99), ms(xbp50), ms(xbp99), float64(xvp50)/float64(xbp50), float64(xvp99)/float64(xbp99))
	b.Logf("moto's own time per call (p50/p99): %s", upstreamTimes(calls))
	if ssm := countService(calls, "ssm"); ssm > 0 {
		b.Errorf("%d SSM calls during the run: the policy cache was not warm", ssm)
	}
}

// upstream is moto's time on calls.
func upstream(calls []latencyproxy.Call) time.Duration {
	var t time.Duration
	for _, c := range calls {
		t += c.Upstream
	}
	return t
}

func latencies(p *latencyproxy.Proxy) string {
	return fmt.Sprintf("sts=%s dynamodb=%s ssm=%s", p.Latency("sts"), p.Latency("dynamodb"), p.Latency("ssm"))
}

func countService(calls []latencyproxy.Call, svc string) int {
	n := 0
	for _, c := range calls {
		if c.Service == svc {
			n++
		}
	}
	return n
}

// upstreamTimes summarises moto's time per operation.
func upstreamTimes(calls []latencyproxy.Call) string {
	by := map[string][]time.Duration{}
	for _, c := range calls {
		if c.Status != http.StatusOK {
			continue
		}
		k := c.Service + ":" + c.Operation
		by[k] = append(by[k], c.Upstream)
	}
	var out []string
	for k, ds := range by {
		slices.Sort(ds)
		out = append(out, fmt.Sprintf("%s %.1f/%.1f ms (%d)", k, ms(percentile(ds, 50)), ms(percentile(ds, 99)), len(ds)))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}
