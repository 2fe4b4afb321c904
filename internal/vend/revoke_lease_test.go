package vend_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/revoke"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// overlapRevoker is a revoker that takes a while and fails the test when
// two revocations of one role overlap inside it (IAM has no conditional
// write: overlapping rewrites of one role's policy can drop a deny).
type overlapRevoker struct {
	fakeRevoker
	t        *testing.T
	hold     time.Duration
	mu       sync.Mutex
	inFlight map[string]int
	// deadlines are the revoker calls' context deadlines (zero: none).
	deadlines []time.Time
}

func (o *overlapRevoker) Revoke(ctx context.Context, req revoke.Request) (revoke.Result, error) {
	dl, _ := ctx.Deadline()
	o.mu.Lock()
	if o.inFlight == nil {
		o.inFlight = map[string]int{}
	}
	o.inFlight[req.RoleARN]++
	if n := o.inFlight[req.RoleARN]; n > 1 {
		o.t.Errorf("%d revocations of %s overlap", n, req.RoleARN)
	}
	o.deadlines = append(o.deadlines, dl)
	o.mu.Unlock()
	time.Sleep(o.hold)
	o.mu.Lock()
	o.inFlight[req.RoleARN]--
	o.mu.Unlock()
	return o.fakeRevoker.Revoke(ctx, req)
}

// handle runs one request under ctx, safe to call from many goroutines
// (h.do checks the log of one request at a time).
func (h *harness) handle(ctx context.Context, e event) result {
	resp, err := h.svc.HandleJSON(ctx, e.raw(h.t))
	if err != nil {
		h.t.Errorf("HandleJSON: %v", err)
	}
	return decodeResponse(h.t, resp)
}

func revokeEvent(t *testing.T, caller, sid, reqID string) event {
	return call(t, caller, "POST", "/v1/sessions/{id}/revoke", sid, `{"reason":"leak"}`).requestID(reqID)
}

