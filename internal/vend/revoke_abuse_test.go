package vend_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/revoke"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// Attacks on revocation, approvals and break-glass by a caller who wants
// to flood, to deny service to others, or to keep access after it ended.

// TestOwnerRevocationsAreRateLimited: a caller who vends and revokes their
// own sessions in a loop could fill the role's revocation policy and force
// the role-wide cut-off. Own-session revocations are counted per person
// and hour, before IAM is touched; an operator's are not.
func TestOwnerRevocationsAreRateLimited(t *testing.T) {
	rv := &fakeRevoker{}
	h := newHarness(t, withRevoker(rv), withConfig(func(c *vend.Config) { c.OwnerRevokeLimit = 2 }))
	var sids []string
	for range 4 {
		r := h.do(loadEvent(t, "credentials-native.json"))
		if r.StatusCode != 200 {
			t.Fatalf("vend: %d %s", r.StatusCode, r.Body)
		}
		sids = append(sids, r.JSON["session_id"].(string))
	}
	revokeAs := func(caller, id string) result {
		return h.do(call(t, caller, "POST", "/v1/sessions/{id}/revoke", id, `{"reason":"done"}`))
	}
	for _, id := range sids[:2] {
		if r := revokeAs(callerARN, id); r.StatusCode != 200 {
			t.Fatalf("revoke %s: %d %s", id, r.StatusCode, r.Body)
		}
	}
	wantError(t, revokeAs(callerARN, sids[2]), 429, vend.CodeRateLimited, "too many requests; retry later")
	if n := len(rv.Requests()); n != 2 {
		t.Fatalf("the revoker was called %d times, want 2 (the limited request must not reach IAM)", n)
	}
	if h.session(sids[2]).Status != store.SessionActive {
		t.Fatal("a refused revocation changed the session")
	}
	// An operator is not limited.
	for _, id := range sids[2:] {
		if r := revokeAs(sam, id); r.StatusCode != 200 {
			t.Fatalf("operator revoke: %d %s", r.StatusCode, r.Body)
		}
	}
	// The window is an hour.
	h.clock.Advance(time.Hour)
	r := h.do(loadEvent(t, "credentials-native.json"))
	if r := revokeAs(callerARN, r.JSON["session_id"].(string)); r.StatusCode != 200 {
		t.Fatalf("after an hour: %d %s", r.StatusCode, r.Body)
	}
}

// TestRevocationFallbackIsAnnounced: when the revoker had to write the
// role-wide cut-off, everyone must learn it: the answer, the audit log and
// a revocation_fallback notification.
func TestRevocationFallbackIsAnnounced(t *testing.T) {
	cutoff := testNow.Add(time.Second)
	rv := &fakeRevoker{Result: revoke.Result{Enforcement: revoke.EnforcementTokenIssueTime, TokenIssueCutoff: cutoff, CutoffWritten: true}}
	n := &fakeNotifier{}
	h := newHarness(t, withRevoker(rv), withNotifier(n))
	id := h.do(loadEvent(t, "credentials-native.json")).JSON["session_id"].(string)
	r := h.do(call(t, callerARN, "POST", "/v1/sessions/{id}/revoke", id, `{"reason":"lost laptop"}`))
	warning, _ := r.JSON["warning"].(string)
	if r.StatusCode != 200 || r.JSON["enforcement"] != "token_issue_time" || r.JSON["token_issue_cutoff"] != "2026-03-02T12:00:01Z" ||
		!strings.Contains(warning, "every session of the role issued before 2026-03-02T12:00:01Z is now denied") {
		t.Fatalf("answer %d %s", r.StatusCode, r.Body)
	}
	if got := n.Events(); !slices.Contains(got, vend.EventRevocationFallback) {
		t.Fatalf("notifications %v, want %s", got, vend.EventRevocationFallback)
	}
	var found bool
	for _, a := range h.audits() {
		if a["event"] == vend.EventRevocationFallback {
			found = a["level"] == "WARN" && a["role_arn"] == "arn:aws:iam::111122223333:role/sentinel/dev-readonly" &&
				a["token_issue_cutoff"] == "2026-03-02T12:00:01Z"
		}
	}
	if !found {
		t.Fatalf("no WARN revocation_fallback audit line: %s", h.logs.String())
	}
	// A revocation the existing cut-off already covers is not announced again.
	rv.Result.CutoffWritten = false
	id2 := h.do(loadEvent(t, "credentials-native.json")).JSON["session_id"].(string)
	r = h.do(call(t, callerARN, "POST", "/v1/sessions/{id}/revoke", id2, `{"reason":"lost laptop"}`))
	if _, ok := r.JSON["warning"]; ok || r.StatusCode != 200 {
		t.Fatalf("covered: %d %s", r.StatusCode, r.Body)
	}
	fallbacks := 0
	for _, e := range n.Events() {
		if e == vend.EventRevocationFallback {
			fallbacks++
		}
	}
	if fallbacks != 1 {
		t.Errorf("%d fallback notifications, want 1", fallbacks)
	}
}

