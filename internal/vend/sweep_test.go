package vend_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

type recordingNotifier struct {
	mu sync.Mutex
	ns []vend.Notification
}

func (r *recordingNotifier) Notify(_ context.Context, n vend.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ns = append(r.ns, n)
	return nil
}

func (r *recordingNotifier) take() []vend.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.ns
	r.ns = nil
	return out
}

// TestSweepAnnouncesExpiryOnMoto: the scheduled sweep stores the expiry of
// requests nobody touched, announces each once, and leaves the others.
func TestSweepAnnouncesExpiryOnMoto(t *testing.T) {
	dyn, _ := withDynamo(t)
	notes := &recordingNotifier{}
	h := newHarness(t, dyn, withNotifier(notes))
	ctx := context.Background()
	requester := "arn:aws:iam::111122223333:role/sre-platform"
	for _, a := range []store.ApprovalRequest{
		{ID: "ap-old", Principal: requester, Profile: "prod-admin", Rule: "prod-admin-approval", Justification: "INC-1", MinApprovals: 1,
			CreatedAt: h.clock.Now(), ExpiresAt: h.clock.Now().Add(time.Hour)},
		{ID: "ap-new", Principal: requester, Profile: "prod-db", Rule: "prod-admin-approval", Justification: "INC-2", MinApprovals: 1,
			CreatedAt: h.clock.Now(), ExpiresAt: h.clock.Now().Add(3 * time.Hour)},
	} {
		if _, _, err := h.store.CreateApproval(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	res, err := h.svc.Sweep(ctx, vend.SweepEvent{Sweep: vend.SweepApprovals})
	if err != nil || res.Expired != 0 || len(notes.take()) != 0 {
		t.Fatalf("sweep before any expiry: %+v %v", res, err)
	}
	h.clock.Advance(time.Hour)
	res, err = h.svc.Sweep(ctx, vend.SweepEvent{Sweep: vend.SweepApprovals})
	if err != nil || res.Expired != 1 {
		t.Fatalf("sweep: %+v %v", res, err)
	}
	ns := notes.take()
	if len(ns) != 1 || ns[0].Event != vend.EventApprovalExpired || ns[0].ApprovalID != "ap-old" || ns[0].Status != "expired" ||
		ns[0].Justification != "INC-1" || ns[0].Profile != "prod-admin" || !ns[0].ExpiresAt.Equal(testNow.Add(time.Hour)) || ns[0].Actor == "" {
		t.Fatalf("notifications %+v", ns)
	}
	if !strings.Contains(h.logs.String(), `"event":"approval_expired"`) {
		t.Error("no audit event for the expiry")
	}
	// Announced once: the next run has nothing to say.
	if res, err = h.svc.Sweep(ctx, vend.SweepEvent{Sweep: vend.SweepApprovals}); err != nil || res.Expired != 0 || len(notes.take()) != 0 {
		t.Fatalf("second sweep: %+v %v", res, err)
	}
	a, err := h.store.GetApproval(ctx, "ap-new")
	if err != nil || a.Status != store.ApprovalPending {
		t.Fatalf("the unexpired request: %+v %v", a, err)
	}
	// Bad input changes nothing.
	if _, err := h.svc.Sweep(ctx, vend.SweepEvent{Sweep: "sessions"}); err == nil {
		t.Error("an unknown sweep ran")
	}
}

func TestIsSweepEvent(t *testing.T) {
	for raw, want := range map[string]bool{
		`{"sentinel_tvm_sweep":"approvals"}`:                                                        true,
		`{"sentinel_tvm_sweep":"nope"}`:                                                             true, // a sweep event, refused by Sweep
		`{"sentinel_tvm_sweep":"approvals","requestContext":{}}`:                                    false,
		`{"httpMethod":"POST","body":"{\"sentinel_tvm_sweep\":\"approvals\"}","requestContext":{}}`: false,
		`{}`:   false,
		`[]`:   false,
		`null`: false,
	} {
		if got := vend.IsSweepEvent(json.RawMessage(raw)); got != want {
			t.Errorf("IsSweepEvent(%s) = %v, want %v", raw, got, want)
		}
	}
	// Every API Gateway event of the test data is a request, not a sweep.
	for _, name := range []string{"credentials-native.json", "profiles.json", "health.json"} {
		if vend.IsSweepEvent(loadEvent(t, name).raw(t)) {
			t.Errorf("%s reads as a sweep", name)
		}
	}
}
