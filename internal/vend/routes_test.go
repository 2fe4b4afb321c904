package vend_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/revoke"
	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// Callers of the route tests, under testdata/policy: alice (engineer-dev)
// requests prod-admin and may open break-glass on prod-*; sam
// (security-lead) approves prod-admin and is an operator; eng2 is another
// engineer role (neither approver nor operator); alice2 is another session
// of alice's role: the same person.
const (
	sam    = "arn:aws:sts::111122223333:assumed-role/security-lead/sam"
	eng2   = "arn:aws:sts::111122223333:assumed-role/engineer-ops/erin"
	alice2 = "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice-laptop"
)

// fakeRevoker records revocations and answers with Result or Err.
type fakeRevoker struct {
	mu     sync.Mutex
	reqs   []revoke.Request
	Result revoke.Result
	Err    error
}

func (f *fakeRevoker) Revoke(_ context.Context, req revoke.Request) (revoke.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if f.Err != nil {
		return revoke.Result{}, f.Err
	}
	r := f.Result
	if r.Enforcement == "" {
		r.Enforcement = revoke.EnforcementSessionTag
	}
	return r, nil
}

func (f *fakeRevoker) Requests() []revoke.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]revoke.Request(nil), f.reqs...)
}

// fakeNotifier records notifications, or fails.
type fakeNotifier struct {
	mu  sync.Mutex
	got []vend.Notification
	Err error
}

func (f *fakeNotifier) Notify(_ context.Context, n vend.Notification) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, n)
	return f.Err
}

func (f *fakeNotifier) Events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, n := range f.got {
		out = append(out, n.Event)
	}
	return out
}

func withRevoker(r vend.Revoker) option   { return func(_ *harness, d *vend.Deps) { d.Revoker = r } }
func withNotifier(n vend.Notifier) option { return func(_ *harness, d *vend.Deps) { d.Notifier = n } }

// call builds a request of a route as caller; id fills {id}.
func call(t *testing.T, caller, method, resource, id, body string) event {
	e := loadEvent(t, "credentials-native.json").caller(caller).route(method, resource).body(body)
	if id != "" {
		e["pathParameters"] = map[string]any{"id": id}
		e["path"] = strings.Replace(resource, "{id}", id, 1)
	}
	return e
}

// audits returns the audit events logged so far.
func (h *harness) audits() []map[string]any {
	var out []map[string]any
	for _, rec := range jsonLines(h.t, h.logs.String()) {
		if rec["msg"] == "audit" {
			if rec["audit"] != true {
				h.t.Errorf("audit event without audit=true: %v", rec)
			}
			out = append(out, rec)
		}
	}
	return out
}

