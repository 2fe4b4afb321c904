package vend_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/sentinel-tvm/sentinel-tvm/internal/store"
	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// awsError is an SDK error as a client returns it: an operation error
// around an HTTP response error around the service's API error, whose
// message names resources (which must never reach a client).
func awsError(service, op string, status int, code string) error {
	return &smithy.OperationError{
		ServiceID: service, OperationName: op,
		Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
				Err: &smithy.GenericAPIError{Code: code,
					Message: "User: arn:aws:sts::999988887777:assumed-role/tvm-lambda/fn is not authorized; secret-table-name " + code},
			},
			RequestID: "REQ-ID-FROM-AWS",
		},
	}
}

// storeUnavailable is how the DynamoDB store reports a failing table.
func storeUnavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", store.ErrUnavailable, op, err)
}

// dynamoFaults are the ways a DynamoDB call fails.
var dynamoFaults = []struct {
	name string
	err  func(op string) error
}{
	{"throttling", func(op string) error {
		return storeUnavailable(op, awsError("DynamoDB", op, 400, "ProvisionedThroughputExceededException"))
	}},
	{"5xx", func(op string) error {
		return storeUnavailable(op, awsError("DynamoDB", op, 500, "InternalServerError"))
	}},
	{"timeout", func(op string) error {
		return storeUnavailable(op, fmt.Errorf("operation error DynamoDB: %s, https response error: %w", op, context.DeadlineExceeded))
	}},
	{"access denied", func(op string) error {
		return storeUnavailable(op, awsError("DynamoDB", op, 400, "AccessDeniedException"))
	}},
}

// leaks reports AWS error text in a client answer.
func checkNoAWSText(t *testing.T, body string) {
	t.Helper()
	for _, s := range []string{"arn:aws:sts::9999", "secret-table-name", "REQ-ID-FROM-AWS", "Exception", "InternalServerError",
		"Throttling", "InternalFailure", "AccessDenied", "deadline", "operation error", "store:"} {
		if strings.Contains(body, s) {
			t.Errorf("answer carries AWS error text %q: %s", s, body)
		}
	}
	for _, s := range []string{fakeSecretKey, fakeToken, fakeAccessKeyID} {
		if strings.Contains(body, s) {
			t.Errorf("a failure answer carries credentials: %s", body)
		}
	}
}

func TestStoreFaults(t *testing.T) {
	ctx := context.Background()
	paths := []struct {
		op      string
		setup   func(t *testing.T, h *harness) event
		message string
	}{
		{"CountRequest", func(t *testing.T, h *harness) event {
			return loadEvent(t, "credentials-native.json").profile("prod-denied")
		}, "the request could not be recorded; try again later"},
		{"Vend", func(t *testing.T, h *harness) event {
			return loadEvent(t, "credentials-native.json")
		}, "the session could not be recorded; try again later"},
		{"ActiveBreakGlass", func(t *testing.T, h *harness) event {
			openBreakGlass(t, h, "prod-db", time.Hour)
			return loadEvent(t, "credentials-native.json").profile("prod-db")
		}, "break-glass state is unavailable; try again later"},
		{"GetApproval", func(t *testing.T, h *harness) event {
			return loadEvent(t, "credentials-native.json").body(`{"profile":"prod-admin","approval_id":"` + idN(500) + `"}`)
		}, "approval state is unavailable; try again later"},
		{"CreateApproval", func(t *testing.T, h *harness) event {
			return loadEvent(t, "credentials-native.json").profile("prod-admin")
		}, "the approval request could not be recorded; try again later"},
		{"VendApproved", func(t *testing.T, h *harness) event {
			a, _, err := h.mem.CreateApproval(ctx, store.ApprovalRequest{ID: idN(500), Principal: principalARN, Profile: "prod-admin",
				Rule: "prod-admin-approval", MinApprovals: 1, ExpiresAt: testNow.Add(time.Hour)})
			if err == nil {
				_, err = h.mem.DecideApproval(ctx, a.ID, store.Decision{Approver: approverARN, Approve: true})
			}
			if err != nil {
				t.Fatal(err)
			}
			return loadEvent(t, "credentials-native.json").body(`{"profile":"prod-admin","approval_id":"` + a.ID + `"}`)
		}, "the session could not be recorded; try again later"},
	}
	for _, p := range paths {
		for _, f := range dynamoFaults {
			t.Run(p.op+"/"+f.name, func(t *testing.T) {
				h := newHarness(t)
				e := p.setup(t, h)
				h.store.Fail(p.op, f.err(p.op))
				r := h.do(e)
				wantError(t, r, 503, vend.CodeUnavailable, p.message)
				checkNoAWSText(t, r.Body)
				if _, ok := r.Headers["Retry-After"]; ok {
					t.Error("Retry-After on a 503 of a failing store")
				}
				if h.sts.Calls() != 0 {
					t.Error("STS called although the store failed")
				}
				calls := h.store.Calls()
				if !slices.Contains(calls, p.op) {
					t.Errorf("store calls %v lack %s", calls, p.op)
				}
				for _, s := range h.sessions() {
					t.Errorf("session %+v recorded although the store failed", s)
				}
				ev := h.decision()
				if ev["error_code"] != vend.CodeUnavailable || ev["level"] != "ERROR" || !strings.Contains(ev["cause"].(string), p.op) {
					t.Errorf("decision event: %v", ev)
				}
				if m := h.metricLines(); len(m) != 1 || m[0]["Outcome"] != vend.MetricErrors || m[0]["Reason"] != vend.CodeUnavailable {
					t.Errorf("metrics: %v", m)
				}
			})
		}
	}
}

