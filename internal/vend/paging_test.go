package vend_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// listIDs reads one list route without paging: the IDs of its answer.
func listIDs(t *testing.T, h *harness, caller, route, field, idField string, q map[string]string) []string {
	t.Helper()
	e := call(t, caller, "GET", route, "", "")
	for k, v := range q {
		e = e.query(k, v)
	}
	r := h.do(e)
	if r.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", route, r.StatusCode, r.Body)
	}
	if _, ok := r.JSON["next_token"]; ok {
		t.Fatalf("GET %s without a limit has a next_token: %s", route, r.Body)
	}
	return recordIDs(t, r, field, idField)
}

func recordIDs(t *testing.T, r result, field, idField string) []string {
	t.Helper()
	out := []string{}
	list, ok := r.JSON[field].([]any)
	if !ok {
		t.Fatalf("no %s in %s", field, r.Body)
	}
	for _, it := range list {
		out = append(out, it.(map[string]any)[idField].(string))
	}
	return out
}

// pageIDs reads a list route page by page (limit size), calling between
// before each next page, and returns every ID and the first token.
func pageIDs(t *testing.T, h *harness, caller, route, field, idField string, q map[string]string, size int, between func()) ([]string, string) {
	t.Helper()
	var out []string
	token, first := "", ""
	for range 50 {
		e := call(t, caller, "GET", route, "", "").query("limit", strconv.Itoa(size))
		for k, v := range q {
			e = e.query(k, v)
		}
		if token != "" {
			e = e.query("next_token", token)
		}
		r := h.do(e)
		if r.StatusCode != 200 {
			t.Fatalf("GET %s page: %d %s", route, r.StatusCode, r.Body)
		}
		ids := recordIDs(t, r, field, idField)
		if len(ids) > size {
			t.Fatalf("page of %d, limit %d", len(ids), size)
		}
		out = append(out, ids...)
		next, _ := r.JSON["next_token"].(string)
		if next == "" {
			return out, first
		}
		if len(ids) != size {
			t.Fatalf("a short page (%d) with a next_token", len(ids))
		}
		if first == "" {
			first = next
		}
		token = next
		between()
	}
	t.Fatalf("the list did not end: %v", out)
	return nil, ""
}

