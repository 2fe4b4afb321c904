package vend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

var stsNameRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

func TestCredentialsNative(t *testing.T) {
	h := newHarness(t)
	r := h.do(loadEvent(t, "credentials-native.json").body(`{"profile":"dev-readonly","duration_seconds":1200}`))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", r.StatusCode, r.Body)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := r.Headers[k]; got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	sid := idN(1)
	want := map[string]any{
		"session_id":       sid,
		"profile":          "dev-readonly",
		"role_arn":         "arn:aws:iam::111122223333:role/sentinel/dev-readonly",
		"source_identity":  "stvm.engineer-dev." + sid[:12],
		"expires_at":       "2026-03-02T12:20:00Z",
		"duration_seconds": 1200.0,
		"capped":           false,
		"decision":         map[string]any{"rule": "engineers-dev", "via": "policy"},
		"credentials": map[string]any{
			"AccessKeyId": fakeAccessKeyID, "SecretAccessKey": fakeSecretKey, "SessionToken": fakeToken,
			"Expiration": "2026-03-02T12:20:00Z",
		},
	}
	if !reflect.DeepEqual(r.JSON, want) {
		t.Errorf("body\n got %v\nwant %v", r.JSON, want)
	}

	// What was sent to STS.
	in := h.sts.Inputs()
	if len(in) != 1 {
		t.Fatalf("%d AssumeRole calls, want 1", len(in))
	}
	a := in[0]
	if got := aws.ToString(a.RoleArn); got != "arn:aws:iam::111122223333:role/sentinel/dev-readonly" {
		t.Errorf("RoleArn = %s", got)
	}
	if got := aws.ToInt32(a.DurationSeconds); got != 1200 {
		t.Errorf("DurationSeconds = %d", got)
	}
	si := aws.ToString(a.SourceIdentity)
	if !strings.HasPrefix(si, vend.SourceIdentityPrefix+".") || !stsNameRE.MatchString(si) || si != "stvm.engineer-dev."+sid[:12] {
		t.Errorf("SourceIdentity = %q", si)
	}
	// alice's role is not a trusted session role: her session name is her
	// own choice and does not name the vended session.
	if got := aws.ToString(a.RoleSessionName); got != "engineer-dev."+sid[:12] {
		t.Errorf("RoleSessionName = %q, want principal name and session ID", got)
	}
	gotTags := map[string]string{}
	var keys []string
	for _, tg := range a.Tags {
		gotTags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		keys = append(keys, aws.ToString(tg.Key))
	}
	wantTags := map[string]string{
		vend.TagSessionID: sid,
		vend.TagPrincipal: principalARN,
		vend.TagProfile:   "dev-readonly",
		vend.TagVia:       "policy",
		"team":            "engineer-dev",
		"tenant":          "111122223333",
	}
	if !reflect.DeepEqual(gotTags, wantTags) || len(keys) != len(wantTags) {
		t.Errorf("Tags = %v (keys %v)\nwant %v", gotTags, keys, wantTags)
	}
	var doc, wantDoc any
	if err := json.Unmarshal([]byte(aws.ToString(a.Policy)), &doc); err != nil {
		t.Fatalf("Policy is not JSON: %v", err)
	}
	json.Unmarshal([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::dev-data/111122223333/*"]}]}`), &wantDoc)
	if !reflect.DeepEqual(doc, wantDoc) {
		t.Errorf("Policy = %s", aws.ToString(a.Policy))
	}

	// The record.
	s := h.session(sid)
	if s.Status != store.SessionActive || s.Principal != principalARN || s.CallerARN != callerARN || s.Profile != "dev-readonly" ||
		s.SourceIdentity != si || s.Rule != "engineers-dev" || s.Via != "policy" || s.RequestID != "c6af9ac6-7b61-11e6-9a41-93e8deadbe01" ||
		s.SourceIP != "198.51.100.7" || !s.IssuedAt.Equal(testNow) || !s.ExpiresAt.Equal(testNow.Add(20*time.Minute)) {
		t.Errorf("session record = %+v", s)
	}

	// The decision event.
	ev := h.decision()
	wantEv := map[string]any{
		"request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbe01", "principal": principalARN, "caller_arn": callerARN,
		"profile": "dev-readonly", "decision": "allow", "rule": "engineers-dev", "reason": "Engineers read development data",
		"session_id": sid, "duration_seconds": 1200.0, "source_ip": "198.51.100.7", "latency_ms": 0.0, "level": "INFO",
	}
	for k, v := range wantEv {
		if ev[k] != v {
			t.Errorf("decision event %s = %v, want %v", k, ev[k], v)
		}
	}
	m := h.metricLines()
	if len(m) != 1 || m[0]["Outcome"] != vend.MetricVends || m[0][vend.MetricVends] != 1.0 {
		t.Errorf("metrics = %v", m)
	}
}

func TestCredentialsFormats(t *testing.T) {
	tests := []struct {
		name  string
		event string
		want  map[string]any
	}{
		{"credential_process", "credentials-credential-process.json", map[string]any{
			"Version": 1.0, "AccessKeyId": fakeAccessKeyID, "SecretAccessKey": fakeSecretKey, "SessionToken": fakeToken,
			"Expiration": "2026-03-02T12:15:00Z",
		}},
		{"container", "credentials-container.json", map[string]any{
			"AccessKeyId": fakeAccessKeyID, "SecretAccessKey": fakeSecretKey, "Token": fakeToken,
			"Expiration": "2026-03-02T12:15:00Z",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.do(loadEvent(t, tt.event))
			if r.StatusCode != 200 {
				t.Fatalf("status %d: %s", r.StatusCode, r.Body)
			}
			if !reflect.DeepEqual(r.JSON, tt.want) {
				t.Errorf("body\n got %v\nwant %v", r.JSON, tt.want)
			}
			if n := len(h.sessions()); n != 1 {
				t.Errorf("%d sessions recorded", n)
			}
		})
	}
}

func TestCredentialsDecisions(t *testing.T) {
	approvalMsg := "Production administration needs a second person; poll GET /v1/approvals/" + idN(1)
	tests := []struct {
		name       string
		body       string
		caller     string // default: alice of engineer-dev
		event      string // default: credentials-native.json
		status     int
		code       string
		message    string
		duration   int64 // allow: granted seconds
		capped     bool
		storeCalls []string
	}{
		{name: "allow default duration", body: `{"profile":"dev-readonly"}`, status: 200, duration: 900, storeCalls: []string{"Vend"}},
		{name: "allow requested duration", body: `{"profile":"dev-readonly","duration_seconds":1800}`, status: 200, duration: 1800, storeCalls: []string{"Vend"}},
		{name: "allow capped by profile", body: `{"profile":"dev-readonly","duration_seconds":3600}`, status: 200, duration: 1800, capped: true, storeCalls: []string{"Vend"}},
		{name: "allow capped from 12h", body: `{"profile":"dev-readonly","duration_seconds":43200}`, status: 200, duration: 1800, capped: true, storeCalls: []string{"Vend"}},
		{name: "allow capped by settings", body: `{"profile":"scoped","duration_seconds":7200}`, status: 200, duration: 3600, capped: true, storeCalls: []string{"Vend"}},
		{name: "allow by org", event: "credentials-org.json", body: `{"profile":"org-only"}`, status: 200, duration: 900, storeCalls: []string{"Vend"}},
		{name: "org rule needs the org", body: `{"profile":"org-only"}`, status: 403, code: vend.CodePolicyDenied,
			message: "no rule allows this request", storeCalls: []string{"CountRequest"}},
		{name: "unknown profile", body: `{"profile":"no-such-profile"}`, status: 403, code: vend.CodePolicyDenied,
			message: "no such profile", storeCalls: []string{"CountRequest"}},
		{name: "other principal default deny", body: `{"profile":"dev-readonly"}`, caller: "arn:aws:sts::111122223333:assumed-role/contractor/eve",
			status: 403, code: vend.CodePolicyDenied, message: "no rule allows this request", storeCalls: []string{"CountRequest"}},
		{name: "explicit deny", body: `{"profile":"prod-denied"}`, status: 403, code: vend.CodePolicyDenied,
			message: "Nobody uses prod-denied", storeCalls: []string{"CountRequest"}},
		{name: "break-glass profile without event", body: `{"profile":"prod-db"}`, status: 403, code: vend.CodePolicyDenied,
			message: "no rule allows this request", storeCalls: []string{"ActiveBreakGlass", "CountRequest"}},
		{name: "require approval", body: `{"profile":"prod-admin","justification":"deploy hotfix"}`, status: 403, code: vend.CodeApprovalRequired,
			message: approvalMsg, storeCalls: []string{"ActiveBreakGlass", "CountRequest", "CreateApproval"}},
		{name: "unsafe value in session policy", body: `{"profile":"scoped"}`, caller: "arn:aws:sts::111122223333:assumed-role/engineer-d*v/alice",
			status: 403, code: vend.CodePolicyDenied, message: "a value of this request cannot be used in the session policy", storeCalls: []string{"CountRequest"}},
		{name: "comma in a session tag", body: `{"profile":"scoped"}`, caller: "arn:aws:sts::111122223333:assumed-role/engineer-dev,ops/alice",
			status: 400, code: vend.CodeInvalidRequest, message: "this request's values break an STS limit of the profile's session scoping", storeCalls: []string{"CountRequest"}},
		{name: "caller not a principal", body: `{"profile":"dev-readonly"}`, caller: "arn:aws:iam::111122223333:group/engineers",
			status: 403, code: vend.CodeForbidden, message: "the caller is not an IAM user, role session or federated user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			name := tt.event
			if name == "" {
				name = "credentials-native.json"
			}
			e := loadEvent(t, name).body(tt.body)
			if tt.caller != "" {
				e.caller(tt.caller)
			}
			r := h.do(e)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tt.status, r.Body)
			}
			calls := h.store.Calls()
			if !slices.Equal(calls, tt.storeCalls) {
				t.Errorf("store calls %v, want %v", calls, tt.storeCalls)
			}
			ev := h.decision()
			if tt.status != 200 {
				wantError(t, r, tt.status, tt.code, tt.message)
				if r.Err.RequestID != "c6af9ac6-7b61-11e6-9a41-93e8deadbe01" && name == "credentials-native.json" {
					t.Errorf("request_id = %q", r.Err.RequestID)
				}
				if n := h.sts.Calls(); n != 0 {
					t.Errorf("%d STS calls on a refusal", n)
				}
				for _, s := range h.sessions() {
					t.Errorf("session recorded on a refusal: %+v", s)
				}
				if ev["session_id"] != "" || ev["error_code"] != tt.code {
					t.Errorf("decision event: %v", ev)
				}
				return
			}
			if r.JSON["duration_seconds"] != float64(tt.duration) || r.JSON["capped"] != tt.capped {
				t.Errorf("duration %v capped %v, want %d %v", r.JSON["duration_seconds"], r.JSON["capped"], tt.duration, tt.capped)
			}
			if got := aws.ToInt32(h.sts.Inputs()[0].DurationSeconds); int64(got) != tt.duration {
				t.Errorf("STS DurationSeconds %d, want %d", got, tt.duration)
			}
			if ev["decision"] != "allow" || ev["duration_seconds"] != float64(tt.duration) || ev["session_id"] != idN(1) {
				t.Errorf("decision event: %v", ev)
			}
		})
	}
}

// overflowingDuration is a duration_seconds that, multiplied into a
// time.Duration, wraps around to exactly 30 minutes: 1e9 = 2^9 * 1953125,
// so (1800 + 2^55) * 1e9 = 1800e9 + 1953125 * 2^64.
const overflowingDuration = 1800 + 1<<55

func TestCredentialsInvalidRequests(t *testing.T) {
	rangeMsg := "duration_seconds must be from 900 to 43200 (longer requests are capped by the policy)"
	tests := []struct {
		name    string
		body    string
		base64  bool
		query   string
		message string
	}{
		{name: "not JSON", body: `profile=dev-readonly`, message: "the body is not a valid JSON object: syntax error at byte 1"},
		{name: "empty body", body: ``, message: "the body is not a valid JSON object: empty body"},
		{name: "JSON array", body: `["dev-readonly"]`, message: "the body must be a JSON object"},
		{name: "JSON null", body: ` null `, message: "the body must be a JSON object"},
		{name: "JSON string", body: `"dev-readonly"`, message: "the body must be a JSON object"},
		{name: "null profile", body: `{"profile":null}`, message: `field "profile" must not be null`},
		{name: "null optional field", body: `{"profile":"dev-readonly","duration_seconds":null}`, message: `field "duration_seconds" must not be null`},
		{name: "null fields named in order", body: `{"profile":"dev-readonly","justification":null,"approval_id":null}`, message: `field "approval_id" must not be null`},
		{name: "unknown field", body: `{"profile":"dev-readonly","role_arn":"arn:aws:iam::1:role/x"}`, message: `the body is not a valid JSON object: json: unknown field "role_arn"`},
		{name: "profile not a string", body: `{"profile":5}`, message: `the body is not a valid JSON object: field "profile" must be string`},
		{name: "duration a string", body: `{"profile":"dev-readonly","duration_seconds":"900"}`, message: `the body is not a valid JSON object: field "duration_seconds" must be int64`},
		{name: "duration fractional", body: `{"profile":"dev-readonly","duration_seconds":900.5}`, message: `the body is not a valid JSON object: field "duration_seconds" must be int64`},
		{name: "two values", body: `{"profile":"dev-readonly"} {"profile":"prod-admin"}`, message: "the body holds more than one JSON value"},
		{name: "missing profile", body: `{}`, message: "profile must be a profile name (1-64 letters, digits, '.', '_' or '-')"},
		{name: "bad profile name", body: `{"profile":"../prod"}`, message: "profile must be a profile name (1-64 letters, digits, '.', '_' or '-')"},
		{name: "duration too short", body: `{"profile":"dev-readonly","duration_seconds":899}`, message: rangeMsg},
		{name: "duration zero", body: `{"profile":"dev-readonly","duration_seconds":0}`, message: rangeMsg},
		{name: "duration negative", body: `{"profile":"dev-readonly","duration_seconds":-900}`, message: rangeMsg},
		{name: "duration too long", body: `{"profile":"dev-readonly","duration_seconds":43201}`, message: rangeMsg},
		{name: "duration overflows", body: fmt.Sprintf(`{"profile":"dev-readonly","duration_seconds":%d}`, overflowingDuration), message: rangeMsg},
		{name: "duration max int64", body: `{"profile":"dev-readonly","duration_seconds":9223372036854775807}`, message: rangeMsg},
		{name: "bad approval id", body: `{"profile":"prod-admin","approval_id":"123"}`, message: "approval_id must be the 32-character ID of an approval request"},
		{name: "justification too long", body: `{"profile":"prod-admin","justification":"` + strings.Repeat("x", 1025) + `"}`, message: "justification must be at most 1024 characters"},
		{name: "justification too long in characters", body: `{"profile":"prod-admin","justification":"` + strings.Repeat("é", 1025) + `"}`, message: "justification must be at most 1024 characters"},
		{name: "base64 body", body: `eyJwcm9maWxlIjoiZGV2LXJlYWRvbmx5In0=`, base64: true, message: "the body must be JSON"},
		{name: "body too large", body: `{"profile":"dev-readonly","justification":"` + strings.Repeat("x", 64<<10) + `"}`, message: "the body exceeds 64 KiB"},
		{name: "bad format", body: `{"profile":"dev-readonly"}`, query: "json", message: "format must be native, credential_process or container"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			e := loadEvent(t, "credentials-native.json").body(tt.body)
			e["isBase64Encoded"] = tt.base64
			if tt.query != "" {
				e.query("format", tt.query)
			}
			r := h.do(e)
			wantError(t, r, 400, vend.CodeInvalidRequest, tt.message)
			if r.Err.RequestID != "c6af9ac6-7b61-11e6-9a41-93e8deadbe01" {
				t.Errorf("request_id = %q", r.Err.RequestID)
			}
			if calls := h.store.Calls(); len(calls) != 0 {
				t.Errorf("store calls on an invalid request: %v", calls)
			}
			if n := h.sts.Calls(); n != 0 {
				t.Errorf("%d STS calls on an invalid request", n)
			}
			if n := h.policy.calls.Load(); n != 0 {
				t.Errorf("policy loaded %d times for an invalid request", n)
			}
		})
	}
}

func TestNoIdentity(t *testing.T) {
	for _, name := range []string{"credentials-no-identity.json"} {
		h := newHarness(t)
		r := h.do(loadEvent(t, name))
		wantError(t, r, 403, vend.CodeForbidden, "the request carries no IAM identity")
		if r.Err.RequestID != "c6af9ac6-7b61-11e6-9a41-93e8deadbe06" {
			t.Errorf("request_id = %q", r.Err.RequestID)
		}
		if calls := h.store.Calls(); len(calls) != 0 {
			t.Errorf("store calls: %v", calls)
		}
		if h.sts.Calls() != 0 || h.policy.calls.Load() != 0 {
			t.Errorf("STS %d, policy %d calls without an identity", h.sts.Calls(), h.policy.calls.Load())
		}
		ev := h.decision()
		if ev["principal"] != "" || ev["caller_arn"] != "" || ev["error_code"] != vend.CodeForbidden {
			t.Errorf("decision event: %v", ev)
		}
	}
	// The other routes refuse too.
	for _, route := range [][2]string{{"GET", "/v1/profiles"}, {"GET", "/v1/health"}} {
		h := newHarness(t)
		r := h.do(loadEvent(t, "credentials-no-identity.json").route(route[0], route[1]).body(""))
		wantError(t, r, 403, vend.CodeForbidden, "the request carries no IAM identity")
		if h.policy.calls.Load() != 0 {
			t.Errorf("%s: policy loaded without an identity", route)
		}
	}
}

func TestUnknownRoute(t *testing.T) {
	tests := []struct{ method, resource, message string }{
		{"GET", "/v1/credentials", "no such route: GET /v1/credentials"},
		{"DELETE", "/v1/profiles", "no such route: DELETE /v1/profiles"},
		{"POST", "/v2/credentials", "no such route: POST /v2/credentials"},
		{"", "", "no such route:  "},
	}
	for _, tt := range tests {
		h := newHarness(t)
		r := h.do(loadEvent(t, "credentials-native.json").route(tt.method, tt.resource))
		wantError(t, r, 404, vend.CodeNotFound, tt.message)
		if len(h.store.Calls()) != 0 || h.sts.Calls() != 0 || h.policy.calls.Load() != 0 {
			t.Errorf("%s %s: dependencies called", tt.method, tt.resource)
		}
	}
	h := newHarness(t)
	routes := h.svc.Routes()
	slices.Sort(routes)
	if want := []string{
		"GET /v1/approvals", "GET /v1/approvals/{id}", "GET /v1/break-glass", "GET /v1/health", "GET /v1/profiles",
		"GET /v1/sessions", "GET /v1/sessions/{id}",
		"POST /v1/approvals", "POST /v1/approvals/{id}/approve", "POST /v1/approvals/{id}/cancel", "POST /v1/approvals/{id}/deny",
		"POST /v1/break-glass", "POST /v1/break-glass/{id}/close", "POST /v1/credentials", "POST /v1/sessions/{id}/revoke",
	}; !slices.Equal(routes, want) {
		t.Errorf("Routes() = %v", routes)
	}
}

func TestMalformedEvent(t *testing.T) {
	h := newHarness(t)
	resp, err := h.svc.HandleJSON(context.Background(), json.RawMessage(`{"httpMethod": 5}`))
	if err != nil {
		t.Fatal(err)
	}
	r := decodeResponse(t, resp)
	wantError(t, r, 400, vend.CodeInvalidRequest, "malformed request")
	checkDecisionEvents(t, h.logs.String(), 1)
	checkEMF(t, h.metrics.String())

	// Handle with no request at all answers too.
	r = decodeResponse(t, h.svc.Handle(context.Background(), nil))
	wantError(t, r, 404, vend.CodeNotFound, "")
}

func TestRateLimitCountsDenials(t *testing.T) {
	h := newHarness(t, withConfig(func(c *vend.Config) { c.RateLimit = 3 }))
	h.clock.Set(testNow.Add(15 * time.Second))
	for _, p := range []string{"prod-denied", "no-such-profile"} {
		if r := h.do(loadEvent(t, "credentials-native.json").profile(p)); r.StatusCode != 403 {
			t.Fatalf("%s: %d %s", p, r.StatusCode, r.Body)
		}
	}
	if r := h.do(loadEvent(t, "credentials-native.json")); r.StatusCode != 200 {
		t.Fatalf("third request: %d %s", r.StatusCode, r.Body)
	}
	for _, p := range []string{"dev-readonly", "prod-denied", "prod-admin"} {
		r := h.do(loadEvent(t, "credentials-native.json").profile(p))
		wantError(t, r, 429, vend.CodeRateLimited, "too many requests; retry later")
		if r.Headers["Retry-After"] != "45" || r.Err.RetryAfterSeconds != 45 {
			t.Errorf("%s: Retry-After %q, retry_after_seconds %d, want 45", p, r.Headers["Retry-After"], r.Err.RetryAfterSeconds)
		}
	}
	if n := h.sts.Calls(); n != 1 {
		t.Errorf("%d STS calls, want 1", n)
	}
	if ev := h.decision(); ev["error_code"] != vend.CodeRateLimited {
		t.Errorf("decision event: %v", ev)
	}
	// A new window lets the caller in again.
	h.clock.Set(testNow.Add(time.Minute))
	if r := h.do(loadEvent(t, "credentials-native.json")); r.StatusCode != 200 {
		t.Fatalf("next window: %d %s", r.StatusCode, r.Body)
	}
	var throttles int
	for _, m := range h.metricLines() {
		if m["Outcome"] == vend.MetricThrottles {
			throttles++
		}
	}
	if throttles != 3 {
		t.Errorf("%d throttle metrics, want 3", throttles)
	}
}

func TestRateLimitPerProfile(t *testing.T) {
	h := newHarness(t, withConfig(func(c *vend.Config) { c.RateLimit, c.RatePerProfile = 1, true }))
	for _, p := range []string{"dev-readonly", "scoped"} {
		if r := h.do(loadEvent(t, "credentials-native.json").profile(p)); r.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, r.StatusCode, r.Body)
		}
	}
	r := h.do(loadEvent(t, "credentials-native.json").profile("scoped"))
	wantError(t, r, 429, vend.CodeRateLimited, "")
	// Another person has a window of their own.
	r = h.do(loadEvent(t, "credentials-native.json").profile("scoped").caller("arn:aws:sts::111122223333:assumed-role/engineer-ops/bob"))
	if r.StatusCode != 200 {
		t.Fatalf("other principal: %d %s", r.StatusCode, r.Body)
	}
}

func TestApprovalFlow(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	ask := func(body string) result {
		return h.do(loadEvent(t, "credentials-native.json").body(body))
	}
	r := ask(`{"profile":"prod-admin","duration_seconds":3600,"justification":"hotfix 42"}`)
	wantError(t, r, 403, vend.CodeApprovalRequired, "")
	id := r.Err.ApprovalID
	if id != idN(1) || !strings.HasSuffix(r.Err.Message, "poll GET /v1/approvals/"+id) {
		t.Fatalf("approval answer: %s", r.Body)
	}
	a, err := h.mem.GetApproval(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != store.ApprovalPending || a.Principal != principalARN || a.Profile != "prod-admin" || a.Rule != "prod-admin-approval" ||
		a.Justification != "hotfix 42" || a.DurationSeconds != 3600 || a.MinApprovals != 1 || !a.ExpiresAt.Equal(testNow.Add(24*time.Hour)) {
		t.Errorf("approval = %+v", a)
	}

	// Asking again reuses the pending request.
	r = ask(`{"profile":"prod-admin"}`)
	wantError(t, r, 403, vend.CodeApprovalRequired, "")
	if r.Err.ApprovalID != id {
		t.Errorf("second ask got approval %s, want the pending %s", r.Err.ApprovalID, id)
	}
	// Naming the pending approval does not help.
	r = ask(`{"profile":"prod-admin","approval_id":"` + id + `"}`)
	wantError(t, r, 403, vend.CodeApprovalRequired, "")
	if r.Err.ApprovalID != id {
		t.Errorf("pending approval_id got %s", r.Err.ApprovalID)
	}
	if h.sts.Calls() != 0 {
		t.Fatal("STS called before approval")
	}

	h.clock.Advance(10 * time.Minute)
	if _, err := h.mem.DecideApproval(ctx, id, store.Decision{Approver: approverARN, Approve: true}); err != nil {
		t.Fatal(err)
	}

	// Someone else cannot use it.
	r = h.do(loadEvent(t, "credentials-native.json").caller("arn:aws:sts::111122223333:assumed-role/engineer-ops/bob").
		body(`{"profile":"prod-admin","approval_id":"` + id + `"}`))
	wantError(t, r, 403, vend.CodeApprovalRequired, "")
	if r.Err.ApprovalID == id {
		t.Error("another principal's request reused the approval")
	}

	h.store.Calls()
	r = ask(`{"profile":"prod-admin","duration_seconds":3600,"approval_id":"` + id + `"}`)
	if r.StatusCode != 200 {
		t.Fatalf("approved vend: %d %s", r.StatusCode, r.Body)
	}
	if calls := h.store.Calls(); !slices.Equal(calls, []string{"GetApproval", "VendApproved"}) {
		t.Errorf("store calls %v", calls)
	}
	sid := r.JSON["session_id"].(string)
	if d := r.JSON["decision"].(map[string]any); d["via"] != "approval" || d["rule"] != "prod-admin-approval" {
		t.Errorf("decision = %v", d)
	}
	if r.JSON["duration_seconds"] != 1800.0 || r.JSON["capped"] != true {
		t.Errorf("duration %v capped %v, want 1800 (the rule's cap) true", r.JSON["duration_seconds"], r.JSON["capped"])
	}
	si := r.JSON["source_identity"].(string)
	if !strings.HasPrefix(si, "stvm-ap.engineer-dev.") || !stsNameRE.MatchString(si) {
		t.Errorf("source_identity = %q", si)
	}
	in := h.sts.Inputs()[0]
	if aws.ToString(in.SourceIdentity) != si || aws.ToInt32(in.DurationSeconds) != 1800 {
		t.Errorf("AssumeRole SourceIdentity %q duration %d", aws.ToString(in.SourceIdentity), aws.ToInt32(in.DurationSeconds))
	}
	if tagOf(in.Tags, vend.TagVia) != "approval" {
		t.Errorf("via tag = %q", tagOf(in.Tags, vend.TagVia))
	}
	a, _ = h.mem.GetApproval(ctx, id)
	if a.Status != store.ApprovalUsed || a.UsedBySession != sid {
		t.Errorf("approval after use = %s by %q", a.Status, a.UsedBySession)
	}
	if s := h.session(sid); s.ApprovalID != id || s.Via != "approval" {
		t.Errorf("session = %+v", s)
	}

	// Used once: the next vend needs a new approval.
	r = ask(`{"profile":"prod-admin","approval_id":"` + id + `"}`)
	wantError(t, r, 403, vend.CodeApprovalRequired, "")
	if r.Err.ApprovalID == id || r.Err.ApprovalID == "" {
		t.Errorf("used approval: approval_id %q", r.Err.ApprovalID)
	}
	if h.sts.Calls() != 1 {
		t.Errorf("%d STS calls, want 1", h.sts.Calls())
	}
}

func TestApprovalWindow(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	r := h.do(loadEvent(t, "credentials-native.json").profile("prod-admin"))
	id := r.Err.ApprovalID
	if _, err := h.mem.DecideApproval(ctx, id, store.Decision{Approver: approverARN, Approve: true}); err != nil {
		t.Fatal(err)
	}
	// 50 minutes into the 1h window, 10 minutes are left: the session is
	// capped to them, below STS's minimum, so it is refused.
	h.clock.Advance(50 * time.Minute)
	r = h.do(loadEvent(t, "credentials-native.json").body(`{"profile":"prod-admin","approval_id":"` + id + `"}`))
	wantError(t, r, 403, vend.CodePolicyDenied, "the session would last 10m0s, less than the 15m STS minimum")
	// Past the window the approval no longer counts.
	h.clock.Advance(time.Hour)
	r = h.do(loadEvent(t, "credentials-native.json").body(`{"profile":"prod-admin","approval_id":"` + id + `"}`))
	wantError(t, r, 403, vend.CodeApprovalRequired, "")
	if h.sts.Calls() != 0 {
		t.Error("STS called")
	}
	if a, _ := h.mem.GetApproval(ctx, id); a.Status != store.ApprovalApproved {
		t.Errorf("approval = %s, want still approved (unused)", a.Status)
	}
}

func tagOf(tags []types.Tag, key string) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

func openBreakGlass(t *testing.T, h *harness, profile string, d time.Duration) store.BreakGlassEvent {
	t.Helper()
	e, err := h.mem.OpenBreakGlass(context.Background(), store.BreakGlassEvent{
		ID: "b6" + idN(99)[2:], Principal: principalARN, Profile: profile, ReasonCode: "incident",
		Justification: "database down, paging the on-call", DurationSeconds: int(d / time.Second),
		ExpiresAt: h.clock.Now().Add(d),
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestBreakGlass(t *testing.T) {
	for _, profile := range []string{"prod-db", "prod-admin"} {
		t.Run(profile, func(t *testing.T) {
			h := newHarness(t)
			ev := openBreakGlass(t, h, profile, 40*time.Minute)
			r := h.do(loadEvent(t, "credentials-native.json").body(`{"profile":"` + profile + `","duration_seconds":3600}`))
			if r.StatusCode != 200 {
				t.Fatalf("%d %s", r.StatusCode, r.Body)
			}
			if d := r.JSON["decision"].(map[string]any); d["via"] != "break_glass" || d["rule"] != "prod-emergency" {
				t.Errorf("decision = %v", d)
			}
			if r.JSON["duration_seconds"] != 2400.0 || r.JSON["capped"] != true {
				t.Errorf("duration %v capped %v, want 2400 (the event's time left) true", r.JSON["duration_seconds"], r.JSON["capped"])
			}
			in := h.sts.Inputs()[0]
			si := aws.ToString(in.SourceIdentity)
			if !strings.HasPrefix(si, "stvm-bg.engineer-dev.") || !stsNameRE.MatchString(si) || si != r.JSON["source_identity"] {
				t.Errorf("SourceIdentity = %q", si)
			}
			if tagOf(in.Tags, vend.TagVia) != "break_glass" {
				t.Errorf("via tag = %q", tagOf(in.Tags, vend.TagVia))
			}
			s := h.session(r.JSON["session_id"].(string))
			if s.BreakGlassID != ev.ID || s.Via != "break_glass" || s.Rule != "prod-emergency" {
				t.Errorf("session = %+v", s)
			}
			// Once the event has expired, the profile is closed again.
			h.clock.Advance(41 * time.Minute)
			r = h.do(loadEvent(t, "credentials-native.json").profile(profile))
			if r.StatusCode != 403 {
				t.Errorf("after the event: %d %s", r.StatusCode, r.Body)
			}
		})
	}
}

func TestExplicitDenyBeatsApprovalAndBreakGlass(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	openBreakGlass(t, h, "prod-denied", time.Hour)
	a, _, err := h.mem.CreateApproval(ctx, store.ApprovalRequest{ID: idN(77), Principal: principalARN, Profile: "prod-denied",
		Rule: "prod-admin-approval", MinApprovals: 1, ExpiresAt: testNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.mem.DecideApproval(ctx, a.ID, store.Decision{Approver: approverARN, Approve: true}); err != nil {
		t.Fatal(err)
	}
	r := h.do(loadEvent(t, "credentials-native.json").body(`{"profile":"prod-denied","approval_id":"` + a.ID + `"}`))
	wantError(t, r, 403, vend.CodePolicyDenied, "Nobody uses prod-denied")
	if calls := h.store.Calls(); !slices.Equal(calls, []string{"CountRequest"}) {
		t.Errorf("store calls %v: an explicit deny reads no approval or break-glass state", calls)
	}
	if h.sts.Calls() != 0 {
		t.Error("STS called")
	}
	if got, _ := h.mem.GetApproval(ctx, a.ID); got.Status != store.ApprovalApproved {
		t.Errorf("approval = %s", got.Status)
	}
	if ev := h.decision(); ev["rule"] != "nobody-prod-denied" || ev["decision"] != "deny" {
		t.Errorf("decision event: %v", ev)
	}
}

func TestProfiles(t *testing.T) {
	h := newHarness(t)
	r := h.do(loadEvent(t, "profiles.json"))
	if r.StatusCode != 200 {
		t.Fatalf("%d %s", r.StatusCode, r.Body)
	}
	want := `{"profiles":[` +
		`{"name":"dev-readonly","description":"Read-only development data","role_arn":"arn:aws:iam::111122223333:role/sentinel/dev-readonly","access":"allow","rule":"engineers-dev","duration_seconds":900},` +
		`{"name":"prod-admin","description":"Production administration: approval or break-glass","role_arn":"arn:aws:iam::444455556666:role/sentinel/prod-admin","access":"require_approval","rule":"prod-admin-approval"},` +
		`{"name":"prod-db","description":"Production database: break-glass only","role_arn":"arn:aws:iam::444455556666:role/sentinel/prod-db","access":"break_glass","rule":"prod-emergency","reason_codes":["incident"],"min_justification_length":1},` +
		`{"name":"scoped","role_arn":"arn:aws:iam::111122223333:role/sentinel/scoped","access":"allow","rule":"engineers-dev","duration_seconds":900}` +
		`]}` + "\n"
	if r.Body != want {
		t.Errorf("body\n got %s\nwant %s", r.Body, want)
	}
	if len(h.store.Calls()) != 0 || h.sts.Calls() != 0 {
		t.Error("GET /v1/profiles touched the store or STS")
	}
	if m := h.metricLines(); len(m) != 0 {
		t.Errorf("reads emit no outcome metric: %v", m)
	}

	// The org member sees org-only too; someone matching no rule sees nothing.
	r = h.do(loadEvent(t, "credentials-org.json").route("GET", "/v1/profiles").body(""))
	if !strings.Contains(r.Body, `"name":"org-only"`) {
		t.Errorf("org member: %s", r.Body)
	}
	r = h.do(loadEvent(t, "profiles.json").caller("arn:aws:iam::111122223333:user/visitor"))
	if r.Body != `{"profiles":[]}`+"\n" {
		t.Errorf("visitor: %s", r.Body)
	}
}

func TestHealth(t *testing.T) {
	h := newHarness(t)
	r := h.do(loadEvent(t, "health.json"))
	want := map[string]any{"status": "ok", "policy_sha256": h.pol.SHA256, "version": "test"}
	if r.StatusCode != 200 || !reflect.DeepEqual(r.JSON, want) {
		t.Errorf("%d %s", r.StatusCode, r.Body)
	}
	h.policy.err = fmt.Errorf("%w: ssm GetParameter: AccessDeniedException: User: arn:aws:sts::999:assumed-role/x is not authorized", vend.ErrPolicyUnavailable)
	r = h.do(loadEvent(t, "health.json"))
	wantError(t, r, 503, vend.CodeUnavailable, "the policy is unavailable")
	if strings.Contains(r.Body, "AccessDenied") || strings.Contains(r.Body, "arn:") {
		t.Errorf("AWS error text in the answer: %s", r.Body)
	}
}

// TestTextLimitsCountCharacters: the 1024 limits of justification, comment
// and reason are characters (api/openapi.yaml maxLength), not bytes.
func TestTextLimitsCountCharacters(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("é", 1024) // 2048 bytes
	r := h.do(loadEvent(t, "credentials-native.json").body(`{"profile":"prod-admin","justification":"` + long + `"}`))
	wantError(t, r, 403, vend.CodeApprovalRequired, "")
	id := r.Err.ApprovalID
	r = h.do(call(t, callerARN, "POST", "/v1/approvals/{id}/cancel", id, `{"comment":"`+long+`"}`))
	if r.StatusCode != 200 || r.JSON["status"] != "cancelled" {
		t.Fatalf("cancel with a 1024-character comment: %d %s", r.StatusCode, r.Body)
	}
	r = h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"`+long+`"}`))
	if r.StatusCode != 201 {
		t.Fatalf("approval with a 1024-character justification: %d %s", r.StatusCode, r.Body)
	}
	wantError(t, h.do(call(t, callerARN, "POST", "/v1/approvals", "", `{"profile":"prod-admin","justification":"`+long+`é"}`)),
		400, vend.CodeInvalidRequest, "justification is required, at most 1024 characters")
}