func TestApprovalRoutes(t *testing.T) {
	n := &fakeNotifier{}
	h := newHarness(t, withNotifier(n))
	r := h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"deploy","duration_seconds":1800}`))
	if r.StatusCode != 201 || r.JSON["status"] != "pending" || r.JSON["requester"] != principalARN || r.JSON["expires_at"] != "2026-03-03T12:00:00Z" {
		t.Fatalf("create: %d %s", r.StatusCode, r.Body)
	}
	id := r.JSON["approval_id"].(string)
	// Reused by a second ask of the same person (another session of the role).
	r = h.do(call(t, alice2, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"again"}`))
	if r.StatusCode != 200 || r.JSON["approval_id"] != id {
		t.Fatalf("reuse: %d %s", r.StatusCode, r.Body)
	}
	wantError(t, h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"dev-readonly","justification":"x"}`)), 400, vend.CodeInvalidRequest,
		"the policy allows this request without approval; use POST /v1/credentials")
	wantError(t, h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-denied","justification":"x"}`)), 403, vend.CodePolicyDenied, "Nobody uses prod-denied")
	wantError(t, h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin"}`)), 400, vend.CodeInvalidRequest, "justification is required, at most 1024 characters")

	// Who sees it.
	for _, who := range []string{callerARN, alice2, sam} {
		if r := h.do(call(t, who, "GET", "/v1/approvals/{id}", id, "")); r.StatusCode != 200 {
			t.Errorf("%s: %d %s", who, r.StatusCode, r.Body)
		}
	}
	wantError(t, h.do(call(t, eng2, "GET", "/v1/approvals/{id}", id, "")), 403, vend.CodeForbidden, "only the requester, its approvers and operators see this approval request")
	wantError(t, h.do(call(t, eng2, "GET", "/v1/approvals/{id}", idN(77), "")), 404, vend.CodeNotFound, "no such approval request")
	wantError(t, h.do(call(t, eng2, "GET", "/v1/approvals/{id}", "../x", "")), 404, vend.CodeNotFound, "no such approval request")
	if r := h.do(call(t, sam, "GET", "/v1/approvals", "", "")); !strings.Contains(r.Body, id) {
		t.Errorf("the approver's list lacks the request: %s", r.Body)
	}
	if r := h.do(call(t, eng2, "GET", "/v1/approvals", "", "")); strings.Contains(r.Body, id) {
		t.Errorf("a stranger's list has the request: %s", r.Body)
	}
	wantError(t, h.do(call(t, callerARN, "GET", "/v1/approvals", "", "").query("status", "nope")), 400, vend.CodeInvalidRequest, "")

	// Who decides it.
	wantError(t, h.do(call(t, alice2, "POST", "/v1/approvals/{id}/approve", id, "")), 403, vend.CodeForbidden, "nobody approves or denies their own request")
	wantError(t, h.do(call(t, eng2, "POST", "/v1/approvals/{id}/approve", id, "")), 403, vend.CodeForbidden, "only the requester, its approvers and operators see this approval request")
	wantError(t, h.do(call(t, sam, "POST", "/v1/approvals/{id}/cancel", id, "")), 403, vend.CodeForbidden, "only the requester cancels a request")
	r = h.do(call(t, sam, "POST", "/v1/approvals/{id}/approve", id, `{"comment":"go"}`))
	if r.StatusCode != 200 || r.JSON["status"] != "approved" || r.JSON["usable_until"] != "2026-03-02T13:00:00Z" {
		t.Fatalf("approve: %d %s", r.StatusCode, r.Body)
	}
	if d := r.JSON["decisions"].([]any)[0].(map[string]any); d["approver"] != "arn:aws:iam::111122223333:role/security-lead" || d["decision"] != "approve" || d["comment"] != "go" {
		t.Errorf("decision %v", d)
	}
	wantError(t, h.do(call(t, sam, "POST", "/v1/approvals/{id}/deny", id, "")), 409, vend.CodeConflict, "the request is approved, not pending")
	wantError(t, h.do(call(t, callerARN, "POST", "/v1/approvals/{id}/cancel", id, "")), 409, vend.CodeConflict, "the request is approved, not pending")

	if got := strings.Join(n.Events(), ","); got != "approval_requested,approval_decided" {
		t.Errorf("notifications %s", got)
	}
	a := h.audits()
	if len(a) != 2 || a[1]["event"] != vend.EventApprovalDecided || a[1]["decision"] != "approve" || a[1]["approval_id"] != id ||
		a[1]["actor"] != "arn:aws:iam::111122223333:role/security-lead" || a[1]["profile"] != "prod-admin" {
		t.Errorf("audit events %v", a)
	}
}

