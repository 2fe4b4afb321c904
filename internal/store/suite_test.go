package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
)

// The one suite both implementations pass. newStore returns an empty store
// on the given clock.
type newStoreFunc func(t *testing.T, now func() time.Time) Store

// t0 is 10 seconds into a minute, so a one-minute window has 50 s left.
var t0 = time.Date(2030, 1, 2, 3, 4, 10, 0, time.UTC)

const (
	alice = "arn:aws:iam::111122223333:role/engineer"
	bob   = "arn:aws:iam::111122223333:role/sre"
)

func setup(t *testing.T, newStore newStoreFunc) (context.Context, Store, *testutil.Clock) {
	t.Helper()
	c := testutil.NewClock(t0)
	return context.Background(), newStore(t, c.Now), c
}

func session(id, principal, user, profile string, issued time.Time) SessionRecord {
	return SessionRecord{
		ID: id, Principal: principal, User: user, Profile: profile,
		CallerARN: principal + "/x", RoleARN: "arn:aws:iam::444455556666:role/" + profile,
		SourceIdentity: "stvm." + id, Rule: "r", Via: "policy", RequestID: "req-" + id, SourceIP: "192.0.2.1",
		IssuedAt: issued, ExpiresAt: issued.Add(time.Hour),
	}
}

func approval(id, principal, user, profile string, min int, expires time.Time) ApprovalRequest {
	return ApprovalRequest{
		ID: id, Principal: principal, User: user, Profile: profile, Rule: "prod-needs-approval",
		Justification: "deploy", DurationSeconds: 900, MinApprovals: min, ExpiresAt: expires,
	}
}

func breakGlass(id, principal, profile string, expires time.Time) BreakGlassEvent {
	return BreakGlassEvent{
		ID: id, Principal: principal, Profile: profile, ReasonCode: "incident",
		Justification: "INC-1", DurationSeconds: 1800, ExpiresAt: expires,
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ids[T any](items []T, id func(T) string) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func sessionIDs(s []SessionRecord) []string {
	return ids(s, func(s SessionRecord) string { return s.ID })
}
func approvalIDs(a []ApprovalRequest) []string {
	return ids(a, func(a ApprovalRequest) string { return a.ID })
}
func eventIDs(e []BreakGlassEvent) []string {
	return ids(e, func(e BreakGlassEvent) string { return e.ID })
}
func equalIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func runSuite(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name string
		run  func(t *testing.T, newStore newStoreFunc)
	}{
		{"VendRecordsTheSession", testVendRecordsTheSession},
		{"VendRateLimit", testVendRateLimit},
		{"VendSessionCollisionCountsNothing", testVendSessionCollision},
		{"VendRejectsInvalidInput", testVendRejectsInvalidInput},
		{"MarkSessionFailed", testMarkSessionFailed},
		{"RevokeSession", testRevokeSession},
		{"ListSessions", testListSessions},
		{"ApprovalLifecycle", testApprovalLifecycle},
		{"ApprovalReusesPending", testApprovalReusesPending},
		{"ApprovalDenyCancelExpire", testApprovalDenyCancelExpire},
		{"ListApprovals", testListApprovals},
		{"BreakGlass", testBreakGlass},
		{"VendUnderClosedBreakGlass", testVendUnderClosedBreakGlass},
		{"Paging", testPaging},
		{"PagingConcurrentInserts", testPagingConcurrentInserts},
		{"Idempotency", testIdempotency},
		{"ConcurrentVendsRespectTheLimit", testConcurrentVends},
		{"ConcurrentApprovalsLoseNone", testConcurrentApprovals},
		{"ConcurrentSingleApprovalApprovesOnce", testConcurrentSingleApproval},
		{"ConcurrentApprovalRequestsYieldOne", testConcurrentApprovalRequests},
		{"ConcurrentBreakGlassOpensYieldOne", testConcurrentBreakGlass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore) })
	}
}

