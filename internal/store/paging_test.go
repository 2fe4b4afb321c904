package store

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// pageAll reads a list page by page (pages of size), calling between
// pages, and returns every ID in order. It fails on a page longer than
// size or a list that does not end.
func pageAll[T any](t *testing.T, size int, list func(Cursor) ([]T, error), pos func(T) (Cursor, string), between func()) []string {
	t.Helper()
	var out []string
	var cur Cursor
	for range 100 {
		page, err := list(cur)
		must(t, err)
		if len(page) > size {
			t.Fatalf("page of %d, want at most %d", len(page), size)
		}
		for _, it := range page {
			_, id := pos(it)
			out = append(out, id)
		}
		if len(page) < size {
			return out
		}
		cur, _ = pos(page[len(page)-1])
		between()
	}
	t.Fatalf("the list did not end: %v", out)
	return nil
}

// testPaging pages by 2 through 5 records of each list (two of them in
// one second, so the ID breaks the tie) while newer records are added
// between pages: every page resumes after the previous one's last record,
// with no record twice and none missing.
func testPaging(t *testing.T, newStore newStoreFunc) {
	ctx, st, c := setup(t, newStore)
	at := []time.Time{t0.Add(-4 * time.Second), t0.Add(-3 * time.Second), t0.Add(-3 * time.Second), t0.Add(-time.Second), t0}
	for i, ts := range at {
		must(t, st.Vend(ctx, "k", 1000, time.Hour, session(fmt.Sprintf("s%d", i), alice, "alice", "dev", ts)))
		_, err := st.OpenBreakGlass(ctx, BreakGlassEvent{ID: fmt.Sprintf("b%d", i), Principal: alice, User: "alice",
			Profile: fmt.Sprintf("p%d", i), ReasonCode: "incident", Justification: "INC", DurationSeconds: 60, ExpiresAt: t0.Add(time.Hour)})
		must(t, err)
		_, _, err = st.CreateApproval(ctx, approval(fmt.Sprintf("a%d", i), alice, "alice", fmt.Sprintf("p%d", i), 1, t0.Add(time.Hour)))
		must(t, err)
		if i != 1 { // a1 and a2, b1 and b2 share a second
			c.Advance(time.Second)
		}
	}
	sessionsWant := []string{"s4", "s3", "s2", "s1", "s0"}
	newestWant := []string{"a4", "a3", "a2", "a1", "a0"}
	bgWant := []string{"b4", "b3", "b2", "b1", "b0"}

	n := 0
	insert := func() { // newer records of every kind, by the same person
		n++
		issued := c.Now()
		must(t, st.Vend(ctx, "k", 1000, time.Hour, session(fmt.Sprintf("new%d", n), alice, "alice", "dev", issued)))
		_, err := st.OpenBreakGlass(ctx, BreakGlassEvent{ID: fmt.Sprintf("newb%d", n), Principal: alice, User: "alice",
			Profile: fmt.Sprintf("new%d", n), ReasonCode: "incident", Justification: "INC", DurationSeconds: 60, ExpiresAt: t0.Add(time.Hour)})
		must(t, err)
		_, _, err = st.CreateApproval(ctx, approval(fmt.Sprintf("newa%d", n), alice, "alice", fmt.Sprintf("new%d", n), 1, t0.Add(time.Hour)))
		must(t, err)
		c.Advance(time.Second)
	}
	sessionPos := func(s SessionRecord) (Cursor, string) { return Cursor{s.IssuedAt, s.ID}, s.ID }
	approvalPos := func(a ApprovalRequest) (Cursor, string) { return Cursor{a.CreatedAt, a.ID}, a.ID }
	eventPos := func(e BreakGlassEvent) (Cursor, string) { return Cursor{e.OpenedAt, e.ID}, e.ID }

	// Each list pages to what it held before the first page (the first
	// list: the five records above), whatever is added meanwhile.
	sessions := func(f func(SessionFilter) ([]SessionRecord, error), f0 SessionFilter) {
		t.Helper()
		f0.Limit = 1000
		all, err := f(f0)
		must(t, err)
		got := pageAll(t, 2, func(cur Cursor) ([]SessionRecord, error) {
			f0.Limit, f0.Before = 2, cur
			return f(f0)
		}, sessionPos, insert)
		equalIDs(t, "session pages", got, sessionIDs(all)...)
	}
	all, err := st.ListSessions(ctx, SessionFilter{})
	must(t, err)
	equalIDs(t, "sessions", sessionIDs(all), sessionsWant...)
	sessions(func(f SessionFilter) ([]SessionRecord, error) { return st.ListSessions(ctx, f) }, SessionFilter{})
	sessions(func(f SessionFilter) ([]SessionRecord, error) {
		return st.ListSessionsByPrincipal(ctx, alice, "alice", f)
	}, SessionFilter{ActiveOnly: true})
	sessions(func(f SessionFilter) ([]SessionRecord, error) { return st.ListSessions(ctx, f) }, SessionFilter{Profile: "dev"})

	events, err := st.ListBreakGlass(ctx, BreakGlassFilter{Limit: 1000})
	must(t, err)
	if !slices.Equal(eventIDs(events)[len(events)-5:], bgWant) {
		t.Fatalf("events = %v", eventIDs(events))
	}
	got := pageAll(t, 2, func(cur Cursor) ([]BreakGlassEvent, error) {
		return st.ListBreakGlass(ctx, BreakGlassFilter{Principal: alice, User: "alice", Limit: 2, Before: cur})
	}, eventPos, insert)
	equalIDs(t, "ListBreakGlass pages", got, eventIDs(events)...)

	approvals := func(f func(Page) ([]ApprovalRequest, error)) {
		t.Helper()
		all, err := f(Page{Limit: 1000})
		must(t, err)
		if !slices.Equal(approvalIDs(all)[len(all)-5:], newestWant) {
			t.Fatalf("approvals = %v", approvalIDs(all))
		}
		got := pageAll(t, 2, func(cur Cursor) ([]ApprovalRequest, error) { return f(Page{Limit: 2, Before: cur}) }, approvalPos, insert)
		equalIDs(t, "approval pages", got, approvalIDs(all)...)
	}
	approvals(func(p Page) ([]ApprovalRequest, error) { return st.ListApprovalsByRequester(ctx, alice, "alice", p) })
	approvals(func(p Page) ([]ApprovalRequest, error) { return st.ListApprovalsByStatus(ctx, ApprovalPending, p) })

	// A cursor older than every record ends the list; one older than the
	// active sessions' window reads nothing (and is no error).
	empty, err := st.ListSessions(ctx, SessionFilter{Before: Cursor{t0.Add(-time.Hour), "zz"}})
	must(t, err)
	equalIDs(t, "sessions before the first", sessionIDs(empty))
	empty, err = st.ListSessions(ctx, SessionFilter{Before: Cursor{t0.Add(-48 * time.Hour), "zz"}, ActiveOnly: true})
	must(t, err)
	equalIDs(t, "active sessions before the window", sessionIDs(empty))

	// Expired approvals come from three partitions, merged, and page too.
	c.Advance(2 * time.Hour)
	expired, err := st.ListApprovalsByStatus(ctx, ApprovalExpired, Page{})
	must(t, err)
	got = pageAll(t, 2, func(cur Cursor) ([]ApprovalRequest, error) {
		return st.ListApprovalsByStatus(ctx, ApprovalExpired, Page{Limit: 2, Before: cur})
	}, approvalPos, func() {})
	equalIDs(t, "expired approvals pages", got, approvalIDs(expired)...)
	if !slices.Contains(got, "a0") || len(got) < 5 {
		t.Fatalf("expired approvals = %v", got)
	}
}