// runListPaging pages the three list routes through the handler: every
// record once, in the order of the unpaged answer, while new records are
// added between pages; a token is refused with other filters, by another
// caller or on another route, and a malformed one or a bad limit is 400.
func runListPaging(t *testing.T, h *harness) {
	vendOne := func() {
		t.Helper()
		if r := h.do(loadEvent(t, "credentials-native.json")); r.StatusCode != 200 {
			t.Fatalf("vend: %d %s", r.StatusCode, r.Body)
		}
		h.clock.Advance(time.Second)
	}
	for i := range 5 {
		vendOne()
		if i == 2 { // two sessions in one second: the ID orders them
			h.clock.Advance(-time.Second)
		}
	}
	bgBody := `{"profile":"prod-db","reason_code":"incident","justification":"db down"}`
	for range 3 {
		r := h.do(call(t, callerARN, "POST", "/v1/break-glass", "", bgBody))
		if r.StatusCode != 201 {
			t.Fatalf("open: %d %s", r.StatusCode, r.Body)
		}
		if r := h.do(call(t, callerARN, "POST", "/v1/break-glass/{id}/close", r.JSON["event_id"].(string), "")); r.StatusCode != 200 {
			t.Fatalf("close: %d %s", r.StatusCode, r.Body)
		}
		h.clock.Advance(time.Second)
	}
	for range 3 {
		r := h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"deploy"}`))
		if r.StatusCode != 201 {
			t.Fatalf("request: %d %s", r.StatusCode, r.Body)
		}
		if r := h.do(call(t, callerARN, "POST", "/v1/approvals/{id}/cancel", r.JSON["approval_id"].(string), "")); r.StatusCode != 200 {
			t.Fatalf("cancel: %d %s", r.StatusCode, r.Body)
		}
		h.clock.Advance(time.Second)
	}

	// Sessions: the caller's own, and an operator's view of everyone's.
	own := listIDs(t, h, callerARN, "/v1/sessions", "sessions", "session_id", nil)
	if len(own) != 5 {
		t.Fatalf("own sessions = %v", own)
	}
	got, token := pageIDs(t, h, callerARN, "/v1/sessions", "sessions", "session_id", nil, 2, vendOne)
	if !slices.Equal(got, own) {
		t.Fatalf("paged sessions = %v, want %v", got, own)
	}
	all := listIDs(t, h, sam, "/v1/sessions", "sessions", "session_id", map[string]string{"profile": "dev-readonly"})
	got, _ = pageIDs(t, h, sam, "/v1/sessions", "sessions", "session_id", map[string]string{"profile": "dev-readonly"}, 3, vendOne)
	if !slices.Equal(got, all) {
		t.Fatalf("operator's paged sessions = %v, want %v", got, all)
	}

	// A token belongs to its query: caller, route and filters.
	replay := func(caller, route string, q map[string]string) {
		t.Helper()
		e := call(t, caller, "GET", route, "", "").query("next_token", token)
		for k, v := range q {
			e = e.query(k, v)
		}
		wantError(t, h.do(e), 400, vend.CodeInvalidRequest,
			"next_token belongs to another query: repeat the request that answered it (same caller and filters), or start again without next_token")
	}
	replay(callerARN, "/v1/sessions", map[string]string{"profile": "dev-readonly"})
	replay(callerARN, "/v1/sessions", map[string]string{"active": "true"})
	replay(sam, "/v1/sessions", nil)  // another caller, an operator
	replay(eng2, "/v1/sessions", nil) // another person
	replay(callerARN, "/v1/break-glass", nil)
	replay(callerARN, "/v1/approvals", nil)
	for _, caller := range []string{callerARN, alice2} { // alice2: the same role, another session name, the same list
		if r := h.do(call(t, caller, "GET", "/v1/sessions", "", "").query("next_token", token).query("limit", "2")); r.StatusCode != 200 {
			t.Fatalf("the token with its own query: %d %s", r.StatusCode, r.Body)
		}
	}
	for _, bad := range []string{"x", "!!!!", "e30", token + "x", "eyJ2IjoxfQ"} {
		wantError(t, h.do(call(t, callerARN, "GET", "/v1/sessions", "", "").query("next_token", bad)), 400, vend.CodeInvalidRequest,
			"next_token is malformed: pass the next_token of a previous answer unchanged")
	}
	for _, bad := range []string{"0", "101", "-1", "1.5", "", "+2", "two"} {
		wantError(t, h.do(call(t, callerARN, "GET", "/v1/approvals", "", "").query("limit", bad)), 400, vend.CodeInvalidRequest,
			"limit must be a whole number from 1 to 100")
	}

	// Break-glass events and approval requests.
	events := listIDs(t, h, callerARN, "/v1/break-glass", "events", "event_id", nil)
	got, _ = pageIDs(t, h, callerARN, "/v1/break-glass", "events", "event_id", nil, 2, func() {})
	if len(events) != 3 || !slices.Equal(got, events) {
		t.Fatalf("paged events = %v, want %v", got, events)
	}
	if got := listIDs(t, h, eng2, "/v1/break-glass", "events", "event_id", nil); len(got) != 0 {
		t.Fatalf("another person sees %v", got)
	}
	approvals := listIDs(t, h, callerARN, "/v1/approvals", "approvals", "approval_id", nil)
	got, _ = pageIDs(t, h, callerARN, "/v1/approvals", "approvals", "approval_id", nil, 2, func() {})
	if len(approvals) != 3 || !slices.Equal(got, approvals) {
		t.Fatalf("paged approvals = %v, want %v", got, approvals)
	}
	q := map[string]string{"status": "cancelled"}
	// Someone who may decide none of them reads through all of them to an
	// empty page without a token, whatever the limit.
	if got, tok := pageIDs(t, h, eng2, "/v1/approvals", "approvals", "approval_id", q, 1, func() {}); len(got) != 0 || tok != "" {
		t.Fatalf("another person's paged cancelled approvals = %v, token %q", got, tok)
	}
	got, _ = pageIDs(t, h, sam, "/v1/approvals", "approvals", "approval_id", q, 1, func() {})
	if !slices.Equal(got, listIDs(t, h, sam, "/v1/approvals", "approvals", "approval_id", q)) || len(got) != 3 {
		t.Fatalf("operator's paged cancelled approvals = %v", got)
	}
}

func TestListPaging(t *testing.T) {
	runListPaging(t, newHarness(t, withRevoker(&fakeRevoker{})))
}

func TestDynamoListPaging(t *testing.T) {
	dyn, _ := withDynamo(t)
	runListPaging(t, newHarness(t, dyn, withRevoker(&fakeRevoker{})))
}