func TestApprovalUsedConcurrently(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	a, _, _ := h.mem.CreateApproval(ctx, store.ApprovalRequest{ID: idN(500), Principal: principalARN, Profile: "prod-admin",
		Rule: "prod-admin-approval", MinApprovals: 1, ExpiresAt: testNow.Add(time.Hour)})
	h.mem.DecideApproval(ctx, a.ID, store.Decision{Approver: approverARN, Approve: true})
	// Another vend consumes it between our read and our transaction.
	h.store.Fail("VendApproved", fmt.Errorf("%w: approval %s is used", store.ErrConflict, a.ID))
	r := h.do(loadEvent(t, "credentials-native.json").body(`{"profile":"prod-admin","approval_id":"` + a.ID + `"}`))
	wantError(t, r, 409, vend.CodeConflict, "the approval was already used or is no longer valid")
	if h.sts.Calls() != 0 {
		t.Error("STS called")
	}
	if s := h.sessions(); len(s) != 0 {
		t.Errorf("sessions: %+v (the refused transaction writes nothing)", s)
	}
}

func TestSTSFaults(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		none    bool // success without credentials
		status  int
		code    string
		message string
		reason  string // FailureReason of the session
	}{
		{name: "throttling", err: awsError("STS", "AssumeRole", 400, "Throttling"), status: 503, code: vend.CodeUnavailable,
			message: "credentials could not be issued; try again later", reason: "sts: Throttling"},
		{name: "access denied", err: awsError("STS", "AssumeRole", 403, "AccessDenied"), status: 500, code: vend.CodeInternal,
			message: "credentials could not be issued (a configuration problem; the operators have the details)", reason: "sts: AccessDenied"},
		{name: "malformed policy", err: awsError("STS", "AssumeRole", 400, "MalformedPolicyDocument"), status: 500, code: vend.CodeInternal,
			message: "credentials could not be issued (a configuration problem; the operators have the details)", reason: "sts: MalformedPolicyDocument"},
		{name: "region disabled", err: awsError("STS", "AssumeRole", 403, "RegionDisabledException"), status: 500, code: vend.CodeInternal,
			message: "credentials could not be issued (a configuration problem; the operators have the details)", reason: "sts: RegionDisabledException"},
		{name: "internal failure", err: awsError("STS", "AssumeRole", 500, "InternalFailure"), status: 503, code: vend.CodeUnavailable,
			message: "credentials could not be issued; try again later", reason: "sts: InternalFailure"},
		{name: "timeout", err: fmt.Errorf("operation error STS: AssumeRole, exceeded maximum number of attempts: %w", context.DeadlineExceeded),
			status: 503, code: vend.CodeUnavailable, message: "credentials could not be issued; try again later", reason: "sts: Timeout"},
		{name: "network", err: errors.New("dial tcp 10.0.0.1:443: connect: connection refused"), status: 503, code: vend.CodeUnavailable,
			message: "credentials could not be issued; try again later", reason: "sts: Error"},
		{name: "no credentials", none: true, status: 503, code: vend.CodeUnavailable,
			message: "credentials could not be issued; try again later", reason: "sts: Error"},
	}
	for _, tt := range tests {
		for _, ev := range []string{"credentials-native.json", "credentials-credential-process.json", "credentials-container.json"} {
			t.Run(tt.name+"/"+ev, func(t *testing.T) {
				h := newHarness(t)
				h.sts.Err, h.sts.NoCredentials = tt.err, tt.none
				r := h.do(loadEvent(t, ev))
				wantError(t, r, tt.status, tt.code, tt.message)
				checkNoAWSText(t, r.Body)
				if h.sts.Calls() != 1 {
					t.Errorf("%d STS calls", h.sts.Calls())
				}
				s := h.session(idN(1))
				if s.Status != store.SessionFailed || s.FailureReason != tt.reason {
					t.Errorf("session %s %q, want failed %q", s.Status, s.FailureReason, tt.reason)
				}
				if e := h.decision(); e["session_id"] != idN(1) || e["error_code"] != tt.code {
					t.Errorf("decision event: %v", e)
				}
			})
		}
	}
}

