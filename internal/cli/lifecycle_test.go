package cli

import (
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/sentinel-tvm/sentinel-tvm/internal/motoserver"
	"github.com/sentinel-tvm/sentinel-tvm/internal/testutil"
)

// The identities of the lifecycles, under the example policy (policies/):
// bob (sre-platform) needs an approval for prod-admin, from an SSO
// security user with an @example.com name (eve, dan); eve may also ask
// herself (AWSReservedSSO_* requesters) but never approve her own request;
// carol (sre-oncall-*) may open break-glass on prod-*; alice may not;
// oscar (security-*) is an operator; sso reads prod-readonly.
var lifecycleIdentities = []string{
	"bob=arn:aws:sts::111122223333:assumed-role/sre-platform/bob",
	"eve=arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Security_0123abcd/eve@example.com",
	"dan=arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Security_0123abcd/dan@example.com",
	"carol=arn:aws:sts::111122223333:assumed-role/sre-oncall-primary/carol",
	"alice=arn:aws:sts::111122223333:assumed-role/engineer-dev/alice",
	"oscar=arn:aws:sts::111122223333:assumed-role/security-ops/oscar",
	"sso=arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Engineering_0123abcd/alice@example.com",
}

// devClient sends SigV4-signed requests to a running `sentinel-tvm dev`.
type devClient struct {
	t         *testing.T
	base      string
	credsFile string
}

func (d devClient) as(name, method, path, body string, headers ...string) devResponse {
	d.t.Helper()
	req := signedRequest(d.t, fileCredentials(d.t, d.credsFile, name), method, d.base+path, body)
	// Extra headers (Idempotency-Key) are not among the signed ones, which
	// SigV4 allows.
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return send(d.t, req)
}

func errCode(r devResponse) string {
	e, _ := r.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func want(t *testing.T, r devResponse, status int, code string) {
	t.Helper()
	if r.status != status || (code != "" && errCode(r) != code) {
		t.Fatalf("got %d %s, want %d %s", r.status, r.raw, status, code)
	}
}

// startDev runs `sentinel-tvm dev` in-process on a moto of its own.
func startDev(t *testing.T) (devClient, *motoserver.Server) {
	t.Helper()
	srv := motoserver.Start(t)
	clearAWSEnv(t)
	credsFile := filepath.Join(t.TempDir(), "credentials")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testutil.SyncBuffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		o := devOptions{policies: "../../policies", listen: "127.0.0.1:0", endpoint: srv.URL, identities: lifecycleIdentities,
			credentialsFile: credsFile, region: "us-east-1"}
		if err := runDev(ctx, o, &stdout, &stderr); err != nil {
			t.Errorf("runDev: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		for _, line := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(line, "SecretAccessKey") || strings.Contains(line, "SessionToken") {
				t.Errorf("credential material in the log: %s", line)
			}
		}
	})
	return devClient{t: t, base: waitListening(t, stdout.String, done), credsFile: credsFile}, srv
}

