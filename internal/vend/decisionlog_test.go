package vend_test

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-tvm/sentinel-tvm/internal/decisionlog"
	"github.com/sentinel-tvm/sentinel-tvm/internal/impact"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// schemaField is one row of the field table of docs/decision-log.md.
type schemaField struct {
	typ      string // string, integer, boolean, number, RFC 3339
	optional bool   // "(present only ...)" or "(absent ...)"
}

var schemaRowRE = regexp.MustCompile("^\\| `([a-z0-9_]+)` \\| ([^|]+) \\| (.*) \\|$")

// decisionSchema reads the documented field table.
func decisionSchema(t *testing.T) map[string]schemaField {
	t.Helper()
	f, err := os.Open("../../docs/decision-log.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]schemaField{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := schemaRowRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		out[m[1]] = schemaField{typ: strings.TrimSpace(m[2]),
			optional: strings.Contains(m[3], "(present only") || strings.Contains(m[3], "(absent")}
	}
	if len(out) < 30 {
		t.Fatalf("read %d fields from docs/decision-log.md; is the table still there?", len(out))
	}
	return out
}

// checkAgainstSchema checks one decision event's fields: all documented,
// every one that is not optional present, each of its documented type.
func checkAgainstSchema(t *testing.T, schema map[string]schemaField, rec map[string]any) {
	t.Helper()
	for name, v := range rec {
		f, ok := schema[name]
		if !ok {
			t.Errorf("field %q is not in docs/decision-log.md: %v", name, rec)
			continue
		}
		ok = false
		switch f.typ {
		case "string":
			_, ok = v.(string)
		case "boolean":
			_, ok = v.(bool)
		case "number":
			_, ok = v.(float64)
		case "integer":
			n, isNum := v.(float64)
			ok = isNum && n == float64(int64(n))
		case "RFC 3339":
			s, isStr := v.(string)
			_, err := time.Parse(time.RFC3339Nano, s)
			ok = isStr && err == nil
		default:
			t.Fatalf("docs/decision-log.md: field %s has unknown type %q", name, f.typ)
		}
		if !ok {
			t.Errorf("field %s = %#v is not a %s", name, v, f.typ)
		}
	}
	for name, f := range schema {
		if _, ok := rec[name]; !ok && !f.optional {
			t.Errorf("decision event lacks %q: %v", name, rec)
		}
	}
	if rec["schema"] != float64(decisionlog.SchemaVersion) || rec["msg"] != decisionlog.Message {
		t.Errorf("schema %v msg %v", rec["schema"], rec["msg"])
	}
}

// everyRoute drives every route through the decision paths the service
// has, including the ones that record no policy evaluation.
func everyRoute(t *testing.T, h *harness) {
	cred := func(body string) event { return loadEvent(t, "credentials-native.json").body(body) }
	// Credentials: allow, default deny, no such profile, deny rule,
	// require_approval, the STS minimum, values the scope refuses, an org
	// rule, the client header.
	h.do(cred(`{"profile":"dev-readonly","duration_seconds":1200}`))
	h.do(cred(`{"profile":"dev-readonly"}`).caller("arn:aws:sts::111122223333:assumed-role/contractor/eve"))
	h.do(cred(`{"profile":"nope"}`))
	h.do(cred(`{"profile":"prod-denied"}`))
	h.do(cred(`{"profile":"too-short"}`))
	h.do(cred(`{"profile":"scoped"}`).caller("arn:aws:sts::111122223333:assumed-role/engineer-d*v/alice"))
	h.do(cred(`{"profile":"scoped"}`).caller("arn:aws:sts::111122223333:assumed-role/engineer-dev,ops/alice"))
	h.do(loadEvent(t, "credentials-org.json").body(`{"profile":"org-only"}`))
	withClient := cred(`{"profile":"dev-readonly"}`)
	withClient["headers"] = map[string]any{"X-Sentinel-Client": "agent"}
	if r := h.do(withClient); r.StatusCode != 200 || h.decision()["client"] != "agent" {
		t.Errorf("client header: %d %v", r.StatusCode, h.decision()["client"])
	}
	badClient := cred(`{"profile":"dev-readonly"}`)
	badClient["headers"] = map[string]any{"x-sentinel-client": "curl"}
	wantError(t, h.do(badClient), 400, vend.CodeInvalidRequest, "X-Sentinel-Client must be one of credential_process, agent, exec, sdk, console, other")
	h.do(cred(`{"profile":"dev-readonly","duration_seconds":1}`))
	h.do(loadEvent(t, "credentials-no-identity.json"))

	// Approvals: create, then a vend through the approval that expires
	// within the STS minimum, then one that works.
	r := h.do(cred(`{"profile":"prod-admin","justification":"deploy"}`))
	id := r.Err.ApprovalID
	h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"deploy","duration_seconds":1800}`))
	h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"dev-readonly","justification":"x"}`))
	h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-denied","justification":"x"}`))
	h.do(call(t, callerARN, "GET", "/v1/approvals", "", ""))
	h.do(call(t, sam, "GET", "/v1/approvals/{id}", id, ""))
	h.do(call(t, sam, "POST", "/v1/approvals/{id}/approve", id, `{"comment":"go"}`))
	h.clock.Advance(vend.DefaultApprovalWindow - 10*time.Minute)
	h.do(cred(`{"profile":"prod-admin","approval_id":"` + id + `"}`)) // 10 minutes left: refused
	h.clock.Advance(-time.Hour)
	h.do(cred(`{"profile":"prod-admin","approval_id":"` + id + `"}`)) // vended through the approval
	id2 := h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"again"}`)).JSON["approval_id"].(string)
	h.do(call(t, sam, "POST", "/v1/approvals/{id}/deny", id2, ""))
	id3 := h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"third"}`)).JSON["approval_id"].(string)
	h.do(call(t, callerARN, "POST", "/v1/approvals/{id}/cancel", id3, ""))

	// Break-glass: refused by a deny rule, opened, vended through.
	h.do(call(t, callerARN, "POST", "/v1/break-glass", "", `{"profile":"prod-denied","reason_code":"incident","justification":"x"}`))
	ev := h.do(call(t, callerARN, "POST", "/v1/break-glass", "", `{"profile":"prod-db","reason_code":"incident","justification":"db down","duration_seconds":1800}`)).JSON["event_id"].(string)
	h.do(cred(`{"profile":"prod-db"}`))
	h.do(call(t, sam, "GET", "/v1/break-glass", "", ""))
	h.do(call(t, callerARN, "POST", "/v1/break-glass/{id}/close", ev, ""))

	// Sessions, profiles, health, an unknown route.
	sid := h.do(cred(`{"profile":"dev-readonly"}`)).JSON["session_id"].(string)
	h.do(call(t, callerARN, "GET", "/v1/sessions", "", ""))
	h.do(call(t, callerARN, "GET", "/v1/sessions/{id}", sid, ""))
	h.do(call(t, sam, "POST", "/v1/sessions/{id}/revoke", sid, `{"reason":"test"}`))
	h.do(call(t, callerARN, "GET", "/v1/profiles", "", ""))
	h.do(call(t, callerARN, "GET", "/v1/health", "", ""))
	h.do(call(t, callerARN, "GET", "/v1/nope", "", ""))
}