func TestApprovalCancelAndDeny(t *testing.T) {
	h := newHarness(t)
	r := h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"deploy"}`))
	id := r.JSON["approval_id"].(string)
	if r := h.do(call(t, alice2, "POST", "/v1/approvals/{id}/cancel", id, `{"comment":"not needed"}`)); r.StatusCode != 200 || r.JSON["status"] != "cancelled" {
		t.Fatalf("cancel: %d %s", r.StatusCode, r.Body)
	}
	r = h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"deploy 2"}`))
	id2 := r.JSON["approval_id"].(string)
	if id2 == id || r.StatusCode != 201 {
		t.Fatalf("a new request after the cancel: %d %s", r.StatusCode, r.Body)
	}
	if r := h.do(call(t, sam, "POST", "/v1/approvals/{id}/deny", id2, "")); r.StatusCode != 200 || r.JSON["status"] != "denied" {
		t.Fatalf("deny: %d %s", r.StatusCode, r.Body)
	}
	wantError(t, h.do(loadEvent(t, "credentials-native.json").body(`{"profile":"prod-admin","approval_id":"`+id2+`"}`)), 403, vend.CodeApprovalRequired, "")
}

func TestApprovalExpires(t *testing.T) {
	n := &fakeNotifier{}
	h := newHarness(t, withNotifier(n))
	r := h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"deploy"}`))
	id := r.JSON["approval_id"].(string)
	h.clock.Advance(vend.DefaultApprovalTTL)
	wantError(t, h.do(call(t, sam, "POST", "/v1/approvals/{id}/approve", id, "")), 409, vend.CodeConflict, "the request is expired, not pending")
	if got := strings.Join(n.Events(), ","); got != "approval_requested,approval_expired" {
		t.Errorf("notifications %s", got)
	}
	// Approved, but not used within the window: the vend needs a new one.
	r = h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"deploy"}`))
	id = r.JSON["approval_id"].(string)
	h.do(call(t, sam, "POST", "/v1/approvals/{id}/approve", id, ""))
	h.clock.Advance(vend.DefaultApprovalWindow)
	r = h.do(loadEvent(t, "credentials-native.json").body(`{"profile":"prod-admin","approval_id":"` + id + `"}`))
	wantError(t, r, 403, vend.CodeApprovalRequired, "")
}