// TestApprovalAndBreakGlassRoutesAreRateLimited: approval requests,
// cancels and break-glass opens and closes each notify people, so each
// counts against the caller's limit like a vend.
func TestApprovalAndBreakGlassRoutesAreRateLimited(t *testing.T) {
	n := &fakeNotifier{}
	h := newHarness(t, withNotifier(n), withConfig(func(c *vend.Config) { c.RateLimit = 4 }))
	req := h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"deploy"}`))
	if req.StatusCode != 201 {
		t.Fatalf("request: %d %s", req.StatusCode, req.Body)
	}
	if r := h.do(call(t, callerARN, "POST", "/v1/approvals/{id}/cancel", req.JSON["approval_id"].(string), "")); r.StatusCode != 200 {
		t.Fatalf("cancel: %d %s", r.StatusCode, r.Body)
	}
	open := h.do(call(t, callerARN, "POST", "/v1/break-glass", "", `{"profile":"prod-db","reason_code":"incident","justification":"db down"}`))
	if open.StatusCode != 201 {
		t.Fatalf("open: %d %s", open.StatusCode, open.Body)
	}
	if r := h.do(call(t, callerARN, "POST", "/v1/break-glass/{id}/close", open.JSON["event_id"].(string), "")); r.StatusCode != 200 {
		t.Fatalf("close: %d %s", r.StatusCode, r.Body)
	}
	before := len(n.Events())
	wantError(t, h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"again"}`)),
		429, vend.CodeRateLimited, "too many requests; retry later")
	wantError(t, h.do(call(t, callerARN, "POST", "/v1/break-glass", "", `{"profile":"prod-db","reason_code":"incident","justification":"again"}`)),
		429, vend.CodeRateLimited, "too many requests; retry later")
	if got := n.Events(); len(got) != before {
		t.Fatalf("limited requests notified: %v", got[before:])
	}
	if evs, _ := h.mem.ListBreakGlass(context.Background(), store.BreakGlassFilter{}); len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}

	// A cancel and a close are counted too: a new window, two requests
	// and two opens fill it, then cancel and close are refused.
	h.clock.Advance(time.Minute)
	h2 := h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"deploy"}`))
	o2 := h.do(call(t, callerARN, "POST", "/v1/break-glass", "", `{"profile":"prod-db","reason_code":"incident","justification":"db down"}`))
	h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"deploy"}`))
	h.do(call(t, callerARN, "GET", "/v1/break-glass", "", ""))
	h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"deploy"}`))
	wantError(t, h.do(call(t, callerARN, "POST", "/v1/approvals/{id}/cancel", h2.JSON["approval_id"].(string), "")),
		429, vend.CodeRateLimited, "too many requests; retry later")
	wantError(t, h.do(call(t, callerARN, "POST", "/v1/break-glass/{id}/close", o2.JSON["event_id"].(string), "")),
		429, vend.CodeRateLimited, "too many requests; retry later")
}

// TestCloseBreakGlassRevokesItsSessions: closing an event stops new
// sessions; with revoke_sessions the sessions it vended stop too, and
// only those.
func TestCloseBreakGlassRevokesItsSessions(t *testing.T) {
	rv := &fakeRevoker{}
	n := &fakeNotifier{}
	h := newHarness(t, withRevoker(rv), withNotifier(n))
	open := h.do(call(t, callerARN, "POST", "/v1/break-glass", "", `{"profile":"prod-db","reason_code":"incident","justification":"db down"}`))
	id := open.JSON["event_id"].(string)
	var bg []string
	for range 2 {
		r := h.do(loadEvent(t, "credentials-native.json").profile("prod-db"))
		if r.StatusCode != 200 {
			t.Fatalf("vend: %d %s", r.StatusCode, r.Body)
		}
		bg = append(bg, r.JSON["session_id"].(string))
	}
	plain := h.do(loadEvent(t, "credentials-native.json")).JSON["session_id"].(string)

	wantError(t, h.do(call(t, callerARN, "POST", "/v1/break-glass/{id}/close", id, `{"revoke_sessions":"yes"}`)), 400, vend.CodeInvalidRequest, "")
	r := h.do(call(t, callerARN, "POST", "/v1/break-glass/{id}/close", id, `{"comment":"fixed","revoke_sessions":true}`))
	if r.StatusCode != 200 || r.JSON["status"] != "closed" {
		t.Fatalf("close: %d %s", r.StatusCode, r.Body)
	}
	got := []string{}
	for _, v := range r.JSON["revoked_sessions"].([]any) {
		got = append(got, v.(string))
	}
	slices.Sort(got)
	if strings.Join(got, ",") != strings.Join(bg, ",") {
		t.Fatalf("revoked %v, want %v", got, bg)
	}
	for _, sid := range bg {
		if se := h.session(sid); se.Status != store.SessionRevoked || !strings.Contains(se.RevokeReason, "break-glass event "+id+" closed: fixed") {
			t.Errorf("session %s: %+v", sid, se)
		}
	}
	if h.session(plain).Status != store.SessionActive {
		t.Error("a session not vended by the event was revoked")
	}
	reqs := rv.Requests()
	if len(reqs) != 2 || reqs[0].RoleARN != "arn:aws:iam::444455556666:role/sentinel/prod-db" {
		t.Fatalf("revoker requests %+v", reqs)
	}
	if ev := strings.Join(n.Events(), ","); ev != "break_glass_opened,break_glass_closed,session_revoked,session_revoked" {
		t.Errorf("notifications %s", ev)
	}

	// Without a revoker nothing is closed when revocation was asked for.
	h2 := newHarness(t)
	o := h2.do(call(t, callerARN, "POST", "/v1/break-glass", "", `{"profile":"prod-db","reason_code":"incident","justification":"db down"}`))
	wantError(t, h2.do(call(t, callerARN, "POST", "/v1/break-glass/{id}/close", o.JSON["event_id"].(string), `{"revoke_sessions":true}`)),
		503, vend.CodeUnavailable, "revocation is not configured (SENTINEL_REVOKER_FUNCTION); the event is still open")
	if e, _ := h2.mem.GetBreakGlass(context.Background(), o.JSON["event_id"].(string)); e.Status != store.BreakGlassActive {
		t.Fatalf("event %s", e.Status)
	}
}

// staleIndex answers list queries as an eventually consistent index
// would just after a close: the event still active.
type staleIndex struct {
	store.Store
	stale []store.BreakGlassEvent
}

func (s *staleIndex) ListBreakGlass(context.Context, store.BreakGlassFilter) ([]store.BreakGlassEvent, error) {
	return s.stale, nil
}

// TestClosedBreakGlassGrantsNothing: the vend path's break-glass check
// reads the table consistently, not an index that may still show an
// event closed a moment ago.
func TestClosedBreakGlassGrantsNothing(t *testing.T) {
	h := newHarness(t)
	si := &staleIndex{Store: h.mem}
	h2 := newHarness(t, func(_ *harness, d *vend.Deps) { d.Store = si })
	open := h2.do(call(t, callerARN, "POST", "/v1/break-glass", "", `{"profile":"prod-db","reason_code":"incident","justification":"db down"}`))
	if open.StatusCode != 201 {
		t.Fatalf("open: %d %s", open.StatusCode, open.Body)
	}
	evs, _ := h.mem.ListBreakGlass(context.Background(), store.BreakGlassFilter{})
	si.stale = evs // the index as it was before the close
	if r := h2.do(call(t, callerARN, "POST", "/v1/break-glass/{id}/close", open.JSON["event_id"].(string), "")); r.StatusCode != 200 {
		t.Fatalf("close: %d %s", r.StatusCode, r.Body)
	}
	wantError(t, h2.do(loadEvent(t, "credentials-native.json").profile("prod-db")), 403, vend.CodePolicyDenied, "")
}

// TestSessionIDTagIsTransitive: a session chained from a vended one
// (AssumeRole with the vended credentials) keeps the sentinel:session-id
// tag, so the revocation's deny still matches it.
func TestSessionIDTagIsTransitive(t *testing.T) {
	h := newHarness(t)
	if r := h.do(loadEvent(t, "credentials-native.json")); r.StatusCode != 200 {
		t.Fatalf("vend: %d %s", r.StatusCode, r.Body)
	}
	in := h.sts.Inputs()
	if len(in) != 1 || !slices.Equal(in[0].TransitiveTagKeys, []string{vend.TagSessionID}) {
		t.Fatalf("TransitiveTagKeys %v, want [%s]", in[0].TransitiveTagKeys, vend.TagSessionID)
	}
}
