package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// The suite's cases for re-vending blocks and approvals consumed by the
// vend transaction; runSuiteBlocks runs them against both stores.
func runSuiteBlocks(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name string
		run  func(t *testing.T, newStore newStoreFunc)
	}{
		{"BlockRefusesVendUntilItEnds", testBlockRefusesVend},
		{"LongerBlockStands", testLongerBlockStands},
		{"VendApprovedConsumesOnce", testVendApprovedConsumesOnce},
		{"VendApprovedRefusesUnusable", testVendApprovedRefusesUnusable},
		{"ConcurrentVendApprovedYieldsOne", testConcurrentVendApproved},
		{"RevokeRecordsEnforcement", testRevokeRecordsEnforcement},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore) })
	}
}

func TestMemoryBlocks(t *testing.T) {
	runSuiteBlocks(t, func(t *testing.T, now func() time.Time) Store { return NewMemory(Options{Now: now}) })
}

func TestDynamoBlocks(t *testing.T) {
	runSuiteBlocks(t, func(t *testing.T, now func() time.Time) Store {
		client, name := newTable(t)
		return NewDynamo(client, name, Options{Now: now})
	})
}

func testBlockRefusesVend(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	must(t, st.BlockVending(ctx, Block{Principal: alice, User: "alice", Profile: "prod", Until: t0.Add(10 * time.Minute), By: bob, Reason: "leak", SessionID: "s0"}))
	err := st.Vend(ctx, "alice", 5, time.Minute, session("s1", alice, "alice", "prod", t0))
	var be *BlockedError
	if !errors.As(err, &be) || !errors.Is(err, ErrBlocked) || !be.Until.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("err = %v, want a block until %s", err, t0.Add(10*time.Minute))
	}
	if _, err := st.GetSession(ctx, "s1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a blocked vend recorded its session: %v", err)
	}
	// Other people, other profiles and an untrusted session of the role are apart.
	must(t, st.Vend(ctx, "alice", 5, time.Minute, session("s2", alice, "alice", "dev", t0)))
	must(t, st.Vend(ctx, "alice", 5, time.Minute, session("s3", alice, "", "prod", t0)))
	must(t, st.Vend(ctx, "bob", 5, time.Minute, session("s4", bob, "bob", "prod", t0)))
	// The same trusted user through another role is the same person.
	if err := st.Vend(ctx, "alice", 5, time.Minute, session("s4b", bob, "alice", "prod", t0)); !errors.Is(err, ErrBlocked) {
		t.Fatalf("alice through another role: err %v, want ErrBlocked", err)
	}
	b, err := st.GetBlock(ctx, alice, "alice", "prod")
	must(t, err)
	if b.By != bob || b.Reason != "leak" || b.SessionID != "s0" || !b.CreatedAt.Equal(t0) {
		t.Fatalf("block = %+v", b)
	}
	c.Advance(10 * time.Minute)
	must(t, st.Vend(ctx, "alice", 5, time.Minute, session("s5", alice, "alice", "prod", c.Now())))
	if _, err := st.GetBlock(ctx, alice, "alice", "prod"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an ended block reads as %v", err)
	}
	wantErr(t, st.BlockVending(ctx, Block{Principal: alice, Profile: "prod", Until: c.Now()}), ErrInvalid)
}

func testLongerBlockStands(t *testing.T, newStore newStoreFunc) {
	ctx, st, _ := setup(t, newStore)
	must(t, st.BlockVending(ctx, Block{Principal: alice, Profile: "prod", Until: t0.Add(time.Hour), SessionID: "long"}))
	must(t, st.BlockVending(ctx, Block{Principal: alice, Profile: "prod", Until: t0.Add(time.Minute), SessionID: "short"}))
	b, err := st.GetBlock(ctx, alice, "", "prod")
	must(t, err)
	if b.SessionID != "long" {
		t.Fatalf("a shorter block replaced a longer one: %+v", b)
	}
	must(t, st.BlockVending(ctx, Block{Principal: alice, Profile: "prod", Until: t0.Add(2 * time.Hour), SessionID: "longer"}))
	if b, _ = st.GetBlock(ctx, alice, "", "prod"); b.SessionID != "longer" {
		t.Fatalf("a longer block did not replace a shorter one: %+v", b)
	}
}