func TestMinApprovalsNeedsDistinctPeople(t *testing.T) {
	pol := compileHCL(t, `
settings { operators = [] }
profile "p" { role_arn = "arn:aws:iam::111122223333:role/p" }
rule "two" {
  effect        = "require_approval"
  profiles      = ["p"]
  principals    = ["arn:aws:iam::111122223333:role/engineer-*"]
  approvers     = ["arn:aws:iam::111122223333:role/security-*"]
  min_approvals = 2
}
`)
	h := newHarness(t, withPolicySource(vend.StaticPolicy{P: pol.Policy}))
	r := h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"p","justification":"x"}`))
	id := r.JSON["approval_id"].(string)
	if r := h.do(call(t, sam, "POST", "/v1/approvals/{id}/approve", id, "")); r.JSON["status"] != "pending" {
		t.Fatalf("after one approval: %s", r.Body)
	}
	// Another session of the same role is the same person.
	wantError(t, h.do(call(t, "arn:aws:sts::111122223333:assumed-role/security-lead/sam2", "POST", "/v1/approvals/{id}/approve", id, "")),
		409, vend.CodeConflict, "the request is no longer pending, or you have decided it already")
	if r := h.do(call(t, "arn:aws:sts::111122223333:assumed-role/security-ops/olga", "POST", "/v1/approvals/{id}/approve", id, "")); r.JSON["status"] != "approved" {
		t.Fatalf("after a second person's approval: %s", r.Body)
	}
}

func TestBreakGlassRoutes(t *testing.T) {
	n := &fakeNotifier{}
	h := newHarness(t, withNotifier(n))
	open := func(caller, body string) result {
		return h.do(call(t, caller, "POST", "/v1/break-glass", "", body))
	}
	wantError(t, open(sam, `{"profile":"prod-db","reason_code":"incident","justification":"db down"}`), 403, vend.CodeForbidden,
		"no break_glass block lets you open an event for this profile")
	wantError(t, open(callerARN, `{"profile":"prod-db","reason_code":"boredom","justification":"db down"}`), 400, vend.CodeInvalidRequest,
		"reason_code must be one of: incident")
	wantError(t, open(callerARN, `{"profile":"prod-db","reason_code":"incident","justification":"  "}`), 400, vend.CodeInvalidRequest,
		"justification must be at least 1 characters")
	wantError(t, open(callerARN, `{"profile":"prod-db","reason_code":"incident","justification":"x","duration_seconds":3601}`), 400, vend.CodeInvalidRequest,
		"duration_seconds must be from 900 to 3600 (the break_glass block's max_duration)")
	wantError(t, open(callerARN, `{"profile":"prod-denied","reason_code":"incident","justification":"x"}`), 403, vend.CodeForbidden,
		"rule nobody-prod-denied denies this profile, and break-glass never overrides a deny rule")

	r := open(callerARN, `{"profile":"prod-db","reason_code":"incident","justification":"db down","duration_seconds":1800}`)
	if r.StatusCode != 201 || r.JSON["status"] != "active" || r.JSON["expires_at"] != "2026-03-02T12:30:00Z" {
		t.Fatalf("open: %d %s", r.StatusCode, r.Body)
	}
	id := r.JSON["event_id"].(string)
	wantError(t, open(alice2, `{"profile":"prod-db","reason_code":"incident","justification":"again"}`), 409, vend.CodeConflict,
		"you already have an active break-glass event for this profile")

	// Audited at WARN, with the BreakGlass metric.
	a := h.audits()
	if len(a) != 1 || a[0]["level"] != "WARN" || a[0]["event"] != vend.EventBreakGlassOpened || a[0]["reason_code"] != "incident" ||
		a[0]["justification"] != "db down" || a[0]["event_id"] != id {
		t.Fatalf("audit %v", a)
	}
	bg := 0
	for _, m := range h.metricLines() {
		if m[vend.MetricBreakGlass] == 1.0 && m["Event"] == vend.EventBreakGlassOpened {
			bg++
		}
	}
	if bg != 1 {
		t.Errorf("%d BreakGlass metrics: %s", bg, h.metrics.String())
	}

	r = h.do(loadEvent(t, "credentials-native.json").profile("prod-db"))
	if r.StatusCode != 200 || r.JSON["decision"].(map[string]any)["via"] != "break_glass" || r.JSON["duration_seconds"] != 900.0 {
		t.Fatalf("vend: %d %s", r.StatusCode, r.Body)
	}
	if r := h.do(call(t, callerARN, "GET", "/v1/break-glass", "", "").query("active", "true")); !strings.Contains(r.Body, id) {
		t.Errorf("own list: %s", r.Body)
	}
	if r := h.do(call(t, eng2, "GET", "/v1/break-glass", "", "")); strings.Contains(r.Body, id) {
		t.Errorf("a stranger sees the event: %s", r.Body)
	}
	if r := h.do(call(t, sam, "GET", "/v1/break-glass", "", "")); !strings.Contains(r.Body, id) {
		t.Errorf("the operator does not see the event: %s", r.Body)
	}
	wantError(t, h.do(call(t, eng2, "POST", "/v1/break-glass/{id}/close", id, "")), 403, vend.CodeForbidden, "only the event's owner and operators close it")
	r = h.do(call(t, sam, "POST", "/v1/break-glass/{id}/close", id, `{"comment":"over"}`))
	if r.StatusCode != 200 || r.JSON["status"] != "closed" || r.JSON["closed_by"] != "arn:aws:iam::111122223333:role/security-lead" {
		t.Fatalf("close: %d %s", r.StatusCode, r.Body)
	}
	wantError(t, h.do(loadEvent(t, "credentials-native.json").profile("prod-db")), 403, vend.CodePolicyDenied, "")
	if got := strings.Join(n.Events(), ","); got != "break_glass_opened,break_glass_closed" {
		t.Errorf("notifications %s", got)
	}
}

func TestSessionRoutes(t *testing.T) {
	rv := &fakeRevoker{}
	h := newHarness(t, withRevoker(rv))
	sid := h.do(loadEvent(t, "credentials-native.json")).JSON["session_id"].(string)
	other := h.do(loadEvent(t, "credentials-native.json").caller(eng2)).JSON["session_id"].(string)

	r := h.do(call(t, alice2, "GET", "/v1/sessions", "", "").query("active", "true"))
	if !strings.Contains(r.Body, sid) || strings.Contains(r.Body, other) {
		t.Fatalf("own sessions: %s", r.Body)
	}
	wantError(t, h.do(call(t, callerARN, "GET", "/v1/sessions", "", "").query("principal", "arn:aws:iam::111122223333:role/engineer-ops")),
		403, vend.CodeForbidden, "only operators list other principals' sessions")
	r = h.do(call(t, sam, "GET", "/v1/sessions", "", "").query("principal", "arn:aws:iam::111122223333:role/engineer-ops"))
	if !strings.Contains(r.Body, other) || strings.Contains(r.Body, sid) {
		t.Fatalf("operator's filtered list: %s", r.Body)
	}
	wantError(t, h.do(call(t, eng2, "GET", "/v1/sessions/{id}", sid, "")), 403, vend.CodeForbidden, "only the session's owner and operators see or revoke it")
	if r := h.do(call(t, sam, "GET", "/v1/sessions/{id}", sid, "")); r.JSON["status"] != "active" || r.JSON["profile"] != "dev-readonly" {
		t.Fatalf("get: %s", r.Body)
	}
	wantError(t, h.do(call(t, eng2, "POST", "/v1/sessions/{id}/revoke", sid, `{"reason":"x"}`)), 403, vend.CodeForbidden, "")
	wantError(t, h.do(call(t, callerARN, "POST", "/v1/sessions/{id}/revoke", sid, `{"reason":""}`)), 400, vend.CodeInvalidRequest, "reason is required, at most 1024 characters")
	wantError(t, h.do(call(t, callerARN, "POST", "/v1/sessions/{id}/revoke", sid, `{"reason":"x","block_minutes":0}`)), 400, vend.CodeInvalidRequest, "block_minutes must be from 1 to 1440")
	if len(rv.Requests()) != 0 {
		t.Fatal("refused revocations reached the revoker")
	}

	r = h.do(call(t, alice2, "POST", "/v1/sessions/{id}/revoke", sid, `{"reason":"laptop lost","block_minutes":30}`))
	if r.StatusCode != 200 || r.JSON["status"] != "revoked" || r.JSON["enforcement"] != "session_tag" || r.JSON["blocked_until"] != "2026-03-02T12:30:00Z" {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	s := h.session(sid)
	if got := rv.Requests(); len(got) != 1 || got[0].SessionID != sid || got[0].RoleARN != s.RoleARN || !got[0].ExpiresAt.Equal(s.ExpiresAt) || !got[0].IssuedAt.Equal(s.IssuedAt) {
		t.Fatalf("revoker requests %+v", got)
	}
	if s.Status != store.SessionRevoked || s.RevokedBy != principalARN || s.RevokeReason != "laptop lost" || s.RevokeEnforcement != "session_tag" {
		t.Fatalf("record %+v", s)
	}
	// The block refuses the person's next vend of the profile, no extra call.
	h.store.Calls()
	wantError(t, h.do(loadEvent(t, "credentials-native.json")), 403, vend.CodeSessionRevoked,
		"a revoked session blocks new sessions of this profile for you until 2026-03-02T12:30:00Z")
	if calls := h.store.Calls(); strings.Join(calls, ",") != "Vend" {
		t.Errorf("blocked vend store calls %v", calls)
	}
	// Revoking again re-asserts the deny (a repair).
	if r := h.do(call(t, sam, "POST", "/v1/sessions/{id}/revoke", sid, `{"reason":"again"}`)); r.StatusCode != 200 || len(rv.Requests()) != 2 {
		t.Fatalf("again: %d %s", r.StatusCode, r.Body)
	}
	if h.do(loadEvent(t, "credentials-native.json").profile("scoped")).StatusCode != 200 {
		t.Error("the block reaches another profile")
	}
	h.clock.Advance(30 * time.Minute)
	if r := h.do(loadEvent(t, "credentials-native.json")); r.StatusCode != 200 {
		t.Errorf("after the block: %d %s", r.StatusCode, r.Body)
	}
	// Expired sessions: nothing to revoke.
	h.clock.Advance(time.Hour)
	wantError(t, h.do(call(t, sam, "POST", "/v1/sessions/{id}/revoke", other, `{"reason":"late"}`)), 409, vend.CodeConflict, "the session is expired; there is nothing to revoke")
	wantError(t, h.do(call(t, sam, "POST", "/v1/sessions/{id}/revoke", idN(999), `{"reason":"x"}`)), 404, vend.CodeNotFound, "no such session")
}

func TestRevokeFailuresChangeNothing(t *testing.T) {
	rv := &fakeRevoker{Err: errors.New("revoke: the revoker function failed (Unhandled): AccessDenied: arn:aws:iam::9999")}
	h := newHarness(t, withRevoker(rv))
	sid := h.do(loadEvent(t, "credentials-native.json")).JSON["session_id"].(string)
	r := h.do(call(t, callerARN, "POST", "/v1/sessions/{id}/revoke", sid, `{"reason":"x","block_minutes":5}`))
	wantError(t, r, 503, vend.CodeUnavailable, "the revocation could not be written to IAM; nothing changed; try again later")
	checkNoAWSText(t, r.Body)
	if s := h.session(sid); s.Status != store.SessionActive {
		t.Fatalf("session %s after a failed revocation", s.Status)
	}
	if r := h.do(loadEvent(t, "credentials-native.json")); r.StatusCode != 200 {
		t.Fatal("a failed revocation blocked vending")
	}
	h2 := newHarness(t)
	sid = h2.do(loadEvent(t, "credentials-native.json")).JSON["session_id"].(string)
	wantError(t, h2.do(call(t, callerARN, "POST", "/v1/sessions/{id}/revoke", sid, `{"reason":"x"}`)), 503, vend.CodeUnavailable,
		"revocation is not configured (SENTINEL_REVOKER_FUNCTION)")
}

// TestRevokeDuringVend revokes a session while its AssumeRole is in
// flight: the deny is written for the session ID the credentials carry.
func TestRevokeDuringVend(t *testing.T) {
	rv := &fakeRevoker{}
	h := newHarness(t, withRevoker(rv))
	h.sts.Block = make(chan struct{})
	done := make(chan result, 1)
	go func() {
		resp, _ := h.svc.HandleJSON(context.Background(), loadEvent(t, "credentials-native.json").raw(t))
		done <- decodeResponse(t, resp)
	}()
	var sid string
	for sid == "" {
		if s := h.sessions(); len(s) == 1 {
			sid = s[0].ID
		}
		time.Sleep(time.Millisecond)
	}
	r := h.do(call(t, callerARN, "POST", "/v1/sessions/{id}/revoke", sid, `{"reason":"revoked mid-vend"}`))
	if r.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	close(h.sts.Block)
	vended := <-done
	if vended.StatusCode != 200 || vended.JSON["session_id"] != sid {
		t.Fatalf("vend: %d %s", vended.StatusCode, vended.Body)
	}
	// The credentials carry the tag the deny names.
	if tagOf(h.sts.Inputs()[0].Tags, vend.TagSessionID) != sid || rv.Requests()[0].SessionID != sid {
		t.Fatal("the revoked session ID and the credentials' tag differ")
	}
	if h.session(sid).Status != store.SessionRevoked {
		t.Fatal("the record is not revoked")
	}
}

func TestNotificationFailureDoesNotFailTheRequest(t *testing.T) {
	n := &fakeNotifier{Err: errors.New("sns: AuthorizationError")}
	h := newHarness(t, withNotifier(n))
	r := h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"deploy"}`))
	if r.StatusCode != 201 {
		t.Fatalf("%d %s", r.StatusCode, r.Body)
	}
	if !strings.Contains(h.logs.String(), `"msg":"notification failed"`) {
		t.Error("the failed notification was not logged")
	}
}