func testVendRecordsTheSession(t *testing.T, newStore newStoreFunc) {
	ctx, st, _ := setup(t, newStore)
	ev := breakGlass("b1", alice, "dev", t0.Add(time.Hour))
	ev.User = "alice"
	_, err := st.OpenBreakGlass(ctx, ev) // a session names its event only while it is open
	must(t, err)
	in := session("s1", alice, "alice", "dev", t0.Add(500*time.Millisecond))
	in.Status = SessionRevoked // ignored: a vended session is active
	in.ApprovalID, in.BreakGlassID = "a1", "b1"
	must(t, st.Vend(ctx, "alice", 5, time.Minute, in))

	got, err := st.GetSession(ctx, "s1")
	must(t, err)
	want := in
	want.Status = SessionActive
	want.IssuedAt, want.ExpiresAt = t0, t0.Add(time.Hour) // whole seconds, UTC
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GetSession =\n%+v\nwant\n%+v", got, want)
	}
	_, err = st.GetSession(ctx, "nope")
	wantErr(t, err, ErrNotFound)
}

func testVendRateLimit(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	must(t, st.Vend(ctx, "alice", 3, time.Minute, session("s1", alice, "", "dev", t0)))
	must(t, st.CountRequest(ctx, "alice", 3, time.Minute)) // a denied request counts too
	must(t, st.Vend(ctx, "alice", 3, time.Minute, session("s2", alice, "", "dev", t0)))

	err := st.Vend(ctx, "alice", 3, time.Minute, session("s3", alice, "", "dev", t0))
	var rl *RateLimitedError
	if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) {
		t.Fatalf("err = %v, want a *RateLimitedError", err)
	}
	if want := (RateLimitedError{Limit: 3, Window: time.Minute, RetryAfter: 50 * time.Second}); *rl != want {
		t.Fatalf("rate limit error = %+v, want %+v", *rl, want)
	}
	_, err = st.GetSession(ctx, "s3")
	wantErr(t, err, ErrNotFound)
	wantErr(t, st.CountRequest(ctx, "alice", 3, time.Minute), ErrRateLimited)
	must(t, st.CountRequest(ctx, "bob", 3, time.Minute)) // another key

	c.Advance(50 * time.Second) // the next window
	must(t, st.Vend(ctx, "alice", 3, time.Minute, session("s3", alice, "", "dev", c.Now())))
}

func testVendSessionCollision(t *testing.T, newStore newStoreFunc) {
	ctx, st, _ := setup(t, newStore)
	must(t, st.Vend(ctx, "alice", 2, time.Minute, session("s1", alice, "", "dev", t0)))
	err := st.Vend(ctx, "alice", 2, time.Minute, session("s1", bob, "", "prod", t0))
	wantErr(t, err, ErrSessionExists)
	got, err := st.GetSession(ctx, "s1")
	must(t, err)
	if got.Principal != alice {
		t.Fatalf("the colliding vend overwrote the session: %+v", got)
	}
	// The failed vend did not count: one more fits.
	must(t, st.Vend(ctx, "alice", 2, time.Minute, session("s2", alice, "", "dev", t0)))
}

func testVendRejectsInvalidInput(t *testing.T, newStore newStoreFunc) {
	ctx, st, _ := setup(t, newStore)
	long := session("s2", alice, "", "dev", t0)
	long.ExpiresAt = t0.Add(13 * time.Hour)
	tests := []struct {
		name   string
		limit  int
		window time.Duration
		s      SessionRecord
	}{
		{"zero limit", 0, time.Minute, session("s1", alice, "", "dev", t0)},
		{"sub-second window", 1, time.Millisecond, session("s1", alice, "", "dev", t0)},
		{"no ID", 1, time.Minute, session("", alice, "", "dev", t0)},
		{"no principal", 1, time.Minute, session("s1", "", "", "dev", t0)},
		{"longer than 12h", 1, time.Minute, long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, st.Vend(ctx, "alice", tt.limit, tt.window, tt.s), ErrInvalid)
		})
	}
}