// testPagingConcurrentInserts pages by 2 while another goroutine vends
// newer sessions: the pages hold every session there was at the start,
// once each and in order, with new ones (if any) only on the first page.
func testPagingConcurrentInserts(t *testing.T, newStore newStoreFunc) {
	ctx, st, _ := setup(t, newStore)
	for i := range 5 {
		must(t, st.Vend(ctx, "k", 1000, time.Hour, session(fmt.Sprintf("s%d", i), alice, "", "dev", t0.Add(-time.Duration(10-i)*time.Second))))
	}
	before, err := st.ListSessions(ctx, SessionFilter{})
	must(t, err)
	stop, done := make(chan struct{}), make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := st.Vend(ctx, "k", 1000, time.Hour, session(fmt.Sprintf("new%03d", i), bob, "", "dev", t0.Add(time.Duration(i)*time.Second))); err != nil {
				done <- err
				return
			}
		}
	}()
	var got []string
	var cur Cursor
	for page := 0; ; page++ {
		ss, err := st.ListSessions(ctx, SessionFilter{Limit: 2, Before: cur})
		must(t, err)
		for _, s := range ss {
			if page > 0 && s.Principal == bob {
				t.Errorf("page %d holds %s, added after the first page", page, s.ID)
			}
			if s.Principal == alice {
				got = append(got, s.ID)
			}
		}
		if len(ss) < 2 {
			break
		}
		cur = Cursor{ss[len(ss)-1].IssuedAt, ss[len(ss)-1].ID}
	}
	close(stop)
	must(t, <-done)
	equalIDs(t, "sessions paged during inserts", got, sessionIDs(before)...)
}