// TestDevApprovalLifecycle: request -> approve by a second person -> vend
// once -> second vend refused; self-approval refused; a cancelled request
// cannot be approved; idempotent retries.
func TestDevApprovalLifecycle(t *testing.T) {
	d, _ := startDev(t)

	r := d.as("bob", "POST", "/v1/credentials", `{"profile":"prod-admin"}`)
	want(t, r, 403, "approval_required")
	id := r.body["error"].(map[string]any)["approval_id"].(string)

	// The explicit route reuses the pending request.
	r = d.as("bob", "POST", "/v1/approvals", `{"profile":"prod-admin","justification":"deploy the hotfix"}`)
	want(t, r, 200, "")
	if r.body["approval_id"] != id || r.body["status"] != "pending" {
		t.Fatalf("reused request: %s", r.raw)
	}
	// bob may not approve; alice (no approver) neither; eve may see and decide it.
	want(t, d.as("bob", "POST", "/v1/approvals/"+id+"/approve", ""), 403, "forbidden")
	want(t, d.as("alice", "GET", "/v1/approvals/"+id, ""), 403, "forbidden")
	r = d.as("eve", "GET", "/v1/approvals", "")
	want(t, r, 200, "")
	if !strings.Contains(r.raw, id) {
		t.Fatalf("eve's list lacks the request she may decide: %s", r.raw)
	}
	r = d.as("eve", "POST", "/v1/approvals/"+id+"/approve", `{"comment":"ok"}`, "Idempotency-Key", "approve-1")
	want(t, r, 200, "")
	if r.body["status"] != "approved" {
		t.Fatalf("after eve's approval: %s", r.raw)
	}
	// The same key and request replays; the same key with another body conflicts.
	r = d.as("eve", "POST", "/v1/approvals/"+id+"/approve", `{"comment":"ok"}`, "Idempotency-Key", "approve-1")
	want(t, r, 200, "")
	want(t, d.as("eve", "POST", "/v1/approvals/"+id+"/approve", `{"comment":"other"}`, "Idempotency-Key", "approve-1"), 409, "conflict")
	// A second decision on a decided request conflicts.
	want(t, d.as("dan", "POST", "/v1/approvals/"+id+"/deny", ""), 409, "conflict")

	r = d.as("bob", "POST", "/v1/credentials", `{"profile":"prod-admin","approval_id":"`+id+`"}`)
	want(t, r, 200, "")
	if dec := r.body["decision"].(map[string]any); dec["via"] != "approval" || !strings.HasPrefix(r.body["source_identity"].(string), "stvm-ap.") {
		t.Fatalf("approved vend: %s", r.raw)
	}
	r = d.as("bob", "POST", "/v1/credentials", `{"profile":"prod-admin","approval_id":"`+id+`"}`)
	want(t, r, 403, "approval_required")
	if r.body["error"].(map[string]any)["approval_id"] == id {
		t.Fatal("a used approval was offered again")
	}
	r = d.as("bob", "GET", "/v1/approvals/"+id, "")
	if r.body["status"] != "used" {
		t.Fatalf("used approval reads %s", r.raw)
	}

	// Self-approval: eve asks, eve may not approve, dan may.
	r = d.as("eve", "POST", "/v1/approvals", `{"profile":"prod-admin","justification":"rotate keys"}`)
	want(t, r, 201, "")
	own := r.body["approval_id"].(string)
	r = d.as("eve", "POST", "/v1/approvals/"+own+"/approve", "")
	want(t, r, 403, "forbidden")
	if msg := r.body["error"].(map[string]any)["message"]; msg != "nobody approves or denies their own request" {
		t.Errorf("message %v", msg)
	}
	want(t, d.as("eve", "POST", "/v1/approvals/"+own+"/cancel", ""), 200, "")
	want(t, d.as("dan", "POST", "/v1/approvals/"+own+"/approve", ""), 409, "conflict")
}

// TestDevConcurrentApprovals: two approvers at once on a one-approval
// request: exactly one decision lands.
func TestDevConcurrentApprovals(t *testing.T) {
	d, _ := startDev(t)
	r := d.as("bob", "POST", "/v1/approvals", `{"profile":"prod-admin","justification":"race"}`)
	want(t, r, 201, "")
	id := r.body["approval_id"].(string)
	var wg sync.WaitGroup
	got := make([]devResponse, 2)
	for i, who := range []string{"eve", "dan"} {
		wg.Go(func() { got[i] = d.as(who, "POST", "/v1/approvals/"+id+"/approve", "") })
	}
	wg.Wait()
	ok := 0
	for _, g := range got {
		switch {
		case g.status == 200:
			ok++
		case g.status != 409:
			t.Errorf("unexpected %d %s", g.status, g.raw)
		}
	}
	r = d.as("bob", "GET", "/v1/approvals/"+id, "")
	if ok != 1 || r.body["status"] != "approved" || len(r.body["decisions"].([]any)) != 1 {
		t.Fatalf("%d approvals succeeded; request %s", ok, r.raw)
	}
}