func TestSTSDeadline(t *testing.T) {
	h := newHarness(t)
	h.sts.Block = make(chan struct{}) // never answers
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	resp := h.svc.Handle(ctx, mustRequest(t, loadEvent(t, "credentials-native.json")))
	r := decodeResponse(t, resp)
	wantError(t, r, 503, vend.CodeUnavailable, "credentials could not be issued; try again later")
	// The failure is recorded even though the request's context is done.
	if s := h.session(idN(1)); s.Status != store.SessionFailed || s.FailureReason != "sts: Timeout" {
		t.Errorf("session %s %q", s.Status, s.FailureReason)
	}
	checkNoSecrets(t, h.logs.String(), h.metrics.String())
}

func TestMarkFailedFails(t *testing.T) {
	h := newHarness(t)
	h.sts.Err = awsError("STS", "AssumeRole", 500, "InternalFailure")
	h.store.Fail("MarkSessionFailed", storeUnavailable("MarkSessionFailed", awsError("DynamoDB", "UpdateItem", 500, "InternalServerError")))
	r := h.do(loadEvent(t, "credentials-native.json"))
	wantError(t, r, 503, vend.CodeUnavailable, "credentials could not be issued; try again later")
	if !strings.Contains(h.logs.String(), `"msg":"mark session failed"`) {
		t.Errorf("the failed mark is not logged:\n%s", h.logs.String())
	}
}

func TestPolicyFaults(t *testing.T) {
	for _, ev := range []string{"credentials-native.json", "profiles.json"} {
		h := newHarness(t)
		h.policy.err = fmt.Errorf("%w: %w", vend.ErrPolicyUnavailable, awsError("SSM", "GetParameter", 400, "ThrottlingException"))
		r := h.do(loadEvent(t, ev))
		wantError(t, r, 503, vend.CodeUnavailable, "the policy is unavailable; try again later")
		checkNoAWSText(t, r.Body)
		if len(h.store.Calls()) != 0 || h.sts.Calls() != 0 {
			t.Errorf("%s: dependencies called without a policy", ev)
		}
	}
}

func TestIDFaults(t *testing.T) {
	h := newHarness(t)
	h.ids.err = errors.New("crypto/rand: entropy exhausted")
	r := h.do(loadEvent(t, "credentials-native.json"))
	wantError(t, r, 500, vend.CodeInternal, "internal error")
	if h.sts.Calls() != 0 || len(h.sessions()) != 0 {
		t.Error("vended without a session ID")
	}
	r = h.do(loadEvent(t, "credentials-native.json").profile("prod-admin"))
	wantError(t, r, 500, vend.CodeInternal, "internal error")
}

func TestPanicIsInternalError(t *testing.T) {
	h := newHarness(t)
	// A store that panics: the handler answers 500 and logs the stack.
	h.store.Store = panicStore{h.mem}
	r := h.do(loadEvent(t, "credentials-native.json"))
	wantError(t, r, 500, vend.CodeInternal, "internal error")
	if ev := h.decision(); !strings.Contains(ev["cause"].(string), "panic: store exploded") {
		t.Errorf("decision event: %v", ev)
	}
}

type panicStore struct{ *store.Memory }

func (panicStore) Vend(context.Context, store.RateKey, int, time.Duration, store.SessionRecord) error {
	panic("store exploded")
}

func mustRequest(t testing.TB, e event) *vend.Request {
	t.Helper()
	var req vend.Request
	if err := json.Unmarshal(e.raw(t), &req); err != nil {
		t.Fatal(err)
	}
	return &req
}
