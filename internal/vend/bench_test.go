package vend_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// benchService is the handler with in-process fakes: the memory store, the
// fake STS, the compiled policy, JSON logs and metrics to io.Discard.
func benchService(b *testing.B) *vend.Service {
	b.Helper()
	clk := testutil.NewClock(testNow)
	cfg := testConfig()
	cfg.RateLimit = 1 << 30
	svc, err := vend.New(cfg, vend.Deps{
		Policy:  vend.StaticPolicy{P: testPolicy(b).Policy},
		Store:   store.NewMemory(store.Options{Now: clk.Now}),
		STS:     &testutil.STS{Now: clk.Now, Keys: fakeKeys, DiscardInputs: true},
		Log:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Metrics: io.Discard,
		Now:     clk.Now,
	})
	if err != nil {
		b.Fatal(err)
	}
	return svc
}

// benchHandle runs the event b.N times, reporting allocations and the
// p50/p99 latency of single requests (the target is p99 <= 1 ms).
func benchHandle(b *testing.B, e event, wantStatus int) {
	svc := benchService(b)
	raw := e.raw(b)
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		resp, _ := svc.HandleJSON(ctx, raw)
		lat = append(lat, time.Since(start))
		if resp.StatusCode != wantStatus {
			b.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Nanoseconds()) }
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
}

func BenchmarkHandleAllow(b *testing.B) {
	benchHandle(b, loadEvent(b, "credentials-native.json").body(`{"profile":"dev-readonly","duration_seconds":1800}`), 200)
}

func BenchmarkHandleDeny(b *testing.B) {
	benchHandle(b, loadEvent(b, "credentials-native.json").profile("prod-denied"), 403)
}

func BenchmarkHandleProfiles(b *testing.B) {
	benchHandle(b, loadEvent(b, "profiles.json"), 200)
}