// TestConcurrentRevokesOfOneRoleTakeTurns: revocations of different
// sessions of one role, all at once, never overlap in the revoker (the
// role's lease), and all succeed.
func TestConcurrentRevokesOfOneRoleTakeTurns(t *testing.T) {
	rv := &overlapRevoker{t: t, hold: 20 * time.Millisecond}
	h := newHarness(t, withRevoker(rv))
	const n = 8
	var sids []string
	for range n {
		sids = append(sids, h.do(loadEvent(t, "credentials-native.json")).JSON["session_id"].(string))
	}
	if h.session(sids[0]).RoleARN != h.session(sids[n-1]).RoleARN {
		t.Fatal("the sessions are of different roles")
	}
	var wg sync.WaitGroup
	results := make([]result, n)
	for i, sid := range sids {
		wg.Go(func() {
			results[i] = h.handle(context.Background(), revokeEvent(t, callerARN, sid, fmt.Sprintf("req-%d", i)))
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.StatusCode != 200 || r.JSON["status"] != "revoked" {
			t.Errorf("revoke %d: %d %s", i, r.StatusCode, r.Body)
		}
		if s := h.session(sids[i]); s.Status != store.SessionRevoked {
			t.Errorf("session %d is %s", i, s.Status)
		}
	}
	if got := len(rv.Requests()); got != n {
		t.Fatalf("%d revoker calls, want %d", got, n)
	}
	// Every lease was given back: the role's lease is free.
	role := h.session(sids[0]).RoleARN
	if err := h.mem.AcquireLease(context.Background(), vend.RevokeLeaseName(role), "test", h.clock.Now().Add(time.Minute), h.clock.Now()); err != nil {
		t.Fatalf("the role's lease was left held: %v", err)
	}
}

// TestRevokeWaitsForTheRoleLease: a revocation waits while another request
// holds the role's lease, and goes ahead once it is released.
func TestRevokeWaitsForTheRoleLease(t *testing.T) {
	rv := &overlapRevoker{t: t}
	h := newHarness(t, withRevoker(rv))
	sid := h.do(loadEvent(t, "credentials-native.json")).JSON["session_id"].(string)
	lease := vend.RevokeLeaseName(h.session(sid).RoleARN)
	if err := h.mem.AcquireLease(t.Context(), lease, "other-request", h.clock.Now().Add(30*time.Second), h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, func() { _ = h.mem.ReleaseLease(context.Background(), lease, "other-request") })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	r := h.handle(ctx, revokeEvent(t, callerARN, sid, "req-waits"))
	if r.StatusCode != 200 || len(rv.Requests()) != 1 {
		t.Fatalf("revoke: %d %s, %d revoker calls", r.StatusCode, r.Body, len(rv.Requests()))
	}
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("the revocation went ahead after %s, while the lease was held", waited)
	}
	// The revoker's deadline leaves the margin to answer: the request's
	// deadline less 2 s.
	reqDeadline, _ := ctx.Deadline()
	if dl := rv.deadlines[0]; dl.IsZero() || dl.After(reqDeadline.Add(-2*time.Second)) {
		t.Errorf("revoker deadline %v, want at most the request's %v less 2 s", dl, reqDeadline)
	}
}

// TestRevokeGivesUpWhenTheLeaseStaysHeld: a lease held past the request's
// deadline (less the margin) is 503, and nothing reaches IAM or the record.
func TestRevokeGivesUpWhenTheLeaseStaysHeld(t *testing.T) {
	rv := &overlapRevoker{t: t}
	h := newHarness(t, withRevoker(rv))
	sid := h.do(loadEvent(t, "credentials-native.json")).JSON["session_id"].(string)
	lease := vend.RevokeLeaseName(h.session(sid).RoleARN)
	if err := h.mem.AcquireLease(t.Context(), lease, "other-request", h.clock.Now().Add(30*time.Second), h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond) // 0.5 s to wait
	defer cancel()
	start := time.Now()
	r := h.handle(ctx, revokeEvent(t, callerARN, sid, "req-gives-up"))
	wantError(t, r, 503, vend.CodeUnavailable, "other revocations of this role are in progress; nothing changed; try again later")
	if took := time.Since(start); took < 100*time.Millisecond || took > 2*time.Second {
		t.Errorf("gave up after %s; want the wait to end before the deadline's margin (0.5 s)", took)
	}
	if len(rv.Requests()) != 0 {
		t.Fatal("the revoker was called without the lease")
	}
	if s := h.session(sid); s.Status != store.SessionActive {
		t.Fatalf("session %s after a revocation that gave up", s.Status)
	}
	// The other holder's lease is left as it is.
	if err := h.mem.AcquireLease(t.Context(), lease, "third", h.clock.Now().Add(time.Minute), h.clock.Now()); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the held lease was taken or dropped: %v", err)
	}
}

// TestRevokeLeaseFailuresFailClosed: a table failure taking the lease is
// 503 and no IAM write; a failure giving it back is only logged (the lease
// lapses by itself).
func TestRevokeLeaseFailuresFailClosed(t *testing.T) {
	rv := &overlapRevoker{t: t}
	h := newHarness(t, withRevoker(rv))
	sid := h.do(loadEvent(t, "credentials-native.json")).JSON["session_id"].(string)
	h.store.Fail("AcquireLease", fmt.Errorf("%w: acquire lease: ProvisionedThroughputExceededException", store.ErrUnavailable))
	r := h.do(revokeEvent(t, callerARN, sid, "req-table-down"))
	wantError(t, r, 503, vend.CodeUnavailable, "the revocation could not take its turn (the table is unavailable); nothing changed; try again later")
	checkNoAWSText(t, r.Body)
	if len(rv.Requests()) != 0 || h.session(sid).Status != store.SessionActive {
		t.Fatal("a revocation without its lease reached the revoker or the record")
	}

	h.store.Fail("AcquireLease", nil)
	h.store.Fail("ReleaseLease", fmt.Errorf("%w: release lease: RequestLimitExceeded", store.ErrUnavailable))
	if r := h.do(revokeEvent(t, callerARN, sid, "req-release-fails")); r.StatusCode != 200 || len(rv.Requests()) != 1 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	if !strings.Contains(h.logs.String(), `"msg":"revoke lease not released; it lapses by itself"`) {
		t.Error("the lease left behind was not logged")
	}
}