// TestDevBreakGlassLifecycle: open -> vend -> close -> refused; refused for
// a principal no block lists, a bad reason code, a short justification;
// concurrent opens yield one event.
func TestDevBreakGlassLifecycle(t *testing.T) {
	d, _ := startDev(t)
	just := "database primary is down, INC-4711"
	want(t, d.as("carol", "POST", "/v1/credentials", `{"profile":"prod-readonly"}`), 403, "policy_denied")
	want(t, d.as("alice", "POST", "/v1/break-glass", `{"profile":"prod-readonly","reason_code":"incident","justification":"`+just+`"}`), 403, "forbidden")
	want(t, d.as("carol", "POST", "/v1/break-glass", `{"profile":"prod-readonly","reason_code":"boredom","justification":"`+just+`"}`), 400, "invalid_request")
	want(t, d.as("carol", "POST", "/v1/break-glass", `{"profile":"prod-readonly","reason_code":"incident","justification":"too short"}`), 400, "invalid_request")
	want(t, d.as("carol", "POST", "/v1/break-glass", `{"profile":"prod-readonly","reason_code":"incident","justification":"`+just+`","duration_seconds":7200}`), 400, "invalid_request")

	var wg sync.WaitGroup
	got := make([]devResponse, 3)
	for i := range got {
		wg.Go(func() {
			got[i] = d.as("carol", "POST", "/v1/break-glass", `{"profile":"prod-readonly","reason_code":"incident","justification":"`+just+`"}`)
		})
	}
	wg.Wait()
	var id string
	for _, g := range got {
		switch g.status {
		case 201:
			if id != "" {
				t.Fatalf("two events opened: %s and %s", id, g.body["event_id"])
			}
			id = g.body["event_id"].(string)
		case 409:
		default:
			t.Fatalf("open: %d %s", g.status, g.raw)
		}
	}
	if id == "" {
		t.Fatal("no event opened")
	}
	r := d.as("carol", "POST", "/v1/credentials", `{"profile":"prod-readonly"}`)
	want(t, r, 200, "")
	if dec := r.body["decision"].(map[string]any); dec["via"] != "break_glass" || !strings.HasPrefix(r.body["source_identity"].(string), "stvm-bg.") {
		t.Fatalf("break-glass vend: %s", r.raw)
	}
	r = d.as("oscar", "GET", "/v1/break-glass?active=true", "")
	if !strings.Contains(r.raw, id) {
		t.Fatalf("the operator does not see the active event: %s", r.raw)
	}
	want(t, d.as("alice", "POST", "/v1/break-glass/"+id+"/close", ""), 403, "forbidden")
	r = d.as("carol", "POST", "/v1/break-glass/"+id+"/close", `{"comment":"resolved"}`)
	want(t, r, 200, "")
	if r.body["status"] != "closed" {
		t.Fatalf("close: %s", r.raw)
	}
	want(t, d.as("carol", "POST", "/v1/credentials", `{"profile":"prod-readonly"}`), 403, "policy_denied")
	want(t, d.as("carol", "POST", "/v1/break-glass/"+id+"/close", ""), 409, "conflict")
}

