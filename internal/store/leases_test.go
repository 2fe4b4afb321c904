package store

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The suite's cases for leases; runSuiteLeases runs them against both
// stores.
func runSuiteLeases(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name string
		run  func(t *testing.T, newStore newStoreFunc)
	}{
		{"LeaseExcludesOtherOwners", testLeaseExcludesOtherOwners},
		{"LeaseReleaseOnlyByOwner", testLeaseReleaseOnlyByOwner},
		{"LapsedLeaseIsTakenOver", testLapsedLeaseIsTakenOver},
		{"LeaseRejectsInvalidInput", testLeaseRejectsInvalidInput},
		{"ConcurrentAcquiresYieldOne", testConcurrentLeaseAcquires},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore) })
	}
}

func TestMemoryLeases(t *testing.T) {
	runSuiteLeases(t, func(t *testing.T, now func() time.Time) Store { return NewMemory(Options{Now: now}) })
}

func TestDynamoLeases(t *testing.T) {
	runSuiteLeases(t, func(t *testing.T, now func() time.Time) Store {
		client, name := newTable(t)
		return NewDynamo(client, name, Options{Now: now})
	})
}

const roleLease = "revoke#arn:aws:iam::444455556666:role/prod-admin"

func testLeaseExcludesOtherOwners(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	until := t0.Add(30 * time.Second)
	must(t, st.AcquireLease(ctx, roleLease, "req-a", until, c.Now()))
	wantErr(t, st.AcquireLease(ctx, roleLease, "req-b", until, c.Now()), ErrConflict)
	// The owner renews its own lease.
	must(t, st.AcquireLease(ctx, roleLease, "req-a", until.Add(10*time.Second), c.Now()))
	// Other names are apart.
	must(t, st.AcquireLease(ctx, "revoke#arn:aws:iam::444455556666:role/dev-admin", "req-b", until, c.Now()))
	// A zero now is the store's clock.
	wantErr(t, st.AcquireLease(ctx, roleLease, "req-b", until, time.Time{}), ErrConflict)
	// Until, the renewed expiry (t0+40s) included.
	c.Advance(40 * time.Second)
	wantErr(t, st.AcquireLease(ctx, roleLease, "req-b", c.Now().Add(30*time.Second), c.Now()), ErrConflict)
	c.Advance(time.Second)
	must(t, st.AcquireLease(ctx, roleLease, "req-b", c.Now().Add(30*time.Second), c.Now()))
}

func testLeaseReleaseOnlyByOwner(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	until := t0.Add(30 * time.Second)
	must(t, st.ReleaseLease(ctx, roleLease, "req-a")) // nothing to release: fine
	must(t, st.AcquireLease(ctx, roleLease, "req-a", until, c.Now()))
	must(t, st.ReleaseLease(ctx, roleLease, "req-b")) // not req-b's: left as it is
	wantErr(t, st.AcquireLease(ctx, roleLease, "req-c", until, c.Now()), ErrConflict)
	must(t, st.ReleaseLease(ctx, roleLease, "req-a"))
	must(t, st.AcquireLease(ctx, roleLease, "req-c", until, c.Now()))
	must(t, st.ReleaseLease(ctx, roleLease, "req-a")) // released already: fine
	wantErr(t, st.AcquireLease(ctx, roleLease, "req-d", until, c.Now()), ErrConflict)
}

func testLapsedLeaseIsTakenOver(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	// Until is rounded up to the second: never shorter than asked.
	must(t, st.AcquireLease(ctx, roleLease, "dead", t0.Add(29*time.Second+time.Millisecond), c.Now()))
	c.Advance(30 * time.Second)
	wantErr(t, st.AcquireLease(ctx, roleLease, "req-b", c.Now().Add(30*time.Second), c.Now()), ErrConflict)
	c.Advance(time.Second) // the dead holder's lease has lapsed
	must(t, st.AcquireLease(ctx, roleLease, "req-b", c.Now().Add(30*time.Second), c.Now()))
	// The late release of the lapsed holder leaves the new one's lease.
	must(t, st.ReleaseLease(ctx, roleLease, "dead"))
	wantErr(t, st.AcquireLease(ctx, roleLease, "req-c", c.Now().Add(30*time.Second), c.Now()), ErrConflict)
}

func testLeaseRejectsInvalidInput(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	until := t0.Add(30 * time.Second)
	wantErr(t, st.AcquireLease(ctx, "", "req-a", until, c.Now()), ErrInvalid)
	wantErr(t, st.AcquireLease(ctx, roleLease, "", until, c.Now()), ErrInvalid)
	wantErr(t, st.AcquireLease(ctx, roleLease, "req-a", c.Now(), c.Now()), ErrInvalid)
	must(t, st.AcquireLease(ctx, roleLease, "req-b", until, c.Now())) // none of them took it
}

func testConcurrentLeaseAcquires(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	const n = 10
	errs := parallel(n, func(i int) error {
		return st.AcquireLease(ctx, roleLease, fmt.Sprintf("req-%d", i), t0.Add(30*time.Second), c.Now())
	})
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("both req-%d and req-%d acquired the lease", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, ErrConflict):
			t.Errorf("req-%d: unexpected error: %v", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no caller acquired the lease")
	}
	// The winner holds it: the others still cannot take it, its owner releases it.
	wantErr(t, st.AcquireLease(ctx, roleLease, "late", t0.Add(30*time.Second), c.Now()), ErrConflict)
	must(t, st.ReleaseLease(ctx, roleLease, fmt.Sprintf("req-%d", won)))
	must(t, st.AcquireLease(ctx, roleLease, "late", t0.Add(30*time.Second), c.Now()))
}

// A lease item carries its expiry as the TTL, so DynamoDB deletes lapsed
// leases, and keys of its own kind.
func TestLeaseItem(t *testing.T) {
	item := marshal(newLeaseItem(roleLease, "req-a", t0.Add(30*time.Second), t0))
	want := strconv.FormatInt(t0.Add(30*time.Second).Unix(), 10)
	if ttl := item[AttrTTL].(*types.AttributeValueMemberN).Value; ttl != want {
		t.Errorf("ttl = %s, want %s (the lease's expiry)", ttl, want)
	}
	if pk := item[AttrPK].(*types.AttributeValueMemberS).Value; pk != "LEASE#"+roleLease {
		t.Errorf("pk = %s", pk)
	}
	if sk := item[AttrSK].(*types.AttributeValueMemberS).Value; sk != "LEASE" {
		t.Errorf("sk = %s", sk)
	}
}