// TestRevokeAgain: the owner revoking a revoked session gets 409 and IAM
// is not touched (each IAM round an owner causes needs a fresh session);
// an operator re-asserts its deny (a repair).
func TestRevokeAgain(t *testing.T) {
	rv := &overlapRevoker{t: t}
	h := newHarness(t, withRevoker(rv))
	sid := h.do(loadEvent(t, "credentials-native.json")).JSON["session_id"].(string)
	if r := h.do(revokeEvent(t, callerARN, sid, "req-1")); r.StatusCode != 200 || len(rv.Requests()) != 1 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	for _, owner := range []string{callerARN, alice2} {
		wantError(t, h.do(revokeEvent(t, owner, sid, "req-2")), 409, vend.CodeConflict,
			"the session is already revoked; only an operator re-asserts its deny in IAM")
	}
	if n := len(rv.Requests()); n != 1 {
		t.Fatalf("the owner's repeats reached the revoker: %d calls", n)
	}
	if r := h.do(revokeEvent(t, sam, sid, "req-3")); r.StatusCode != 200 || r.JSON["status"] != "revoked" {
		t.Fatalf("operator repair: %d %s", r.StatusCode, r.Body)
	}
	if got := rv.Requests(); len(got) != 2 || got[1].SessionID != sid {
		t.Fatalf("the operator's repair did not reach the revoker: %+v", got)
	}
}

// ctxRevoker runs until its context ends (a revoker call cut short by its
// deadline), counting calls.
type ctxRevoker struct{ fakeRevoker }

func (c *ctxRevoker) Revoke(ctx context.Context, req revoke.Request) (revoke.Result, error) {
	_, _ = c.fakeRevoker.Revoke(ctx, req)
	<-ctx.Done()
	return revoke.Result{}, fmt.Errorf("revoke: invoke sentinel-revoker: %w", ctx.Err())
}

// TestRevokeCutShortKeepsTheLease: the revoker call ends at the request's
// deadline less the margin, the answer is 503, and the lease is kept (the
// revoker function may still be writing) until it lapses.
func TestRevokeCutShortKeepsTheLease(t *testing.T) {
	rv := &ctxRevoker{}
	h := newHarness(t, withRevoker(rv))
	sid := h.do(loadEvent(t, "credentials-native.json")).JSON["session_id"].(string)
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := h.handle(ctx, revokeEvent(t, callerARN, sid, "req-cut-short"))
	wantError(t, r, 503, vend.CodeUnavailable, "the revocation could not be written to IAM; nothing changed; try again later")
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answered after %s, within the 2 s margin of the deadline", took)
	}
	if len(rv.Requests()) != 1 || h.session(sid).Status != store.SessionActive {
		t.Fatal("want one revoker call and the session still active")
	}
	lease := vend.RevokeLeaseName(h.session(sid).RoleARN)
	if err := h.mem.AcquireLease(t.Context(), lease, "next", h.clock.Now().Add(30*time.Second), h.clock.Now()); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("the lease of a cut-short revoker call was released: %v", err)
	}
	h.clock.Advance(31 * time.Second) // it lapses
	if err := h.mem.AcquireLease(t.Context(), lease, "next", h.clock.Now().Add(30*time.Second), h.clock.Now()); err != nil {
		t.Fatalf("the lease did not lapse: %v", err)
	}
}

// TestRevokeLeaseNameIsPerRole: IAM addresses a role's inline policy by
// account and role name, so one role under two ARN spellings takes one
// lease (else two revocations could rewrite its policy at once), and
// same-named roles of two accounts take two.
func TestRevokeLeaseNameIsPerRole(t *testing.T) {
	withPath := vend.RevokeLeaseName("arn:aws:iam::111122223333:role/sentinel/prod-admin")
	if got := vend.RevokeLeaseName("arn:aws:iam::111122223333:role/prod-admin"); got != withPath {
		t.Errorf("two spellings of one role: %q and %q", got, withPath)
	}
	if other := vend.RevokeLeaseName("arn:aws:iam::444455556666:role/sentinel/prod-admin"); other == withPath {
		t.Errorf("roles of two accounts share the lease %q", other)
	}
	if a, b := vend.RevokeLeaseName("arn:aws:iam::111122223333:role/a"), vend.RevokeLeaseName("arn:aws:iam::111122223333:role/b"); a == b {
		t.Errorf("two roles share the lease %q", a)
	}
}