func testMarkSessionFailed(t *testing.T, newStore newStoreFunc) {
	ctx, st, _ := setup(t, newStore)
	must(t, st.Vend(ctx, "alice", 5, time.Minute, session("s1", alice, "", "dev", t0)))
	must(t, st.MarkSessionFailed(ctx, "s1", "AccessDenied"))
	got, err := st.GetSession(ctx, "s1")
	must(t, err)
	if got.Status != SessionFailed || got.FailureReason != "AccessDenied" {
		t.Fatalf("session = %+v, want failed with the reason", got)
	}
	wantErr(t, st.MarkSessionFailed(ctx, "s1", "again"), ErrConflict)
	wantErr(t, st.MarkSessionFailed(ctx, "nope", "x"), ErrNotFound)
	_, err = st.RevokeSession(ctx, "s1", Revocation{By: bob})
	wantErr(t, err, ErrConflict)
}

func testRevokeSession(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	must(t, st.Vend(ctx, "alice", 5, time.Minute, session("s1", alice, "", "dev", t0)))
	must(t, st.Vend(ctx, "alice", 5, time.Minute, session("s2", alice, "", "dev", t0)))
	c.Advance(10 * time.Second)

	got, err := st.RevokeSession(ctx, "s1", Revocation{By: bob, Reason: "leaked"})
	must(t, err)
	if got.Status != SessionRevoked || got.RevokedBy != bob || got.RevokeReason != "leaked" || !got.RevokedAt.Equal(c.Now()) {
		t.Fatalf("revoked = %+v", got)
	}
	if again, _ := st.GetSession(ctx, "s1"); !reflect.DeepEqual(again, got) {
		t.Fatalf("GetSession = %+v, want %+v", again, got)
	}
	_, err = st.RevokeSession(ctx, "s1", Revocation{By: bob})
	wantErr(t, err, ErrConflict)
	_, err = st.RevokeSession(ctx, "nope", Revocation{By: bob})
	wantErr(t, err, ErrNotFound)

	c.Advance(time.Hour) // s2 has expired
	s2, err := st.GetSession(ctx, "s2")
	must(t, err)
	if s2.Status != SessionExpired {
		t.Fatalf("s2 status = %s, want expired", s2.Status)
	}
	_, err = st.RevokeSession(ctx, "s2", Revocation{By: bob})
	wantErr(t, err, ErrConflict)
}

func testListSessions(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	vend := func(id, principal, user, profile string, at time.Time) {
		t.Helper()
		must(t, st.Vend(ctx, RateKey(principal+user), 100, time.Hour, session(id, principal, user, profile, at)))
	}
	vend("a1", alice, "alice", "dev", t0.Add(-2*time.Hour)) // expired by now
	vend("a2", alice, "alice", "prod", t0.Add(-time.Minute))
	vend("a3", alice, "alice", "dev", t0)
	vend("x1", alice, "", "dev", t0) // the untrusted role session: another person
	vend("b1", bob, "", "dev", t0.Add(-30*time.Second))
	_, err := st.RevokeSession(ctx, "b1", Revocation{By: bob})
	must(t, err)
	c.Advance(time.Second)

	tests := []struct {
		name string
		list func() ([]SessionRecord, error)
		want []string
	}{
		{"person", func() ([]SessionRecord, error) {
			return st.ListSessionsByPrincipal(ctx, alice, "alice", SessionFilter{})
		}, []string{"a3", "a2", "a1"}},
		{"untrusted person", func() ([]SessionRecord, error) { return st.ListSessionsByPrincipal(ctx, alice, "", SessionFilter{}) }, []string{"x1"}},
		{"person, profile", func() ([]SessionRecord, error) {
			return st.ListSessionsByPrincipal(ctx, alice, "alice", SessionFilter{Profile: "dev"})
		}, []string{"a3", "a1"}},
		{"person, active", func() ([]SessionRecord, error) {
			return st.ListSessionsByPrincipal(ctx, alice, "alice", SessionFilter{ActiveOnly: true})
		}, []string{"a3", "a2"}},
		{"person, limit", func() ([]SessionRecord, error) {
			return st.ListSessionsByPrincipal(ctx, alice, "alice", SessionFilter{Limit: 1})
		}, []string{"a3"}},
		{"nobody", func() ([]SessionRecord, error) { return st.ListSessionsByPrincipal(ctx, bob, "x", SessionFilter{}) }, nil},
		{"all", func() ([]SessionRecord, error) { return st.ListSessions(ctx, SessionFilter{}) }, []string{"x1", "a3", "b1", "a2", "a1"}},
		{"all, active", func() ([]SessionRecord, error) { return st.ListSessions(ctx, SessionFilter{ActiveOnly: true}) }, []string{"x1", "a3", "a2"}},
		{"all, principal", func() ([]SessionRecord, error) { return st.ListSessions(ctx, SessionFilter{Principal: bob}) }, []string{"b1"}},
		{"all, profile and limit", func() ([]SessionRecord, error) {
			return st.ListSessions(ctx, SessionFilter{Profile: "dev", Limit: 3})
		}, []string{"x1", "a3", "b1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.list()
			must(t, err)
			equalIDs(t, "sessions", sessionIDs(got), tt.want...)
		})
	}
	all, err := st.ListSessions(ctx, SessionFilter{})
	must(t, err)
	status := map[string]SessionStatus{}
	for _, s := range all {
		status[s.ID] = s.Status
	}
	want := map[string]SessionStatus{"a1": SessionExpired, "a2": SessionActive, "a3": SessionActive, "x1": SessionActive, "b1": SessionRevoked}
	if !reflect.DeepEqual(status, want) {
		t.Fatalf("statuses = %v, want %v", status, want)
	}
}

