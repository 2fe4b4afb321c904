package report

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sentinel-tvm/sentinel-tvm/client"
	"github.com/sentinel-tvm/sentinel-tvm/internal/decisionlog"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func at(days int, hm string) time.Time {
	d, _ := time.ParseDuration(hm)
	return t0.AddDate(0, 0, days).Add(d)
}

const (
	bob   = "arn:aws:sts::111122223333:assumed-role/sre-platform/bob"
	carol = "arn:aws:sts::111122223333:assumed-role/sre-oncall-primary/carol"
	eve   = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Security_0123abcd/eve@example.com"
)

func sample() Input {
	return Input{
		From: t0, To: t0.AddDate(0, 0, 3), GeneratedAt: t0.AddDate(0, 0, 3),
		Sessions: []client.Session{
			{SessionID: "s1", Principal: bob, Profile: "prod-readonly", Status: "expired", IssuedAt: at(0, "1h"), ExpiresAt: at(0, "1h20m")},
			{SessionID: "s2", Principal: bob, Profile: "prod-admin", Status: "revoked", Via: "approval", IssuedAt: at(1, "2h"), ExpiresAt: at(1, "2h30m"),
				RevokedAt: at(1, "2h10m"), RevokedBy: eve, RevokeReason: "laptop stolen"},
			{SessionID: "s3", Principal: carol, Profile: "prod-admin", Status: "expired", Via: "break_glass", BreakGlassID: "bg1",
				IssuedAt: at(1, "3h"), ExpiresAt: at(1, "4h")},
			{SessionID: "s4", Principal: eve, User: "eve@example.com", Profile: "prod-readonly", Status: "active", IssuedAt: at(2, "5h"), ExpiresAt: at(2, "5h15m")},
			{SessionID: "s5", Principal: bob, Profile: "prod-readonly", Status: "failed", IssuedAt: at(2, "6h"), ExpiresAt: at(2, "6h15m")},
			{SessionID: "s6", Principal: bob, Profile: "prod-readonly", Status: "expired", IssuedAt: at(-1, "6h"), ExpiresAt: at(-1, "6h15m")},
		},
		Approvals: []client.Approval{
			{ApprovalID: "a1", Status: "used", Profile: "prod-admin", Requester: bob, CreatedAt: at(1, "1h"), DecidedAt: at(1, "1h10m"),
				Decisions: []client.ApprovalDecision{{Approver: eve, Decision: "approve", Comment: "ok", At: at(1, "1h10m")}}},
			{ApprovalID: "a2", Status: "denied", Profile: "prod-admin", Requester: bob, Justification: "why not", CreatedAt: at(2, "1h"), DecidedAt: at(2, "3h"),
				Decisions: []client.ApprovalDecision{{Approver: eve, Decision: "deny", Comment: "no ticket <b>", At: at(2, "3h")}}},
			{ApprovalID: "a3", Status: "expired", Profile: "prod-admin", Requester: bob, CreatedAt: at(2, "2h")},
		},
		BreakGlass: []client.BreakGlassEvent{
			{EventID: "bg1", Status: "closed", Profile: "prod-admin", Principal: carol, ReasonCode: "incident", Justification: "INC-1: database down",
				OpenedAt: at(1, "2h50m"), ExpiresAt: at(1, "3h50m"), ClosedAt: at(1, "3h20m"), ClosedBy: eve, CloseComment: "resolved"},
		},
		HasDecisions: true,
		Decisions: []decisionlog.Event{
			{Time: at(0, "1h"), Status: 403, ErrorCode: "policy_denied", Rule: "default-deny"},
			{Time: at(0, "2h"), Status: 403, ErrorCode: "policy_denied", Rule: "default-deny"},
			{Time: at(1, "2h"), Status: 403, ErrorCode: "approval_required", Rule: "prod-admin-needs-approval"},
			{Time: at(1, "3h"), Status: 429, ErrorCode: "rate_limited"},
			{Time: at(1, "4h"), Status: 503, ErrorCode: "unavailable"},
			{Time: at(1, "5h"), Status: 200, Decision: "allow"},
			{Time: at(5, "5h"), Status: 403, ErrorCode: "policy_denied", Rule: "default-deny"},
		},
	}
}

