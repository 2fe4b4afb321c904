package awsdeps

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/notifications")

var (
	at = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	// Principals as the service records them (the role of a role
	// session), actors as identities (principal#user for SSO users).
	bob     = "arn:aws:iam::111122223333:role/sre-platform"
	eve     = "arn:aws:iam::111122223333:role/AWSReservedSSO_Security_0123abcd#eve@example.com"
	carol   = "arn:aws:iam::111122223333:role/sre-oncall-primary"
	ssoRole = "arn:aws:iam::111122223333:role/AWSReservedSSO_Engineering_0123abcd"
)

// goldenNotifications are one notification per event type (and per
// decision), as the service emits them.
var goldenNotifications = map[string]vend.Notification{
	"approval_requested": {Event: vend.EventApprovalRequested, At: at, RequestID: "req-1", Actor: bob, Principal: bob, Profile: "prod-admin",
		Rule: "prod-admin-needs-approval", DurationSeconds: 3600, ApprovalID: "01JAPPROVAL", Status: "pending",
		Justification: "INC-1234: restart the API", ExpiresAt: at.Add(time.Hour)},
	"approval_decided_approve": {Event: vend.EventApprovalDecided, At: at, RequestID: "req-2", Actor: eve, Principal: bob, Profile: "prod-admin",
		ApprovalID: "01JAPPROVAL", Status: "approved", Decision: "approve", Comment: "OPS-42", Justification: "INC-1234: restart the API"},
	"approval_decided_deny": {Event: vend.EventApprovalDecided, At: at, RequestID: "req-3", Actor: eve, Principal: bob, Profile: "prod-admin",
		ApprovalID: "01JAPPROVAL", Status: "denied", Decision: "deny", Comment: "use staging", Justification: "INC-1234: restart the API"},
	"approval_decided_more_needed": {Event: vend.EventApprovalDecided, At: at, RequestID: "req-3b", Actor: eve, Principal: bob, Profile: "prod-admin",
		ApprovalID: "01JAPPROVAL", Status: "pending", Decision: "approve"},
	"approval_cancelled": {Event: vend.EventApprovalCancelled, At: at, RequestID: "req-4", Actor: bob, Principal: bob, Profile: "prod-admin",
		ApprovalID: "01JAPPROVAL", Status: "cancelled", Comment: "fixed without it"},
	"approval_expired": {Event: vend.EventApprovalExpired, At: at, Principal: ssoRole, User: "alice@example.com", Profile: "prod-admin",
		ApprovalID: "01JAPPROVAL", Status: "expired", ExpiresAt: at.Add(-time.Minute)},
	"break_glass_opened": {Event: vend.EventBreakGlassOpened, At: at, RequestID: "req-5", Actor: carol, Principal: carol, Profile: "prod-admin",
		EventID: "01JEVENT", Status: "active", ReasonCode: "incident", Justification: "INC-4711: database primary is down", ExpiresAt: at.Add(time.Hour)},
	"break_glass_closed": {Event: vend.EventBreakGlassClosed, At: at, RequestID: "req-6", Actor: carol, Principal: carol, Profile: "prod-admin",
		EventID: "01JEVENT", Status: "closed", ReasonCode: "incident", Comment: "resolved"},
	"session_revoked": {Event: vend.EventSessionRevoked, At: at, RequestID: "req-7", Actor: eve, Principal: bob, Profile: "prod-readonly",
		SessionID: "01JSESSION", Status: "revoked", Comment: "laptop stolen", Enforcement: "session_tag", BlockedUntil: at.Add(30 * time.Minute)},
	"revocation_fallback": {Event: EventRevocationFallback, At: at, RequestID: "req-8", Actor: eve, Principal: bob, Profile: "prod-readonly",
		SessionID: "01JSESSION", Status: "revoked", Comment: "laptop stolen", Enforcement: "token_issue_time"},
}

func TestNotificationGolden(t *testing.T) {
	for name, n := range goldenNotifications {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(FormatNotification(n), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "notifications", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (go test ./internal/awsdeps -run TestNotificationGolden -update writes it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file; got:\n%s", path, got)
			}
		})
	}
}

