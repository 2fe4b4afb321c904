package vend_test

import (
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// TestDynamoApprovalExpiryAndBlock runs the parts of the lifecycles that
// need a clock (approval expiry, block end) on the real store in moto:
// `sentinel-tvm dev` runs on the wall clock, and its shortest approval TTL
// is a minute.
func TestDynamoApprovalExpiryAndBlock(t *testing.T) {
	dyn, _ := withDynamo(t)
	h := newHarness(t, dyn, withRevoker(&fakeRevoker{}))
	id := h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"deploy"}`)).JSON["approval_id"].(string)
	h.clock.Advance(vend.DefaultApprovalTTL)
	wantError(t, h.do(call(t, sam, "POST", "/v1/approvals/{id}/approve", id, "")), 409, vend.CodeConflict, "the request is expired, not pending")

	// A new request, approved: one vend, then no more.
	r := h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"deploy"}`))
	if r.StatusCode != 201 || r.JSON["approval_id"] == id {
		t.Fatalf("after expiry: %d %s", r.StatusCode, r.Body)
	}
	id = r.JSON["approval_id"].(string)
	if r := h.do(call(t, sam, "POST", "/v1/approvals/{id}/approve", id, "")); r.JSON["status"] != "approved" {
		t.Fatalf("approve: %s", r.Body)
	}
	ask := `{"profile":"prod-admin","approval_id":"` + id + `"}`
	r = h.do(loadEvent(t, "credentials-native.json").body(ask))
	if r.StatusCode != 200 {
		t.Fatalf("vend: %d %s", r.StatusCode, r.Body)
	}
	sid := r.JSON["session_id"].(string)
	wantError(t, h.do(loadEvent(t, "credentials-native.json").body(ask)), 403, vend.CodeApprovalRequired, "")

	if r := h.do(call(t, sam, "POST", "/v1/sessions/{id}/revoke", sid, `{"reason":"contain"}`)); r.StatusCode != 200 || r.JSON["status"] != "revoked" {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}

	// Revoke with a block: the vend transaction refuses until it ends.
	dev := h.do(loadEvent(t, "credentials-native.json")).JSON["session_id"].(string)
	if r := h.do(call(t, callerARN, "POST", "/v1/sessions/{id}/revoke", dev, `{"reason":"lost","block_minutes":10}`)); r.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	wantError(t, h.do(loadEvent(t, "credentials-native.json")), 403, vend.CodeSessionRevoked, "")
	h.clock.Advance(10 * time.Minute)
	if r := h.do(loadEvent(t, "credentials-native.json")); r.StatusCode != 200 {
		t.Fatalf("after the block: %d %s", r.StatusCode, r.Body)
	}
}
