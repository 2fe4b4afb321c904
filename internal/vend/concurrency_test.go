package vend_test

import (
	"context"
	"sync"
	"testing"

	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// runParallel sends n identical requests at once and returns the answers.
func runParallel(t *testing.T, h *harness, n int, e event) []result {
	t.Helper()
	raw := e.raw(t)
	resps := make([]vend.Response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := h.svc.HandleJSON(context.Background(), raw)
			if err != nil {
				t.Error(err)
			}
			resps[i] = resp
		})
	}
	close(start)
	wg.Wait()
	out := make([]result, n)
	for i, resp := range resps {
		out[i] = decodeResponse(t, resp)
	}
	return out
}

// checkExactlyL checks that exactly limit of the answers vended and the
// rest were throttled with a Retry-After.
func checkExactlyL(t *testing.T, h *harness, rs []result, limit int) {
	t.Helper()
	ok, throttled := 0, 0
	for _, r := range rs {
		switch {
		case r.StatusCode == 200:
			ok++
		case r.StatusCode == 429 && r.Err.Code == vend.CodeRateLimited:
			throttled++
			if r.Headers["Retry-After"] != "60" {
				t.Errorf("Retry-After = %q, want 60", r.Headers["Retry-After"])
			}
		default:
			t.Errorf("unexpected answer %d %s", r.StatusCode, r.Body)
		}
	}
	if ok != limit || throttled != len(rs)-limit {
		t.Errorf("%d vends and %d throttled, want exactly %d and %d", ok, throttled, limit, len(rs)-limit)
	}
	if n := h.sts.Calls(); n != limit {
		t.Errorf("%d STS calls, want %d", n, limit)
	}
	checkDecisionEvents(t, h.logs.String(), len(rs))
	checkNoSecrets(t, h.logs.String(), h.metrics.String())
	checkEMF(t, h.metrics.String())
}

func TestConcurrentRateLimit(t *testing.T) {
	const n, limit = 20, 5
	h := newHarness(t, withConfig(func(c *vend.Config) { c.RateLimit = limit }))
	rs := runParallel(t, h, n, loadEvent(t, "credentials-native.json"))
	checkExactlyL(t, h, rs, limit)
	if s := h.sessions(); len(s) != limit {
		t.Errorf("%d sessions recorded, want %d", len(s), limit)
	}
}
