package vend_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// catalogued reports whether the metric with these dimensions is in
// vend.Metrics.
func catalogued(name string, dims []string) bool {
	for _, m := range vend.Metrics {
		if m.Name == name {
			return slices.ContainsFunc(m.Dimensions, func(d []string) bool { return slices.Equal(d, dims) })
		}
	}
	return false
}

// emitted returns "Name{Dim,Dim}" for every metric and dimension set of EMF
// lines.
func emitted(lines []map[string]any) map[string]bool {
	out := map[string]bool{}
	for _, rec := range lines {
		def := rec["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
		for _, m := range def["Metrics"].([]any) {
			for _, ds := range def["Dimensions"].([]any) {
				var dims []string
				for _, d := range ds.([]any) {
					dims = append(dims, d.(string))
				}
				out[m.(map[string]any)["Name"].(string)+"{"+strings.Join(dims, ",")+"}"] = true
			}
		}
	}
	return out
}

// TestMetricsCatalog: every outcome and counted audit event emits its
// metrics, and together they are exactly vend.Metrics (the list the
// module's dashboard is checked against); h.do checks every record of every
// handler test against the list.
func TestMetricsCatalog(t *testing.T) {
	got := map[string]bool{}
	rv := &fakeRevoker{}
	h := newHarness(t, withRevoker(rv), withConfig(func(c *vend.Config) { c.RateLimit = 6 }))
	sid := h.do(loadEvent(t, "credentials-native.json")).JSON["session_id"].(string)             // Vends, by profile
	wantStatus(t, h.do(loadEvent(t, "credentials-native.json").profile("prod-denied")), 403)     // Denials by rule
	wantStatus(t, h.do(loadEvent(t, "credentials-native.json").profile("no-such-profile")), 403) // Denials by code
	wantStatus(t, h.do(loadEvent(t, "credentials-native.json").profile("prod-admin")), 403)      // ApprovalsRequired
	bg := h.do(call(t, callerARN, "POST", "/v1/break-glass", "",
		`{"profile":"prod-admin","reason_code":"incident","justification":"database down, paging the on-call"}`))
	wantStatus(t, bg, 201)
	wantStatus(t, h.do(call(t, callerARN, "POST", "/v1/break-glass/{id}/close", bg.JSON["event_id"].(string), `{"comment":"over"}`)), 200)
	wantStatus(t, h.do(call(t, callerARN, "POST", "/v1/sessions/{id}/revoke", sid, `{"reason":"leak"}`)), 200)
	for range 3 {
		h.do(loadEvent(t, "credentials-native.json"))
	}
	wantStatus(t, h.do(loadEvent(t, "credentials-native.json")), 429) // Throttles
	h.clock.Advance(time.Hour)
	h.store.Fail("Vend", storeUnavailable("Vend", awsError("DynamoDB", "TransactWriteItems", 500, "InternalServerError")))
	wantStatus(t, h.do(loadEvent(t, "credentials-native.json")), 503) // Errors
	for k := range emitted(h.metricLines()) {
		got[k] = true
	}
	want := map[string]bool{}
	for _, m := range vend.Metrics {
		for _, d := range m.Dimensions {
			want[m.Name+"{"+strings.Join(d, ",")+"}"] = true
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("%s is listed in vend.Metrics but was not emitted", k)
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("%s was emitted but is not in vend.Metrics", k)
		}
	}
}

func wantStatus(t *testing.T, r result, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("got %d %s, want %d", r.StatusCode, r.Body, status)
	}
}
