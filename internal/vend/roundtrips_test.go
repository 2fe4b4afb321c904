package vend_test

import (
	"context"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
)

// roundTripPaths are the decision paths whose AWS calls are counted. Each
// setup returns the event; limit is the design's bound (0: only reported).
var roundTripPaths = []struct {
	name  string
	limit int
	setup func(t *testing.T, h *harness, ctx context.Context, bg func(string) error) event
}{
	{"allow", 2, func(t *testing.T, h *harness, _ context.Context, _ func(string) error) event {
		return loadEvent(t, "credentials-native.json")
	}},
	{"deny (rule)", 1, func(t *testing.T, h *harness, _ context.Context, _ func(string) error) event {
		return loadEvent(t, "credentials-native.json").profile("prod-denied")
	}},
	{"deny (default)", 1, func(t *testing.T, h *harness, _ context.Context, _ func(string) error) event {
		return loadEvent(t, "credentials-native.json").profile("org-only")
	}},
	{"deny (unknown profile)", 1, func(t *testing.T, h *harness, _ context.Context, _ func(string) error) event {
		return loadEvent(t, "credentials-native.json").profile("nope")
	}},
	{"deny (default, break-glass possible, no event)", 0, func(t *testing.T, h *harness, _ context.Context, _ func(string) error) event {
		return loadEvent(t, "credentials-native.json").profile("prod-db")
	}},
	{"require_approval", 0, func(t *testing.T, h *harness, _ context.Context, _ func(string) error) event {
		return loadEvent(t, "credentials-native.json").profile("prod-admin")
	}},
	{"allow via approval", 3, func(t *testing.T, h *harness, ctx context.Context, _ func(string) error) event {
		r := h.do(loadEvent(t, "credentials-native.json").profile("prod-admin"))
		if r.Err == nil || r.Err.ApprovalID == "" {
			t.Fatalf("no approval: %s", r.Body)
		}
		if _, err := h.svcStore().DecideApproval(ctx, r.Err.ApprovalID, store.Decision{Approver: approverARN, Approve: true}); err != nil {
			t.Fatal(err)
		}
		return loadEvent(t, "credentials-native.json").body(`{"profile":"prod-admin","approval_id":"` + r.Err.ApprovalID + `"}`)
	}},
	{"allow via break-glass", 0, func(t *testing.T, h *harness, ctx context.Context, bg func(string) error) event {
		if err := bg("prod-db"); err != nil {
			t.Fatal(err)
		}
		return loadEvent(t, "credentials-native.json").profile("prod-db")
	}},
}

// svcStore is the store the service uses, under the fault wrapper.
func (h *harness) svcStore() store.Store { return h.store.Store }

// TestRoundTrips counts the sequential AWS calls of each path with counting
// fakes (one store method is one DynamoDB call; TestDynamoRoundTrips counts
// the real calls against moto). The policy comes from SSM, warmed up.
func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	for _, p := range roundTripPaths {
		t.Run(p.name, func(t *testing.T) {
			src, ssmFake, _ := newSSMSource(t)
			h := newHarness(t, withPolicySource(src))
			src.Now = h.clock.Now
			if _, err := src.Policy(ctx); err != nil { // a warm cache
				t.Fatal(err)
			}
			e := p.setup(t, h, ctx, func(profile string) error { openBreakGlass(t, h, profile, time.Hour); return nil })
			h.store.Calls()
			stsBefore, ssmBefore := h.sts.Calls(), ssmFake.calls()
			r := h.do(e)
			calls := h.store.Calls()
			n := len(calls) + h.sts.Calls() - stsBefore + ssmFake.calls() - ssmBefore
			t.Logf("%-48s %d round trips: store %v, STS %d, SSM %d -> %d", p.name, n, calls,
				h.sts.Calls()-stsBefore, ssmFake.calls()-ssmBefore, r.StatusCode)
			if p.limit > 0 && n > p.limit {
				t.Errorf("%s: %d sequential AWS round trips, want at most %d", p.name, n, p.limit)
			}
		})
	}

	// A cold cache adds exactly the one SSM read.
	src, ssmFake, _ := newSSMSource(t)
	h := newHarness(t, withPolicySource(src))
	src.Now = h.clock.Now
	h.do(loadEvent(t, "credentials-native.json"))
	if n := len(h.store.Calls()) + h.sts.Calls() + ssmFake.calls(); n != 3 {
		t.Errorf("allow on a cold cache: %d round trips, want 3", n)
	}
}