// TestDecisionEventsOfEveryRoute checks every route's decision events
// against the documented schema, and replays every replayable one under
// the policy that decided it: replay gives exactly the logged decision.
func TestDecisionEventsOfEveryRoute(t *testing.T) {
	h := newHarness(t, withRevoker(&fakeRevoker{}))
	everyRoute(t, h)
	schema := decisionSchema(t)
	routes := map[string]bool{}
	replayed := map[string]bool{}
	lines := strings.Split(strings.TrimSpace(h.logs.String()), "\n")
	recs := jsonLines(t, h.logs.String())
	for i, rec := range recs {
		if rec["msg"] != "decision" {
			continue
		}
		checkAgainstSchema(t, schema, rec)
		e, ok := decisionlog.Parse([]byte(lines[i]))
		if !ok {
			t.Fatalf("decisionlog.Parse refused %s", lines[i])
		}
		routes[e.Route] = true
		if !e.Replayable() {
			if e.PolicySHA256 != "" {
				t.Errorf("an event with a policy hash is not replayable: %s", lines[i])
			}
			continue
		}
		if e.PolicySHA256 != h.pol.SHA256 {
			t.Errorf("policy_sha256 = %s, want %s", e.PolicySHA256, h.pol.SHA256)
		}
		got, err := impact.Replay(h.pol.Policy, &e)
		if err != nil {
			if e.Reason == "no such profile" && strings.Contains(err.Error(), "no profile") {
				replayed["not evaluable"] = true
				continue
			}
			t.Errorf("replay of %s: %v", lines[i], err)
			continue
		}
		if want := impact.Recorded(&e); got != want {
			t.Errorf("replay of %s\ngave %+v\nwant %+v", lines[i], got, want)
		}
		key := e.Decision + " " + e.Via
		if e.Decision == "deny" && strings.HasPrefix(e.Reason, "the session would last") {
			key = "refused: STS minimum"
		}
		if strings.Contains(e.Reason, "session") && strings.Contains(e.Reason, "scop") || strings.Contains(e.Reason, "cannot be used") {
			key = "refused: scope"
		}
		replayed[key] = true
		if e.Approved || e.BreakGlass {
			replayed["with grant"] = true
		}
	}
	for _, route := range h.svc.Routes() {
		if !routes[route] {
			t.Errorf("no decision event of %s", route)
		}
	}
	for _, want := range []string{"allow policy", "allow approval", "allow break_glass", "deny ", "require_approval ",
		"refused: STS minimum", "refused: scope", "with grant", "not evaluable"} {
		if !replayed[want] {
			t.Errorf("no replayed event of kind %q (have %v)", want, slices.Sorted(mapKeys(replayed)))
		}
	}
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