func TestIdempotencyKey(t *testing.T) {
	h := newHarness(t)
	body := `{"profile":"prod-db","reason_code":"incident","justification":"db down"}`
	e := func(b string) event {
		ev := call(t, callerARN, "POST", "/v1/break-glass", "", b)
		ev["headers"].(map[string]any)["idempotency-key"] = "retry-1"
		return ev
	}
	first := h.do(e(body))
	if first.StatusCode != 201 {
		t.Fatalf("%d %s", first.StatusCode, first.Body)
	}
	again := h.do(e(body))
	if again.StatusCode != 201 || again.Body != first.Body || again.Headers["Idempotent-Replayed"] != "true" {
		t.Fatalf("replay: %d %s", again.StatusCode, again.Body)
	}
	if evs, _ := h.mem.ListBreakGlass(context.Background(), store.BreakGlassFilter{}); len(evs) != 1 {
		t.Fatalf("%d events after a retry", len(evs))
	}
	wantError(t, h.do(e(`{"profile":"prod-admin","reason_code":"incident","justification":"db down"}`)), 409, vend.CodeConflict,
		"this Idempotency-Key was used with a different request")
	// Keys are per person: another person's same key is theirs.
	ev := call(t, eng2, "POST", "/v1/break-glass", "", body)
	ev["headers"].(map[string]any)["Idempotency-Key"] = "retry-1"
	if r := h.do(ev); r.StatusCode != 201 || r.JSON["event_id"] == first.JSON["event_id"] {
		t.Fatalf("another person's key: %d %s", r.StatusCode, r.Body)
	}
	bad := call(t, callerARN, "POST", "/v1/break-glass", "", body)
	bad["headers"].(map[string]any)["Idempotency-Key"] = "has space"
	wantError(t, h.do(bad), 400, vend.CodeInvalidRequest, "Idempotency-Key must be 1-255 printable ASCII characters without spaces")
}