func testApprovalLifecycle(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	in := approval("ap1", alice, "alice", "prod", 2, t0.Add(time.Hour))
	got, created, err := st.CreateApproval(ctx, in)
	must(t, err)
	want := in
	want.Status, want.CreatedAt = ApprovalPending, t0
	if !created || !reflect.DeepEqual(got, want) {
		t.Fatalf("CreateApproval = %+v, %v\nwant %+v, true", got, created, want)
	}
	if fetched, err := st.GetApproval(ctx, "ap1"); err != nil || !reflect.DeepEqual(fetched, want) {
		t.Fatalf("GetApproval = %+v, %v", fetched, err)
	}
	_, err = st.GetApproval(ctx, "nope")
	wantErr(t, err, ErrNotFound)

	c.Advance(time.Second)
	got, err = st.DecideApproval(ctx, "ap1", Decision{Approver: bob, Approve: true, Comment: "ok"})
	must(t, err)
	if got.Status != ApprovalPending || len(got.Decisions) != 1 {
		t.Fatalf("after one of two approvals: %+v", got)
	}
	_, err = st.MarkApprovalUsed(ctx, "ap1", "s1")
	wantErr(t, err, ErrConflict) // not approved yet
	_, err = st.DecideApproval(ctx, "ap1", Decision{Approver: bob, Approve: true})
	wantErr(t, err, ErrConflict) // same approver twice
	_, err = st.DecideApproval(ctx, "nope", Decision{Approver: bob, Approve: true})
	wantErr(t, err, ErrNotFound)

	carol := "arn:aws:iam::111122223333:role/lead#carol"
	got, err = st.DecideApproval(ctx, "ap1", Decision{Approver: carol, Approve: true})
	must(t, err)
	wantDecisions := []Decision{
		{Approver: bob, Approve: true, Comment: "ok", At: t0.Add(time.Second)},
		{Approver: carol, Approve: true, At: t0.Add(time.Second)},
	}
	if got.Status != ApprovalApproved || !got.DecidedAt.Equal(c.Now()) || !reflect.DeepEqual(got.Decisions, wantDecisions) {
		t.Fatalf("after two approvals: %+v", got)
	}
	_, err = st.DecideApproval(ctx, "ap1", Decision{Approver: "someone", Approve: false})
	wantErr(t, err, ErrConflict)
	_, err = st.CancelApproval(ctx, "ap1", alice)
	wantErr(t, err, ErrConflict)

	got, err = st.MarkApprovalUsed(ctx, "ap1", "s1")
	must(t, err)
	if got.Status != ApprovalUsed || got.UsedBySession != "s1" || !got.UsedAt.Equal(c.Now()) {
		t.Fatalf("used = %+v", got)
	}
	_, err = st.MarkApprovalUsed(ctx, "ap1", "s2")
	wantErr(t, err, ErrConflict)
	if fetched, _ := st.GetApproval(ctx, "ap1"); !reflect.DeepEqual(fetched, got) {
		t.Fatalf("GetApproval = %+v, want %+v", fetched, got)
	}
}

