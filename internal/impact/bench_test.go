//go:build unix

package impact

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/decisionlog"
)

// BenchmarkReplayMillion replays 1,000,000 recorded decisions, read from a
// JSON-lines file as the service logs them, against a proposed policy and a
// baseline (two evaluations each), on every core: the figure
// docs/benchmarks.md records. One op is the whole million.
func BenchmarkReplayMillion(b *testing.B) {
	n := benchN
	old, proposed := compileDir(b, "testdata/old"), compileDir(b, "testdata/new")
	base := recorded(b, old)
	path := filepath.Join(b.TempDir(), "decisions.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range n {
		e := base[i%len(base)]
		e.Time = start.Add(time.Duration(i) * time.Second)
		e.RequestID = fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", i)
		e.SessionID = fmt.Sprintf("%032x", i)
		e.LatencyMS = 41.25
		line, err := json.Marshal(struct {
			Time  time.Time `json:"time"`
			Level string    `json:"level"`
			Msg   string    `json:"msg"`
			decisionlog.Event
		}{e.Time, "INFO", "decision", e})
		if err != nil {
			b.Fatal(err)
		}
		w.Write(line)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() {
		// CPU seconds per op: the wall time on a machine with idle cores
		// is this divided by the cores used.
		b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	}()
	for range b.N {
		a := NewAnalyzer(Options{Proposed: proposed, Baseline: old})
		if err := a.ReadFiles([]string{path}); err != nil {
			b.Fatal(err)
		}
		if r := a.Report(); r.Total != n {
			b.Fatalf("replayed %d, want %d", r.Total, n)
		}
	}
}

// cpuTime is the user and system CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchN is the number of decisions BenchmarkReplayMillion replays.
var benchN = 1_000_000
