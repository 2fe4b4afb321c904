package vend_test

import (
	"testing"

	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// A query parameter or header sent with an empty value is there, not
// absent: it is checked like any other value and, being none of the valid
// ones, is 400. schemathesis found each of these answered as if the
// parameter were missing (?status= listed every status, ?active= listed all
// events, ?profile= every profile, an empty Idempotency-Key created the
// approval without the retry protection the client asked for).
func TestEmptyParametersAreInvalid(t *testing.T) {
	tests := []struct {
		name            string
		method, route   string
		param           string // query parameter set to ""
		header          string // header set to ""
		body, message   string
		absentStatusSet int // the answer without the parameter
	}{
		{name: "credentials ?format=", method: "POST", route: "/v1/credentials", param: "format", body: `{"profile":"dev-readonly"}`,
			message: "format must be native, credential_process or container", absentStatusSet: 200},
		{name: "approvals ?status=", method: "GET", route: "/v1/approvals", param: "status",
			message: "status must be pending, approved, denied, cancelled, expired or used", absentStatusSet: 200},
		{name: "break-glass ?active=", method: "GET", route: "/v1/break-glass", param: "active",
			message: "active must be true or false", absentStatusSet: 200},
		{name: "sessions ?active=", method: "GET", route: "/v1/sessions", param: "active",
			message: "active must be true or false", absentStatusSet: 200},
		{name: "sessions ?profile=", method: "GET", route: "/v1/sessions", param: "profile",
			message: "profile must be a profile name (1-64 letters, digits, '.', '_' or '-')", absentStatusSet: 200},
		{name: "sessions ?principal=", method: "GET", route: "/v1/sessions", param: "principal",
			message: "principal must be a principal ARN", absentStatusSet: 200},
		{name: "empty Idempotency-Key", method: "POST", route: "/v1/approvals", header: vend.IdempotencyHeader,
			body:    `{"profile":"prod-admin","justification":"deploy the hotfix"}`,
			message: "Idempotency-Key must be 1-255 printable ASCII characters without spaces", absentStatusSet: 201},
		{name: "empty X-Sentinel-Client", method: "POST", route: "/v1/credentials", header: vend.ClientHeader, body: `{"profile":"dev-readonly"}`,
			message: "X-Sentinel-Client must be one of credential_process, agent, exec, sdk, console, other", absentStatusSet: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			build := func() event {
				e := loadEvent(t, "credentials-native.json").route(tt.method, tt.route).body(tt.body)
				delete(e, "queryStringParameters")
				delete(e, "multiValueQueryStringParameters")
				return e
			}

			h := newHarness(t)
			e := build()
			if tt.param != "" {
				e.query(tt.param, "")
			}
			if tt.header != "" {
				hdrs, _ := e["headers"].(map[string]any)
				if hdrs == nil {
					hdrs = map[string]any{}
					e["headers"] = hdrs
				}
				hdrs[tt.header] = ""
			}
			wantError(t, h.do(e), 400, vend.CodeInvalidRequest, tt.message)
			if n := h.sts.Calls(); n != 0 {
				t.Errorf("%d STS calls on an invalid request", n)
			}
			if got, _ := h.mem.ListApprovalsByRequester(t.Context(), principalARN, "", store.Page{}); len(got) != 0 {
				t.Errorf("an invalid request created %d approvals", len(got))
			}

			// Without the parameter the same request is fine.
			if r := newHarness(t).do(build()); r.StatusCode != tt.absentStatusSet {
				t.Errorf("without %s%s: %d %s, want %d", tt.param, tt.header, r.StatusCode, r.Body, tt.absentStatusSet)
			}
		})
	}
}