func testApprovalReusesPending(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	first, created, err := st.CreateApproval(ctx, approval("ap1", alice, "alice", "prod", 1, t0.Add(time.Hour)))
	must(t, err)
	if !created {
		t.Fatal("first request not created")
	}
	again, created, err := st.CreateApproval(ctx, approval("ap2", alice, "alice", "prod", 1, t0.Add(time.Hour)))
	must(t, err)
	if created || again.ID != "ap1" || !reflect.DeepEqual(again, first) {
		t.Fatalf("second request = %+v, created %v; want ap1 reused", again, created)
	}
	for _, other := range []ApprovalRequest{
		approval("ap3", alice, "alice", "staging", 1, t0.Add(time.Hour)), // another profile
		approval("ap4", alice, "", "prod", 1, t0.Add(time.Hour)),         // another person
	} {
		if _, created, err := st.CreateApproval(ctx, other); err != nil || !created {
			t.Fatalf("CreateApproval(%s) = created %v, %v", other.ID, created, err)
		}
	}
	_, _, err = st.CreateApproval(ctx, approval("ap1", bob, "", "prod", 1, t0.Add(time.Hour)))
	wantErr(t, err, ErrConflict) // ID taken

	// Once decided, the next request is a new one.
	_, err = st.DecideApproval(ctx, "ap1", Decision{Approver: bob, Approve: true})
	must(t, err)
	next, created, err := st.CreateApproval(ctx, approval("ap5", alice, "alice", "prod", 1, t0.Add(time.Hour)))
	must(t, err)
	if !created || next.ID != "ap5" {
		t.Fatalf("after a decision: %+v, created %v; want ap5", next, created)
	}
	// Once expired too.
	c.Advance(time.Hour)
	next, created, err = st.CreateApproval(ctx, approval("ap6", alice, "alice", "prod", 1, c.Now().Add(time.Hour)))
	must(t, err)
	if !created || next.ID != "ap6" {
		t.Fatalf("after expiry: %+v, created %v; want ap6", next, created)
	}
	_, _, err = st.CreateApproval(ctx, approval("ap7", alice, "alice", "prod", 0, c.Now().Add(time.Hour)))
	wantErr(t, err, ErrInvalid)
}

func testApprovalDenyCancelExpire(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	for _, id := range []string{"deny", "cancel", "expire", "expire-approved"} {
		_, _, err := st.CreateApproval(ctx, approval(id, alice, "", id, 2, t0.Add(time.Hour)))
		must(t, err)
	}
	got, err := st.DecideApproval(ctx, "deny", Decision{Approver: bob, Approve: false, Comment: "no"})
	must(t, err)
	if got.Status != ApprovalDenied {
		t.Fatalf("denied = %+v", got)
	}
	got, err = st.CancelApproval(ctx, "cancel", alice)
	must(t, err)
	if got.Status != ApprovalCancelled || got.CancelledBy != alice {
		t.Fatalf("cancelled = %+v", got)
	}
	_, err = st.CancelApproval(ctx, "cancel", alice)
	wantErr(t, err, ErrConflict)
	_, err = st.CancelApproval(ctx, "nope", alice)
	wantErr(t, err, ErrNotFound)
	for _, approver := range []string{bob, "carol"} {
		_, err = st.DecideApproval(ctx, "expire-approved", Decision{Approver: approver, Approve: true})
		must(t, err)
	}

	c.Advance(time.Hour)
	for _, id := range []string{"expire", "expire-approved"} {
		got, err = st.GetApproval(ctx, id)
		must(t, err)
		if got.Status != ApprovalExpired {
			t.Fatalf("%s status = %s, want expired", id, got.Status)
		}
	}
	_, err = st.DecideApproval(ctx, "expire", Decision{Approver: bob, Approve: true})
	wantErr(t, err, ErrConflict)
	_, err = st.MarkApprovalUsed(ctx, "expire-approved", "s1")
	wantErr(t, err, ErrConflict)
}