// TestConcurrentBreakGlassOpens: one of many concurrent opens wins.
func TestConcurrentBreakGlassOpens(t *testing.T) {
	h := newHarness(t)
	rs := runParallel(t, h, 8, call(t, callerARN, "POST", "/v1/break-glass", "", `{"profile":"prod-db","reason_code":"incident","justification":"db down"}`))
	created, conflict := 0, 0
	for _, r := range rs {
		switch r.StatusCode {
		case 201:
			created++
		case 409:
			conflict++
		default:
			t.Errorf("%d %s", r.StatusCode, r.Body)
		}
	}
	if created != 1 || conflict != 7 {
		t.Fatalf("%d opened, %d conflicts", created, conflict)
	}
}

// TestConcurrentApprovalDecisions: several approvers at once on a
// one-approval request: exactly one decision lands.
func TestConcurrentApprovalDecisions(t *testing.T) {
	h := newHarness(t)
	id := h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"x"}`)).JSON["approval_id"].(string)
	rs := runParallel(t, h, 6, call(t, sam, "POST", "/v1/approvals/{id}/approve", id, ""))
	ok := 0
	for _, r := range rs {
		if r.StatusCode == 200 {
			ok++
		} else if r.StatusCode != 409 {
			t.Errorf("%d %s", r.StatusCode, r.Body)
		}
	}
	a, _ := h.mem.GetApproval(context.Background(), id)
	if ok != 1 || len(a.Decisions) != 1 || a.Status != store.ApprovalApproved {
		t.Fatalf("%d succeeded; %+v", ok, a)
	}
}