// TestNotificationFormat checks what the golden files must hold whatever
// their wording: the custom-notification envelope, who/what/why, the
// command to act, and every field for machines.
func TestNotificationFormat(t *testing.T) {
	for name, n := range goldenNotifications {
		m := FormatNotification(n)
		if m.Version != "1.0" || m.Source != "custom" || m.Content.TextType != "client-markdown" || m.Content.Title == "" ||
			m.Content.Description == "" || m.Metadata.EventType != n.Event || m.Metadata.Summary == "" {
			t.Errorf("%s: envelope %+v", name, m)
		}
		who := n.User
		if who == "" {
			who = n.Principal
		}
		if !strings.Contains(m.Content.Title+m.Content.Description, who) {
			t.Errorf("%s: who is missing: %q / %q", name, m.Content.Title, m.Content.Description)
		}
		if n.Justification != "" && !strings.Contains(m.Content.Description, n.Justification) {
			t.Errorf("%s: justification missing: %q", name, m.Content.Description)
		}
		// Machine-readable: additionalContext gives the notification back.
		ctx := m.Metadata.AdditionalContext
		raw, _ := json.Marshal(n)
		var fields map[string]any
		_ = json.Unmarshal(raw, &fields)
		if len(ctx) != len(fields) {
			t.Errorf("%s: additionalContext has %d fields, the notification %d", name, len(ctx), len(fields))
		}
		if ctx["event"] != n.Event || ctx["approval_id"] != n.ApprovalID || ctx["session_id"] != n.SessionID || ctx["justification"] != n.Justification {
			t.Errorf("%s: additionalContext %v", name, ctx)
		}
	}
	steps := func(name string) string {
		return strings.Join(FormatNotification(goldenNotifications[name]).Content.NextSteps, "\n")
	}
	for name, cmd := range map[string]string{
		"approval_requested":       "sentinel-tvm approve 01JAPPROVAL",
		"approval_decided_approve": "sentinel-tvm credentials --profile prod-admin --approval-id 01JAPPROVAL",
		"approval_expired":         "sentinel-tvm request-approval --profile prod-admin",
		"break_glass_opened":       "sentinel-tvm break-glass close 01JEVENT",
		"session_revoked":          "sentinel-tvm session 01JSESSION",
		"revocation_fallback":      "sentinel-tvm session 01JSESSION",
	} {
		if !strings.Contains(steps(name), cmd) {
			t.Errorf("%s: next steps %q lack %q", name, steps(name), cmd)
		}
	}
	if s := steps("approval_decided_deny"); s != "" {
		t.Errorf("a denied request has nothing to act on, got %q", s)
	}
}

// TestNotificationFreeTextIsQuoted: a requester's justification cannot ping
// a channel, add links or formatting, or break out of its code span.
func TestNotificationFreeTextIsQuoted(t *testing.T) {
	n := goldenNotifications["approval_requested"]
	n.Justification = "ok` <!channel> *bold* <https://evil.example|click>\nline2 " + strings.Repeat("x", 600)
	n.User = "mallory`<@U123>"
	m := FormatNotification(n)
	text := m.Content.Title + m.Content.Description + strings.Join(m.Content.NextSteps, "")
	for _, bad := range []string{"<!channel>", "<https://", "<@U123>", "ok`", "\nline2"} {
		if strings.Contains(text, bad) {
			t.Errorf("message contains %q:\n%s", bad, text)
		}
	}
	if strings.Count(m.Content.Description, "`")%2 != 0 {
		t.Errorf("unbalanced code spans: %s", m.Content.Description)
	}
	if !strings.Contains(m.Content.Description, "…") {
		t.Error("a long justification is not cut")
	}
	// The machine-readable copy keeps the text as it was.
	if m.Metadata.AdditionalContext["justification"] != n.Justification {
		t.Error("additionalContext altered the justification")
	}
}

type fakeSNS struct{ in []*sns.PublishInput }

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.in = append(f.in, in)
	return &sns.PublishOutput{}, nil
}

func TestSNSNotifierPublishesChatMessage(t *testing.T) {
	f := &fakeSNS{}
	n := goldenNotifications["break_glass_opened"]
	if err := (&SNSNotifier{Client: f, TopicARN: "arn:aws:sns:us-east-1:111122223333:t"}).Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	if len(f.in) != 1 {
		t.Fatalf("%d publishes", len(f.in))
	}
	in := f.in[0]
	if *in.Subject != "sentinel-tvm: break_glass_opened" || *in.MessageAttributes["event"].StringValue != "break_glass_opened" {
		t.Errorf("subject %q, attributes %v", *in.Subject, in.MessageAttributes)
	}
	var m ChatMessage
	if err := json.Unmarshal([]byte(*in.Message), &m); err != nil {
		t.Fatal(err)
	}
	if m.Source != "custom" || m.Metadata.AdditionalContext["event_id"] != "01JEVENT" {
		t.Errorf("message %s", *in.Message)
	}
}