// TestDevRevocation: revoke -> the role's inline policy in the emulator
// holds the deny; a block refuses re-vending; operators revoke anyone's.
func TestDevRevocation(t *testing.T) {
	d, srv := startDev(t)
	r := d.as("sso", "POST", "/v1/credentials", `{"profile":"prod-readonly"}`)
	want(t, r, 200, "")
	sid := r.body["session_id"].(string)

	r = d.as("sso", "GET", "/v1/sessions?active=true", "")
	if !strings.Contains(r.raw, sid) {
		t.Fatalf("own sessions lack %s: %s", sid, r.raw)
	}
	want(t, d.as("alice", "GET", "/v1/sessions/"+sid, ""), 403, "forbidden")
	want(t, d.as("alice", "POST", "/v1/sessions/"+sid+"/revoke", `{"reason":"x"}`), 403, "forbidden")
	want(t, d.as("alice", "GET", "/v1/sessions?principal=arn:aws:iam::111122223333:role/sre-platform", ""), 403, "forbidden")

	r = d.as("sso", "POST", "/v1/sessions/"+sid+"/revoke", `{"reason":"laptop stolen","block_minutes":30}`)
	want(t, r, 200, "")
	if r.body["status"] != "revoked" || r.body["enforcement"] != "session_tag" || r.body["blocked_until"] == nil {
		t.Fatalf("revoke: %s", r.raw)
	}
	doc := rolePolicy(t, srv, "444455556666", "prod-readonly")
	if !strings.Contains(doc, `"aws:PrincipalTag/sentinel:session-id":["`+sid+`"]`) || !strings.Contains(doc, `"Effect":"Deny"`) {
		t.Fatalf("the role's revocation policy lacks the deny: %s", doc)
	}
	want(t, d.as("sso", "POST", "/v1/credentials", `{"profile":"prod-readonly"}`), 403, "session_revoked")
	r = d.as("sso", "GET", "/v1/sessions/"+sid, "")
	if r.body["status"] != "revoked" || r.body["enforcement"] != "session_tag" {
		t.Fatalf("revoked session reads %s", r.raw)
	}

	// The operator sees and revokes anyone's sessions.
	r = d.as("carol", "POST", "/v1/break-glass", `{"profile":"prod-admin","reason_code":"security","justification":"credential exposure, INC-9"}`)
	want(t, r, 201, "")
	r = d.as("carol", "POST", "/v1/credentials", `{"profile":"prod-admin"}`)
	want(t, r, 200, "")
	other := r.body["session_id"].(string)
	r = d.as("oscar", "GET", "/v1/sessions?principal=arn:aws:iam::111122223333:role/sre-oncall-primary&active=true", "")
	if !strings.Contains(r.raw, other) || strings.Contains(r.raw, sid) {
		t.Fatalf("operator's filtered list: %s", r.raw)
	}
	r = d.as("oscar", "POST", "/v1/sessions/"+other+"/revoke", `{"reason":"contain"}`)
	want(t, r, 200, "")
	if doc := rolePolicy(t, srv, "444455556666", "prod-admin"); !strings.Contains(doc, other) {
		t.Fatalf("prod-admin's revocation policy lacks %s: %s", other, doc)
	}
	// Revoking again re-asserts the deny and answers the same.
	want(t, d.as("oscar", "POST", "/v1/sessions/"+other+"/revoke", `{"reason":"again"}`), 200, "")
}

// rolePolicy reads the revocation policy of a role in the emulator.
func rolePolicy(t *testing.T, srv *motoserver.Server, account, role string) string {
	t.Helper()
	cfg := srv.Config.Copy()
	cfg.APIOptions = append(cfg.APIOptions[:len(cfg.APIOptions):len(cfg.APIOptions)], smithyhttp.SetHeaderValue("x-moto-account-id", account))
	out, err := iam.NewFromConfig(cfg).GetRolePolicy(context.Background(), &iam.GetRolePolicyInput{
		RoleName: aws.String(role), PolicyName: aws.String("sentinel-tvm-revocations"),
	})
	if err != nil {
		t.Fatalf("GetRolePolicy %s in %s: %v", role, account, err)
	}
	doc := aws.ToString(out.PolicyDocument)
	if !strings.HasPrefix(doc, "{") {
		if doc, err = url.QueryUnescape(doc); err != nil {
			t.Fatal(err)
		}
	}
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("policy is not JSON: %v", err)
	}
	return doc
}