func testListApprovals(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	create := func(id, principal, profile string, expires time.Duration) {
		t.Helper()
		_, _, err := st.CreateApproval(ctx, approval(id, principal, "", profile, 1, c.Now().Add(expires)))
		must(t, err)
		c.Advance(time.Second)
	}
	create("p1", alice, "a", time.Hour)
	create("p2", alice, "b", time.Hour)
	create("x1", alice, "c", 10*time.Second)
	create("ok", bob, "a", time.Hour)
	create("used", bob, "b", time.Hour)
	for _, id := range []string{"ok", "used"} {
		_, err := st.DecideApproval(ctx, id, Decision{Approver: alice, Approve: true})
		must(t, err)
	}
	_, err := st.MarkApprovalUsed(ctx, "used", "s1")
	must(t, err)
	c.Advance(10 * time.Second) // x1 expires

	byStatus := map[ApprovalStatus][]string{
		ApprovalPending:   {"p2", "p1"},
		ApprovalApproved:  {"ok"},
		ApprovalUsed:      {"used"},
		ApprovalExpired:   {"x1"},
		ApprovalDenied:    nil,
		ApprovalCancelled: nil,
	}
	for status, want := range byStatus {
		got, err := st.ListApprovalsByStatus(ctx, status, Page{})
		must(t, err)
		equalIDs(t, "approvals "+string(status), approvalIDs(got), want...)
	}
	got, err := st.ListApprovalsByRequester(ctx, alice, "", Page{})
	must(t, err)
	equalIDs(t, "alice's approvals", approvalIDs(got), "x1", "p2", "p1")
	if got[0].Status != ApprovalExpired {
		t.Fatalf("x1 listed as %s, want expired", got[0].Status)
	}
	got, err = st.ListApprovalsByRequester(ctx, alice, "someone", Page{})
	must(t, err)
	equalIDs(t, "another person's approvals", approvalIDs(got))
}

// testVendUnderClosedBreakGlass: a session vended under a break-glass event
// commits only while the event holds the person's lock, so a vend whose
// check ran before a close cannot commit after it (the close's revocation
// of the event's sessions would miss it).
func testVendUnderClosedBreakGlass(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	_, err := st.OpenBreakGlass(ctx, breakGlass("bg1", alice, "prod", t0.Add(30*time.Minute)))
	must(t, err)
	under := func(id, event string) SessionRecord {
		s := session(id, alice, "", "prod", c.Now())
		s.Via, s.BreakGlassID = "break_glass", event
		return s
	}
	must(t, st.Vend(ctx, "alice", 10, time.Minute, under("s1", "bg1")))
	wantErr(t, st.Vend(ctx, "alice", 10, time.Minute, under("s2", "bg-other")), ErrConflict)
	_, err = st.CloseBreakGlass(ctx, "bg1", alice, "over")
	must(t, err)
	wantErr(t, st.Vend(ctx, "alice", 10, time.Minute, under("s3", "bg1")), ErrConflict)
	_, err = st.OpenBreakGlass(ctx, breakGlass("bg2", alice, "prod", c.Now().Add(time.Minute)))
	must(t, err)
	c.Advance(2 * time.Minute) // bg2 expires, its lock stays until cleaned up
	wantErr(t, st.Vend(ctx, "alice", 10, time.Minute, under("s4", "bg2")), ErrConflict)
	for _, id := range []string{"s2", "s3", "s4"} {
		_, err := st.GetSession(ctx, id)
		wantErr(t, err, ErrNotFound)
	}
}