func approvedRequest(t *testing.T, st Store, id string) {
	t.Helper()
	ctx := t.Context()
	_, _, err := st.CreateApproval(ctx, approval(id, alice, "", "prod", 1, t0.Add(time.Hour)))
	must(t, err)
	_, err = st.DecideApproval(ctx, id, Decision{Approver: bob, Approve: true})
	must(t, err)
}

func testVendApprovedConsumesOnce(t *testing.T, newStore newStoreFunc) {
	ctx, st, _ := setup(t, newStore)
	approvedRequest(t, st, "ap1")
	s := session("s1", alice, "", "prod", t0)
	s.ApprovalID, s.Via = "ap1", "approval"
	must(t, st.VendApproved(ctx, "alice", 5, time.Minute, s))
	a, err := st.GetApproval(ctx, "ap1")
	must(t, err)
	if a.Status != ApprovalUsed || a.UsedBySession != "s1" || !a.UsedAt.Equal(t0) {
		t.Fatalf("approval after the vend: %+v", a)
	}
	used, err := st.ListApprovalsByStatus(ctx, ApprovalUsed, Page{})
	must(t, err)
	equalIDs(t, "used", approvalIDs(used), "ap1")
	approved, err := st.ListApprovalsByStatus(ctx, ApprovalApproved, Page{})
	must(t, err)
	equalIDs(t, "approved", approvalIDs(approved))
	s2 := session("s2", alice, "", "prod", t0)
	s2.ApprovalID = "ap1"
	wantErr(t, st.VendApproved(ctx, "alice", 5, time.Minute, s2), ErrConflict)
	if _, err := st.GetSession(ctx, "s2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused vend recorded its session: %v", err)
	}
	// A later change of the approval still sees the version moved on.
	wantErr(t, func() error { _, err := st.MarkApprovalUsed(ctx, "ap1", "s3"); return err }(), ErrConflict)
	wantErr(t, st.VendApproved(ctx, "alice", 5, time.Minute, session("s4", alice, "", "prod", t0)), ErrInvalid)
}

func testVendApprovedRefusesUnusable(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	_, _, err := st.CreateApproval(ctx, approval("pending", bob, "", "prod", 1, t0.Add(time.Hour)))
	must(t, err)
	approvedRequest(t, st, "ap2")
	for _, id := range []string{"pending", "nonexistent"} {
		s := session("s-"+id, alice, "", "prod", t0)
		s.ApprovalID = id
		wantErr(t, st.VendApproved(ctx, "alice", 5, time.Minute, s), ErrConflict)
	}
	c.Advance(time.Hour)
	s := session("s-expired", alice, "", "prod", c.Now())
	s.ApprovalID = "ap2"
	wantErr(t, st.VendApproved(ctx, "alice", 5, time.Minute, s), ErrConflict)
	all, err := st.ListSessions(ctx, SessionFilter{})
	must(t, err)
	equalIDs(t, "sessions", sessionIDs(all))
}

func testConcurrentVendApproved(t *testing.T, newStore newStoreFunc) {
	ctx, st, _ := setup(t, newStore)
	approvedRequest(t, st, "ap1")
	errs := parallel(4, func(i int) error {
		s := session(fmt.Sprintf("s%d", i), alice, "", "prod", t0)
		s.ApprovalID = "ap1"
		return st.VendApproved(ctx, "alice", 100, time.Minute, s)
	})
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrConflict):
			t.Errorf("unexpected error: %v", err)
		}
	}
	all, err := st.ListSessions(ctx, SessionFilter{})
	must(t, err)
	if ok != 1 || len(all) != 1 {
		t.Fatalf("%d vends on one approval succeeded, %d sessions; want exactly one", ok, len(all))
	}
}

func testRevokeRecordsEnforcement(t *testing.T, newStore newStoreFunc) {
	ctx, st, _ := setup(t, newStore)
	must(t, st.Vend(ctx, "alice", 5, time.Minute, session("s1", alice, "", "dev", t0)))
	got, err := st.RevokeSession(ctx, "s1", Revocation{By: bob, Reason: "leak", Enforcement: "token_issue_time"})
	must(t, err)
	if got.RevokeEnforcement != "token_issue_time" {
		t.Fatalf("revoke answered %+v", got)
	}
	if got, _ = st.GetSession(ctx, "s1"); got.RevokeEnforcement != "token_issue_time" || got.Status != SessionRevoked {
		t.Fatalf("revoked session reads %+v", got)
	}
}
