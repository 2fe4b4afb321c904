package perf

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// concurrency is the number of concurrent clients of the throughput
// benchmark (docs/benchmarks.md).
const concurrency = 16

// BenchmarkThroughput16 sends vends from 16 concurrent clients (16 dev
// identities, so no two share a rate-limit window) to `sentinel-tvm dev`
// at the proxy's latencies, SENTINEL_PERF_VENDS_PER_CLIENT (10) each per
// round, SENTINEL_PERF_ROUNDS (4) rounds with moto's table emptied between
// them (see purge; the rate is all vends over the time inside rounds), and
// reports vends per second, the latency under that load, the dev
// process's peak resident memory (VmHWM: the peak over its whole life,
// start-up and provisioning included; and the highest VmRSS sampled every
// 50 ms during the run) and its CPU time per vend (utime+stime from
// /proc/PID/stat), which bounds what dev could serve on this machine if
// AWS were not the limit.
//
// dev sends moto one request at a time (moto is not thread-safe; see
// motoserver.Config), so moto's own time per vend (a TransactWriteItems
// and an AssumeRole, about 20 ms) caps the rate whatever the concurrency;
// the injected latencies overlap (latencyproxy delays the body, after
// dev's lock is released).
func BenchmarkThroughput16(b *testing.B) {
	requirePerf(b)
	d := sharedDev(b)
	per := envInt(b, "SENTINEL_PERF_VENDS_PER_CLIENT", 10)
	rounds := envInt(b, "SENTINEL_PERF_ROUNDS", 4)
	if _, err := d.purge(); err != nil {
		b.Fatal(err)
	}
	for i := range concurrency { // warm: connections, policy cache
		if err := d.vend(loadName(i)); err != nil {
			b.Fatal(err)
		}
	}
	d.proxy.Reset()
	load := loadavg()
	cpu0, err := cpuTime(d.pid)
	if err != nil {
		b.Fatal(err)
	}

	var maxRSS int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if cur, _, err := d.rss(); err == nil {
				maxRSS = max(maxRSS, cur)
			}
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	}()

	lat := make([][]time.Duration, concurrency)
	errs := make(chan error, concurrency*rounds)
	var elapsed time.Duration
	deadline := time.Now().Add(maxRun(b))
	b.ResetTimer()
	for r := range rounds {
		if time.Now().After(deadline) {
			b.Logf("stopped after %d of %d rounds: SENTINEL_PERF_MAX_RUN reached", r, rounds)
			break
		}
		if r > 0 {
			b.StopTimer()
			if _, err := d.purge(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		var wg sync.WaitGroup
		start := time.Now()
		for c := range concurrency {
			wg.Go(func() {
				for range per {
					if time.Now().After(deadline) {
						return
					}
					t0 := time.Now()
					if err := d.vend(loadName(c)); err != nil {
						errs <- err
						return
					}
					lat[c] = append(lat[c], time.Since(t0))
				}
			})
		}
		wg.Wait()
		elapsed += time.Since(start)
	}
	b.StopTimer()
	close(stopSampling)
	<-sampled
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	cpu1, _ := cpuTime(d.pid)
	_, peak, _ := d.rss()
	calls := d.proxy.Reset()

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	n := len(all)
	if n == 0 {
		b.Fatal("no vend within SENTINEL_PERF_MAX_RUN")
	}
	rate := float64(n) / elapsed.Seconds()
	cpuPerVend := (cpu1 - cpu0) / time.Duration(n)
	b.ReportMetric(float64(elapsed)/float64(n), "ns/op")
	b.ReportMetric(rate, "vends/s")
	b.ReportMetric(ms(percentile(all, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(all, 99)), "p99-ms")
	b.ReportMetric(float64(peak)/(1<<20), "dev-VmHWM-MiB")
	b.ReportMetric(float64(maxRSS)/(1<<20), "dev-maxRSS-MiB")
	b.ReportMetric(ms(cpuPerVend), "dev-cpu-ms/vend")
	b.Logf("%d clients x %d vends x %d rounds = %d in %s: %.1f vends/s; latency p50 %.1f ms p99 %.1f ms; latencies %s; load average before %s, after %s",
		concurrency, per, rounds, n, elapsed.Round(time.Millisecond), rate, ms(percentile(all, 50)), ms(percentile(all, 99)), latencies(d.proxy), load, loadavg())
	b.Logf("dev process: VmHWM %.1f MiB (life peak), max VmRSS during the run %.1f MiB, CPU %.2f ms per vend (%.0f vends/s per core)",
		float64(peak)/(1<<20), float64(maxRSS)/(1<<20), ms(cpuPerVend), 1000/ms(cpuPerVend))
	b.Logf("moto's own time per call (p50/p99): %s; moto busy %.0f%% of the run", upstreamTimes(calls), 100*float64(upstream(calls))/float64(elapsed))
	if got, want := countService(calls, "sts"), n; got != want {
		b.Errorf("%d AssumeRole calls for %d vends", got, want)
	}
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on
// Linux everywhere Go runs.
const clockTicks = 100

// cpuTime returns a process's user+system CPU time from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) in parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// utime and stime are fields 14 and 15 of stat; f starts at field 3.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, strconv.ErrSyntax
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}