func testBreakGlass(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	in := breakGlass("bg1", alice, "prod", t0.Add(30*time.Minute))
	got, err := st.OpenBreakGlass(ctx, in)
	must(t, err)
	want := in
	want.Status, want.OpenedAt = BreakGlassActive, t0
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("OpenBreakGlass = %+v, want %+v", got, want)
	}
	if fetched, err := st.GetBreakGlass(ctx, "bg1"); err != nil || !reflect.DeepEqual(fetched, want) {
		t.Fatalf("GetBreakGlass = %+v, %v", fetched, err)
	}
	_, err = st.GetBreakGlass(ctx, "nope")
	wantErr(t, err, ErrNotFound)

	_, err = st.OpenBreakGlass(ctx, breakGlass("bg2", alice, "prod", t0.Add(time.Hour)))
	wantErr(t, err, ErrConflict) // one active per person and profile
	_, err = st.OpenBreakGlass(ctx, breakGlass("bg1", bob, "prod", t0.Add(time.Hour)))
	wantErr(t, err, ErrConflict) // ID taken
	c.Advance(time.Second)
	_, err = st.OpenBreakGlass(ctx, breakGlass("bg3", alice, "staging", t0.Add(time.Hour)))
	must(t, err)
	c.Advance(time.Second)
	_, err = st.OpenBreakGlass(ctx, breakGlass("bg4", bob, "prod", t0.Add(time.Hour)))
	must(t, err)

	closed, err := st.CloseBreakGlass(ctx, "bg1", alice, "resolved")
	must(t, err)
	if closed.Status != BreakGlassClosed || closed.ClosedBy != alice || closed.CloseComment != "resolved" || !closed.ClosedAt.Equal(c.Now()) {
		t.Fatalf("closed = %+v", closed)
	}
	_, err = st.CloseBreakGlass(ctx, "bg1", alice, "")
	wantErr(t, err, ErrConflict)
	_, err = st.CloseBreakGlass(ctx, "nope", alice, "")
	wantErr(t, err, ErrNotFound)
	c.Advance(time.Second)
	_, err = st.OpenBreakGlass(ctx, breakGlass("bg5", alice, "prod", c.Now().Add(time.Minute)))
	must(t, err) // reopened after close

	list := func(f BreakGlassFilter) []string {
		t.Helper()
		got, err := st.ListBreakGlass(ctx, f)
		must(t, err)
		return eventIDs(got)
	}
	equalIDs(t, "all events", list(BreakGlassFilter{}), "bg5", "bg4", "bg3", "bg1")
	equalIDs(t, "active events", list(BreakGlassFilter{ActiveOnly: true}), "bg5", "bg4", "bg3")
	equalIDs(t, "alice's prod events", list(BreakGlassFilter{Principal: alice, Profile: "prod"}), "bg5", "bg1")
	equalIDs(t, "limit", list(BreakGlassFilter{Limit: 2}), "bg5", "bg4")

	c.Advance(time.Minute) // bg5 expires
	got, err = st.GetBreakGlass(ctx, "bg5")
	must(t, err)
	if got.Status != BreakGlassExpired {
		t.Fatalf("bg5 status = %s, want expired", got.Status)
	}
	_, err = st.CloseBreakGlass(ctx, "bg5", alice, "")
	wantErr(t, err, ErrConflict)
	_, err = st.OpenBreakGlass(ctx, breakGlass("bg6", alice, "prod", c.Now().Add(time.Minute)))
	must(t, err) // the expired one no longer blocks
}

func testIdempotency(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	in := IdempotencyRecord{
		Principal: alice, User: "alice", Key: "k#1", RequestHash: "abc",
		StatusCode: 201, Body: []byte(`{"approval_id":"ap1"}`), ExpiresAt: t0.Add(24 * time.Hour),
	}
	must(t, st.PutIdempotency(ctx, in))
	got, err := st.GetIdempotency(ctx, alice, "alice", "k#1")
	must(t, err)
	want := in
	want.CreatedAt = t0
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("GetIdempotency = %+v, want %+v", got, want)
	}
	wantErr(t, st.PutIdempotency(ctx, in), ErrConflict)
	_, err = st.GetIdempotency(ctx, alice, "", "k#1") // another person's key
	wantErr(t, err, ErrNotFound)
	_, err = st.GetIdempotency(ctx, alice, "alice", "k")
	wantErr(t, err, ErrNotFound)

	c.Advance(24 * time.Hour)
	_, err = st.GetIdempotency(ctx, alice, "alice", "k#1")
	wantErr(t, err, ErrNotFound)
	in.ExpiresAt, in.Body = c.Now().Add(time.Hour), nil
	must(t, st.PutIdempotency(ctx, in)) // an expired key can be used again
	got, err = st.GetIdempotency(ctx, alice, "alice", "k#1")
	must(t, err)
	if got.Body != nil {
		t.Fatalf("empty body read back as %q", got.Body)
	}
}