func TestBuild(t *testing.T) {
	r := Build(sample())
	if r.Vends != 4 {
		t.Errorf("vends %d, want 4 (a failed vend and one before the period left out)", r.Vends)
	}
	if diff := cmp.Diff([]string{"prod-admin", "prod-readonly"}, r.Profiles); diff != "" {
		t.Errorf("profiles: %s", diff)
	}
	var perDay [][]int
	for _, d := range r.VendsPerDay {
		perDay = append(perDay, d.Counts)
	}
	if diff := cmp.Diff([][]int{{0, 1}, {2, 0}, {0, 1}}, perDay); diff != "" {
		t.Errorf("vends per day: %s", diff)
	}
	if diff := cmp.Diff([]Count{{bob, 2}, {eve, 1}, {carol, 1}}, r.Principals); diff != "" {
		t.Errorf("principals: %s", diff)
	}
	if diff := cmp.Diff([]Count{{"eve@example.com", 1}}, r.Users); diff != "" {
		t.Errorf("users: %s", diff)
	}
	if diff := cmp.Diff([]Count{{"policy_denied", 2}, {"approval_required", 1}, {"rate_limited", 1}}, r.ByReason); diff != "" {
		t.Errorf("by reason: %s", diff)
	}
	if diff := cmp.Diff([]Count{{"default-deny", 2}, {NoRule, 1}, {"prod-admin-needs-approval", 1}}, r.ByRule); diff != "" {
		t.Errorf("by rule: %s", diff)
	}
	a := r.Approvals
	if a.Total != 3 || a.Decided != 2 || a.MedianToDecision != 10*time.Minute || a.P90ToDecision != 2*time.Hour {
		t.Errorf("approvals: total %d decided %d median %s p90 %s", a.Total, a.Decided, a.MedianToDecision, a.P90ToDecision)
	}
	if len(a.Denied) != 1 || a.Denied[0].ApprovalID != "a2" || len(a.Decisions) != 2 {
		t.Errorf("denied %v, decisions %v", a.Denied, a.Decisions)
	}
	if len(r.BreakGlass) != 1 || r.BreakGlass[0].Duration != 30*time.Minute || len(r.BreakGlass[0].Sessions) != 1 || r.BreakGlass[0].Sessions[0].SessionID != "s3" {
		t.Errorf("break-glass: %+v", r.BreakGlass)
	}
	if len(r.Revocations) != 1 || r.Revocations[0].SessionID != "s2" {
		t.Errorf("revocations: %+v", r.Revocations)
	}
	if len(r.LongSessions) != 1 || r.LongSessions[0].SessionID != "s3" {
		t.Errorf("long sessions: %+v", r.LongSessions)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 10; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Minute)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 5 * time.Minute}, {90, 9 * time.Minute}, {100, 10 * time.Minute}, {1, time.Minute}} {
		if got := Percentile(ds, c.p); got != c.want {
			t.Errorf("p%v = %s, want %s", c.p, got, c.want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("percentile of nothing is not zero")
	}
}

// TestHTMLSelfContained: the page loads nothing from elsewhere, runs no
// script, escapes what people typed, and has one chart per table pair.
func TestHTMLSelfContained(t *testing.T) {
	var buf bytes.Buffer
	in := sample()
	in.Warnings = []string{"The TVM answered its maximum of 100 sessions <b>"}
	if err := Build(in).WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if os.Getenv("REPORT_HTML_OUT") != "" {
		_ = os.WriteFile(os.Getenv("REPORT_HTML_OUT"), buf.Bytes(), 0o644)
	}
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", "@import", "url(", "no ticket <b>"} {
		if strings.Contains(strings.ToLower(page), strings.ToLower(bad)) {
			t.Errorf("the page contains %q", bad)
		}
	}
	// The only URLs are XML namespaces of the inline SVG.
	for _, u := range regexp.MustCompile(`(?:src|href)\s*=\s*"([^"#][^"]*)"`).FindAllStringSubmatch(page, -1) {
		t.Errorf("the page references %s", u[1])
	}
	if n := strings.Count(page, "<svg"); n != 6 {
		t.Errorf("%d charts, want 6", n)
	}
	if !strings.Contains(page, `<p class="warning">The TVM answered its maximum of 100 sessions &lt;b&gt;</p>`) {
		t.Error("the warning is missing")
	}
	if !strings.Contains(page, "no ticket &lt;b&gt;") {
		t.Error("the deny comment is missing")
	}
}

// TestChartLabelsEscaped: text in a chart (a user name, a rule) stays text.
func TestChartLabelsEscaped(t *testing.T) {
	h, err := barChart([]Count{{`<script>alert(1)</script>&`, 1}}, `title <i>`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(h); strings.Contains(s, "<script") || strings.Contains(s, "<i>") || !strings.Contains(s, "&lt;script&gt;") {
		t.Errorf("the chart's labels are not escaped: %s", s)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "-", -time.Second: "-", 10 * time.Second: "10s", 45 * time.Second: "45s", 40 * time.Minute: "40m",
		time.Hour: "1h", 90 * time.Minute: "1h30m", time.Hour + 10*time.Second: "1h0m10s", 1500 * time.Millisecond: "2s",
		26 * time.Hour: "26h",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
