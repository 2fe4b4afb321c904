package store

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// The expiry sweep's part of the store: ExpireApprovals, on both
// implementations (Dynamo on moto).
func runSuiteExpire(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name string
		run  func(t *testing.T, newStore newStoreFunc)
	}{
		{"stores each expiry once", testExpireOnce},
		{"concurrent sweeps announce each expiry once", testExpireConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore) })
	}
}

func TestMemoryExpire(t *testing.T) {
	runSuiteExpire(t, func(t *testing.T, now func() time.Time) Store { return NewMemory(Options{Now: now}) })
}

func TestDynamoExpire(t *testing.T) {
	runSuiteExpire(t, func(t *testing.T, now func() time.Time) Store {
		client, name := newTable(t)
		return NewDynamo(client, name, Options{Now: now})
	})
}

const requester = "arn:aws:iam::111122223333:role/sre-platform"

func testExpireOnce(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	_, _, err := st.CreateApproval(ctx, approval("ap-pending", requester, "", "prod-admin", 1, t0.Add(time.Hour)))
	must(t, err)
	_, _, err = st.CreateApproval(ctx, approval("ap-approved", requester, "", "prod-db", 1, t0.Add(time.Hour)))
	must(t, err)
	_, err = st.DecideApproval(ctx, "ap-approved", Decision{Approver: "eve", Approve: true})
	must(t, err)
	_, _, err = st.CreateApproval(ctx, approval("ap-later", requester, "", "prod-readonly", 1, t0.Add(3*time.Hour)))
	must(t, err)
	_, _, err = st.CreateApproval(ctx, approval("ap-denied", requester, "", "dev", 1, t0.Add(time.Hour)))
	must(t, err)
	_, err = st.DecideApproval(ctx, "ap-denied", Decision{Approver: "eve", Approve: false})
	must(t, err)

	// Nothing is due yet.
	got, err := st.ExpireApprovals(ctx, 0)
	must(t, err)
	equalIDs(t, "before the expiry", approvalIDs(got))

	c.Advance(time.Hour)
	got, err = st.ExpireApprovals(ctx, 0)
	must(t, err)
	equalIDs(t, "first sweep", sortedIDs(approvalIDs(got)), "ap-approved", "ap-pending")
	for _, a := range got {
		if a.Status != ApprovalExpired || a.DecidedAt.IsZero() {
			t.Errorf("%s: %s, decided %v", a.ID, a.Status, a.DecidedAt)
		}
	}
	// A second sweep finds nothing new; the records read as expired,
	// and the expired list still holds them.
	got, err = st.ExpireApprovals(ctx, 0)
	must(t, err)
	equalIDs(t, "second sweep", approvalIDs(got))
	a, err := st.GetApproval(ctx, "ap-pending")
	must(t, err)
	if a.Status != ApprovalExpired {
		t.Errorf("ap-pending reads %s", a.Status)
	}
	list, err := st.ListApprovalsByStatus(ctx, ApprovalExpired, Page{})
	must(t, err)
	equalIDs(t, "expired list", sortedIDs(approvalIDs(list)), "ap-approved", "ap-pending")
	// A stored expiry cannot be decided, cancelled or used.
	_, err = st.DecideApproval(ctx, "ap-pending", Decision{Approver: "dan", Approve: true})
	wantErr(t, err, ErrConflict)
	_, err = st.MarkApprovalUsed(ctx, "ap-approved", "s1")
	wantErr(t, err, ErrConflict)
	// The requester may ask again for the profile.
	_, created, err := st.CreateApproval(ctx, approval("ap-again", requester, "", "prod-admin", 1, c.Now().Add(time.Hour)))
	must(t, err)
	if !created {
		t.Error("a new request after the expiry reused the expired one")
	}
	// The limit bounds one sweep; the next takes the rest.
	c.Advance(3 * time.Hour)
	got, err = st.ExpireApprovals(ctx, 1)
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("limit 1: %v", approvalIDs(got))
	}
	rest, err := st.ExpireApprovals(ctx, 0)
	must(t, err)
	equalIDs(t, "both sweeps", sortedIDs(append(approvalIDs(got), approvalIDs(rest)...)), "ap-again", "ap-later")
}

func testExpireConcurrent(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	want := []string{"ap-0", "ap-1", "ap-2", "ap-3", "ap-4", "ap-5"}
	for i, id := range want {
		_, _, err := st.CreateApproval(ctx, approval(id, requester, "", "p"+string(rune('a'+i)), 1, t0.Add(time.Minute)))
		must(t, err)
	}
	c.Advance(time.Minute)
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := st.ExpireApprovals(ctx, 0)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			all = append(all, approvalIDs(got)...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	equalIDs(t, "all sweeps together", sortedIDs(all), want...)
}

func sortedIDs(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