// parallel runs f(i) for i in [0, n) at once and returns the errors.
func parallel(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var start, wg sync.WaitGroup
	start.Add(1)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start.Wait()
			errs[i] = f(i)
		}()
	}
	start.Done()
	wg.Wait()
	return errs
}

func testConcurrentVends(t *testing.T, newStore newStoreFunc) {
	ctx, st, _ := setup(t, newStore)
	const n, limit = 16, 5
	errs := parallel(n, func(i int) error {
		return st.Vend(ctx, "alice", limit, time.Hour, session(fmt.Sprintf("s%02d", i), alice, "", "dev", t0))
	})
	ok, limited := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrRateLimited):
			limited++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != limit || limited != n-limit {
		t.Fatalf("%d vended and %d rate limited, want %d and %d", ok, limited, limit, n-limit)
	}
	all, err := st.ListSessionsByPrincipal(ctx, alice, "", SessionFilter{})
	must(t, err)
	if len(all) != limit {
		t.Fatalf("%d sessions recorded, want %d", len(all), limit)
	}
}

func testConcurrentApprovals(t *testing.T, newStore newStoreFunc) {
	ctx, st, _ := setup(t, newStore)
	_, _, err := st.CreateApproval(ctx, approval("ap1", alice, "", "prod", 2, t0.Add(time.Hour)))
	must(t, err)
	errs := parallel(2, func(i int) error {
		_, err := st.DecideApproval(ctx, "ap1", Decision{Approver: fmt.Sprintf("approver-%d", i), Approve: true})
		return err
	})
	for _, err := range errs {
		must(t, err)
	}
	got, err := st.GetApproval(ctx, "ap1")
	must(t, err)
	if got.Status != ApprovalApproved || len(got.Decisions) != 2 {
		t.Fatalf("after two concurrent approvals: %+v", got)
	}
}

func testConcurrentSingleApproval(t *testing.T, newStore newStoreFunc) {
	ctx, st, _ := setup(t, newStore)
	_, _, err := st.CreateApproval(ctx, approval("ap1", alice, "", "prod", 1, t0.Add(time.Hour)))
	must(t, err)
	errs := parallel(4, func(i int) error {
		_, err := st.DecideApproval(ctx, "ap1", Decision{Approver: fmt.Sprintf("approver-%d", i), Approve: true})
		return err
	})
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, ErrConflict) {
			t.Errorf("unexpected error: %v", err)
		}
	}
	got, err := st.GetApproval(ctx, "ap1")
	must(t, err)
	if ok != 1 || got.Status != ApprovalApproved || len(got.Decisions) != 1 {
		t.Fatalf("%d approvals succeeded, approval %+v; want exactly one", ok, got)
	}
	uses := parallel(4, func(i int) error {
		_, err := st.MarkApprovalUsed(ctx, "ap1", fmt.Sprintf("s%d", i))
		return err
	})
	ok = 0
	for _, err := range uses {
		if err == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("the approval was used %d times, want once", ok)
	}
}

func testConcurrentApprovalRequests(t *testing.T, newStore newStoreFunc) {
	ctx, st, _ := setup(t, newStore)
	got := make([]ApprovalRequest, 4)
	errs := parallel(4, func(i int) error {
		var err error
		got[i], _, err = st.CreateApproval(ctx, approval(fmt.Sprintf("ap%d", i), alice, "", "prod", 1, t0.Add(time.Hour)))
		return err
	})
	for i, err := range errs {
		must(t, err)
		if got[i].ID != got[0].ID {
			t.Fatalf("concurrent requests got %s and %s, want one pending request", got[0].ID, got[i].ID)
		}
	}
	pending, err := st.ListApprovalsByStatus(ctx, ApprovalPending, Page{})
	must(t, err)
	equalIDs(t, "pending", approvalIDs(pending), got[0].ID)
}

func testConcurrentBreakGlass(t *testing.T, newStore newStoreFunc) {
	ctx, st, _ := setup(t, newStore)
	errs := parallel(4, func(i int) error {
		_, err := st.OpenBreakGlass(ctx, breakGlass(fmt.Sprintf("bg%d", i), alice, "prod", t0.Add(time.Hour)))
		return err
	})
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, ErrConflict) {
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d break-glass events opened, want 1", ok)
	}
}
