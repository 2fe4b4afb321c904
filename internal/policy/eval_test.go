package policy

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// Helpers of the evaluation tests carry an "ev" prefix so that they cannot
// collide with the compiler tests' helpers in the same package.

// evPolicy compiles one HCL source and fails the test on any error.
func evPolicy(t testing.TB, hclSrc string) *Policy {
	t.Helper()
	c, diags := Compile([]Source{{Name: "policy.hcl", Data: []byte(strings.TrimPrefix(hclSrc, "\n"))}})
	if diags.HasErrors() {
		for _, d := range diags {
			t.Log(FormatDiagnostic(d))
		}
		t.Fatalf("policy does not compile")
	}
	return c.Policy
}

// Callers used throughout.
const (
	evEngineer   = "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice"
	evEngineer2  = "arn:aws:sts::111122223333:assumed-role/engineer-dev/bob"
	evContractor = "arn:aws:sts::111122223333:assumed-role/engineer-contractor/carol"
	evAnalyst    = "arn:aws:sts::111122223333:assumed-role/analyst/dave"
	evSRE        = "arn:aws:sts::111122223333:assumed-role/sre-oncall-1/erin"
	evSecurity   = "arn:aws:sts::111122223333:assumed-role/security-team/frank"
	evSSOAlice   = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Dev_0123abcd/alice@example.com"
	evSSOBob     = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Dev_0123abcd/bob@example.com"
	evSSOMallory = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Dev_0123abcd/mallory@evil.test"
	evIAMUser    = "arn:aws:iam::111122223333:user/ops/alice@example.com"
	evOtherAcct  = "arn:aws:sts::444455556666:assumed-role/engineer-dev/alice"
)

// evMonday is DefaultTestTime: Monday 2026-03-02 12:00 UTC.
var evMonday = DefaultTestTime

func evAt(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// evCase is one request and the decision it must get. Zero fields take
// defaults: caller evEngineer, time evMonday, no source IP, no duration.
type evCase struct {
	name       string
	caller     string
	orgID      string
	profile    string
	time       time.Time
	ip         string
	dur        time.Duration
	approval   *Grant
	breakGlass *Grant

	want       Effect
	wantRule   string
	wantVia    string        // checked for allow
	wantReason string        // checked when set
	wantDur    time.Duration // checked for allow
	wantCapped bool          // checked for allow
}

func (tc evCase) request(t testing.TB, p *Policy) *Request {
	t.Helper()
	caller := tc.caller
	if caller == "" {
		caller = evEngineer
	}
	pr, err := p.Principal(caller, "AROAEXAMPLE:x", tc.orgID)
	if err != nil {
		t.Fatalf("Principal(%q): %v", caller, err)
	}
	req := &Request{Principal: pr, Profile: tc.profile, Time: tc.time, Duration: tc.dur,
		Approval: tc.approval, BreakGlass: tc.breakGlass}
	if req.Time.IsZero() {
		req.Time = evMonday
	}
	if tc.ip != "" {
		req.SourceIP = netip.MustParseAddr(tc.ip)
	}
	return req
}

func evRun(t *testing.T, p *Policy, cases []evCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Evaluate(tc.request(t, p))
			evCheck(t, d, tc)
		})
	}
}

func evCheck(t *testing.T, d Decision, tc evCase) {
	t.Helper()
	if d.Rule == "" || d.Reason == "" {
		t.Errorf("decision %+v does not name a rule and a reason", d)
	}
	if d.Effect != tc.want || d.Rule != tc.wantRule {
		t.Fatalf("got %s by %q (%s), want %s by %q", d.Effect, d.Rule, d.Reason, tc.want, tc.wantRule)
	}
	if tc.wantReason != "" && d.Reason != tc.wantReason {
		t.Errorf("reason %q, want %q", d.Reason, tc.wantReason)
	}
	if d.Effect != Allow {
		if d.Duration != 0 || d.Via != "" {
			t.Errorf("a %s carries duration %s and via %q", d.Effect, d.Duration, d.Via)
		}
		return
	}
	if d.Via != tc.wantVia {
		t.Errorf("via %q, want %q", d.Via, tc.wantVia)
	}
	if d.Duration != tc.wantDur || d.Capped != tc.wantCapped {
		t.Errorf("duration %s capped=%v, want %s capped=%v", d.Duration, d.Capped, tc.wantDur, tc.wantCapped)
	}
	if d.Duration <= 0 || d.Duration > MaxSessionDuration {
		t.Errorf("duration %s out of (0, 1h]", d.Duration)
	}
	if d.Capped != (d.Duration < d.Requested) {
		t.Errorf("capped=%v but duration %s, requested %s", d.Capped, d.Duration, d.Requested)
	}
	if d.RoleARN == "" || d.Profile != tc.profile {
		t.Errorf("allow for profile %q role %q, want profile %q", d.Profile, d.RoleARN, tc.profile)
	}
}

const evPrecedenceHCL = `
settings {
  trusted_session_roles = ["arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
}

profile "dev" {
  role_arn = "arn:aws:iam::111122223333:role/dev"
}

profile "prod" {
  role_arn     = "arn:aws:iam::111122223333:role/prod"
  max_duration = "30m"
}

profile "lab" {
  role_arn = "arn:aws:iam::111122223333:role/lab"
}

profile "vault" {
  role_arn = "arn:aws:iam::111122223333:role/vault"
}

rule "allow-engineers" {
  effect     = "allow"
  profiles   = ["dev", "prod"]
  principals = ["arn:aws:iam::111122223333:role/engineer-*"]
}

rule "prod-needs-approval" {
  effect       = "require_approval"
  profiles     = ["prod"]
  principals   = ["arn:aws:iam::111122223333:role/engineer-*"]
  approvers    = ["arn:aws:iam::111122223333:role/security-*"]
  max_duration = "20m"
}

rule "no-contractors" {
  effect     = "deny"
  profiles   = ["*"]
  principals = ["arn:aws:iam::111122223333:role/engineer-contractor"]
  reason     = "contractors never get credentials"
}

break_glass "emergency" {
  profiles     = ["prod", "lab"]
  principals   = ["arn:aws:iam::111122223333:role/engineer-*", "arn:aws:iam::111122223333:role/sre-oncall-*"]
  max_duration = "1h"
  reason_codes = ["incident"]
}
`

func TestEvaluatePrecedence(t *testing.T) {
	p := evPolicy(t, evPrecedenceHCL)
	in := func(d time.Duration) *Grant { return &Grant{Expires: evMonday.Add(d)} }
	expired := &Grant{Expires: evMonday.Add(-time.Minute)}
	evRun(t, p, []evCase{
		{name: "allow", profile: "dev", want: Allow, wantRule: "allow-engineers", wantVia: ViaPolicy,
			wantReason: `allowed by rule "allow-engineers"`, wantDur: 15 * time.Minute},
		{name: "deny beats allow", caller: evContractor, profile: "dev", want: Deny, wantRule: "no-contractors",
			wantReason: "contractors never get credentials"},
		{name: "deny beats require_approval", caller: evContractor, profile: "prod", want: Deny, wantRule: "no-contractors"},
		{name: "approval does not override deny", caller: evContractor, profile: "prod", approval: &Grant{},
			want: Deny, wantRule: "no-contractors"},
		{name: "break-glass does not override deny", caller: evContractor, profile: "prod", breakGlass: in(time.Hour),
			want: Deny, wantRule: "no-contractors"},
		{name: "require_approval beats allow", profile: "prod", want: RequireApproval, wantRule: "prod-needs-approval",
			wantReason: `rule "prod-needs-approval" requires approval`},
		{name: "default deny", caller: evAnalyst, profile: "dev", want: Deny, wantRule: DefaultDeny, wantReason: ReasonDefaultDeny},
		{name: "profile without rules", profile: "lab", want: Deny, wantRule: DefaultDeny, wantReason: ReasonDefaultDeny},
		{name: "unknown profile", profile: "nope", want: Deny, wantRule: DefaultDeny, wantReason: ReasonNoProfile},
		{name: "unknown profile with grants", profile: "nope", approval: &Grant{}, breakGlass: in(time.Hour),
			want: Deny, wantRule: DefaultDeny, wantReason: ReasonNoProfile},
		{name: "profile names are case-sensitive", profile: "Dev", want: Deny, wantRule: DefaultDeny, wantReason: ReasonNoProfile},

		// Approvals.
		{name: "approval turns require_approval into allow", profile: "prod", approval: &Grant{},
			want: Allow, wantRule: "prod-needs-approval", wantVia: ViaApproval,
			wantReason: `approved under rule "prod-needs-approval"`, wantDur: 15 * time.Minute},
		{name: "approval capped by the rule's max_duration", profile: "prod", approval: &Grant{}, dur: 30 * time.Minute,
			want: Allow, wantRule: "prod-needs-approval", wantVia: ViaApproval, wantDur: 20 * time.Minute, wantCapped: true},
		{name: "approval capped by its expiry", profile: "prod", approval: in(10*time.Minute + 500*time.Millisecond),
			want: Allow, wantRule: "prod-needs-approval", wantVia: ViaApproval, wantDur: 10 * time.Minute, wantCapped: true},
		{name: "expired approval does nothing", profile: "prod", approval: expired,
			want: RequireApproval, wantRule: "prod-needs-approval"},
		{name: "approval expiring now does nothing", profile: "prod", approval: &Grant{Expires: evMonday},
			want: RequireApproval, wantRule: "prod-needs-approval"},
		{name: "approval with less than a second left", profile: "prod", approval: in(500 * time.Millisecond),
			want: Deny, wantRule: "prod-needs-approval", wantReason: ReasonExpired},
		{name: "approval does not lift the default deny", caller: evAnalyst, profile: "dev", approval: &Grant{},
			want: Deny, wantRule: DefaultDeny},
		{name: "approval does not cap a policy allow", profile: "dev", approval: in(5 * time.Minute),
			want: Allow, wantRule: "allow-engineers", wantVia: ViaPolicy, wantDur: 15 * time.Minute},

		// Break-glass.
		{name: "break-glass turns require_approval into allow", profile: "prod", breakGlass: in(time.Hour),
			want: Allow, wantRule: "emergency", wantVia: ViaBreakGlass,
			wantReason: `break-glass event under "emergency" is active`, wantDur: 15 * time.Minute},
		{name: "break-glass turns default deny into allow", profile: "lab", breakGlass: in(time.Hour),
			want: Allow, wantRule: "emergency", wantVia: ViaBreakGlass, wantDur: 15 * time.Minute},
		{name: "break-glass for an sre without any rule", caller: evSRE, profile: "lab", breakGlass: in(time.Hour), dur: time.Hour,
			want: Allow, wantRule: "emergency", wantVia: ViaBreakGlass, wantDur: time.Hour},
		{name: "break-glass capped by the profile", profile: "prod", breakGlass: in(time.Hour), dur: time.Hour,
			want: Allow, wantRule: "emergency", wantVia: ViaBreakGlass, wantDur: 30 * time.Minute, wantCapped: true},
		{name: "break-glass capped by its time left", caller: evSRE, profile: "lab", breakGlass: in(25 * time.Minute), dur: time.Hour,
			want: Allow, wantRule: "emergency", wantVia: ViaBreakGlass, wantDur: 25 * time.Minute, wantCapped: true},
		{name: "expired break-glass does nothing", profile: "prod", breakGlass: expired,
			want: RequireApproval, wantRule: "prod-needs-approval"},
		{name: "expired break-glass on default deny", profile: "lab", breakGlass: expired,
			want: Deny, wantRule: DefaultDeny},
		{name: "break-glass for a profile no block covers", profile: "vault", breakGlass: in(time.Hour),
			want: Deny, wantRule: DefaultDeny},
		{name: "break-glass for a principal no block covers", caller: evAnalyst, profile: "lab", breakGlass: in(time.Hour),
			want: Deny, wantRule: DefaultDeny},
		{name: "approval preferred over break-glass", profile: "prod", approval: &Grant{}, breakGlass: in(time.Hour),
			want: Allow, wantRule: "prod-needs-approval", wantVia: ViaApproval, wantDur: 15 * time.Minute},
		{name: "expired approval falls back to break-glass", profile: "prod", approval: expired, breakGlass: in(time.Hour),
			want: Allow, wantRule: "emergency", wantVia: ViaBreakGlass, wantDur: 15 * time.Minute},
		{name: "break-glass does not change a policy allow", profile: "dev", breakGlass: in(time.Hour),
			want: Allow, wantRule: "allow-engineers", wantVia: ViaPolicy, wantDur: 15 * time.Minute},
		{name: "session above 1h gets 1h", profile: "dev", dur: 3 * time.Hour,
			want: Allow, wantRule: "allow-engineers", wantVia: ViaPolicy, wantDur: time.Hour, wantCapped: true},
	})
}

// A break-glass event counts only while a block of the current policy covers
// it: the same request under a policy without the block is denied.
func TestEvaluateBreakGlassNeedsBlock(t *testing.T) {
	without := strings.Replace(evPrecedenceHCL, `profiles     = ["prod", "lab"]`, `profiles     = ["prod"]`, 1)
	p := evPolicy(t, without)
	evRun(t, p, []evCase{
		{name: "block no longer covers lab", profile: "lab", breakGlass: &Grant{Expires: evMonday.Add(time.Hour)},
			want: Deny, wantRule: DefaultDeny},
	})
	if _, ok := p.BreakGlassFor(evMustPrincipal(t, p, evEngineer), "lab"); ok {
		t.Errorf("BreakGlassFor(engineer, lab) = true without a block")
	}
	bg, ok := p.BreakGlassFor(evMustPrincipal(t, p, evSRE), "prod")
	if !ok || bg.Name != "emergency" || bg.MaxDuration != 3600 {
		t.Errorf("BreakGlassFor(sre, prod) = %+v, %v", bg, ok)
	}
	if _, ok := p.BreakGlassFor(evMustPrincipal(t, p, evSRE), "nope"); ok {
		t.Errorf("BreakGlassFor for an unknown profile = true")
	}
}

func evMustPrincipal(t testing.TB, p *Policy, caller string) Principal {
	t.Helper()
	pr, err := p.Principal(caller, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func TestEvaluateDurations(t *testing.T) {
	p := evPolicy(t, `
settings {
  default_duration = "20m"
  max_duration     = "45m"
}

profile "plain" {
  role_arn = "arn:aws:iam::111122223333:role/plain"
}

profile "short-default" {
  role_arn         = "arn:aws:iam::111122223333:role/short"
  default_duration = "16m"
}

profile "capped" {
  role_arn     = "arn:aws:iam::111122223333:role/capped"
  max_duration = "25m"
}

profile "ruled" {
  role_arn = "arn:aws:iam::111122223333:role/ruled"
}

rule "everyone" {
  effect     = "allow"
  profiles   = ["plain", "short-default", "capped"]
  principals = ["*"]
}

rule "a-short" {
  effect       = "allow"
  profiles     = ["ruled"]
  principals   = ["*"]
  max_duration = "20m"
}

rule "b-long" {
  effect       = "allow"
  profiles     = ["ruled"]
  principals   = ["arn:aws:iam::111122223333:role/engineer-*"]
  max_duration = "40m"
}

rule "c-unlimited" {
  effect     = "allow"
  profiles   = ["ruled"]
  principals = ["arn:aws:iam::111122223333:role/sre-*"]
}

rule "d-also-40m" {
  effect       = "allow"
  profiles     = ["ruled"]
  principals   = ["arn:aws:iam::111122223333:role/engineer-*"]
  max_duration = "40m"
}
`)
	evRun(t, p, []evCase{
		{name: "settings default", profile: "plain", want: Allow, wantRule: "everyone", wantVia: ViaPolicy, wantDur: 20 * time.Minute},
		{name: "profile default", profile: "short-default", want: Allow, wantRule: "everyone", wantVia: ViaPolicy, wantDur: 16 * time.Minute},
		{name: "requested", profile: "short-default", dur: 30 * time.Minute, want: Allow, wantRule: "everyone", wantVia: ViaPolicy, wantDur: 30 * time.Minute},
		{name: "requested exactly the cap", profile: "plain", dur: 45 * time.Minute, want: Allow, wantRule: "everyone", wantVia: ViaPolicy, wantDur: 45 * time.Minute},
		{name: "settings max caps", profile: "plain", dur: 2 * time.Hour, want: Allow, wantRule: "everyone", wantVia: ViaPolicy, wantDur: 45 * time.Minute, wantCapped: true},
		{name: "profile max caps", profile: "capped", dur: 30 * time.Minute, want: Allow, wantRule: "everyone", wantVia: ViaPolicy, wantDur: 25 * time.Minute, wantCapped: true},
		{name: "rule max caps", caller: evAnalyst, profile: "ruled", dur: 30 * time.Minute, want: Allow, wantRule: "a-short", wantVia: ViaPolicy, wantDur: 20 * time.Minute, wantCapped: true},
		{name: "longest cap decides", profile: "ruled", dur: 30 * time.Minute, want: Allow, wantRule: "b-long", wantVia: ViaPolicy, wantDur: 30 * time.Minute},
		{name: "longest cap still caps", profile: "ruled", dur: 50 * time.Minute, want: Allow, wantRule: "b-long", wantVia: ViaPolicy, wantDur: 40 * time.Minute, wantCapped: true},
		{name: "no max_duration is the longest", caller: evSRE, profile: "ruled", dur: 50 * time.Minute, want: Allow, wantRule: "c-unlimited", wantVia: ViaPolicy, wantDur: 45 * time.Minute, wantCapped: true},
		{name: "the default is capped too", caller: evAnalyst, profile: "ruled", want: Allow, wantRule: "a-short", wantVia: ViaPolicy, wantDur: 20 * time.Minute},
	})
	d := p.Evaluate(&Request{Principal: evMustPrincipal(t, p, evEngineer), Profile: "plain", Time: evMonday, Duration: 2 * time.Hour})
	if d.Requested != 2*time.Hour {
		t.Errorf("Requested = %s, want the 2h asked for", d.Requested)
	}
}

// A condition that errors matches deny rules and no others; so do source_ips
// without a source IP and schedules without a time. The other checks of the
// rule still apply.
func TestEvaluateFailClosed(t *testing.T) {
	p := evPolicy(t, `
profile "app" {
  role_arn = "arn:aws:iam::111122223333:role/app"
}

profile "numeric" {
  role_arn = "arn:aws:iam::111122223333:role/numeric"
}

profile "office" {
  role_arn = "arn:aws:iam::111122223333:role/office"
}

profile "approve" {
  role_arn = "arn:aws:iam::111122223333:role/approve"
}

rule "allow-all" {
  effect     = "allow"
  profiles   = ["app", "approve"]
  principals = ["*"]
}

rule "deny-bad-regex" {
  effect     = "deny"
  profiles   = ["app"]
  principals = ["arn:aws:iam::111122223333:role/engineer-*"]
  condition  = regex(principal.session_name, "fixed") != "fixed"
}

rule "deny-non-numeric" {
  effect     = "deny"
  profiles   = ["app"]
  principals = ["arn:aws:iam::111122223333:role/analyst"]
  condition  = tonumber(principal.session_name) > 100
}

rule "allow-numeric" {
  effect     = "allow"
  profiles   = ["numeric"]
  principals = ["*"]
  condition  = tonumber(principal.session_name) < 100
}

rule "deny-blocked-network" {
  effect     = "deny"
  profiles   = ["office"]
  principals = ["arn:aws:iam::111122223333:role/engineer-*"]
  source_ips = ["203.0.113.0/24"]
}

rule "deny-outside-office-sre" {
  effect     = "deny"
  profiles   = ["office"]
  principals = ["arn:aws:iam::111122223333:role/sre-*"]
  source_ips = ["203.0.113.0/24"]
  condition  = principal.session_name == "nobody"
}

rule "deny-weekend" {
  effect     = "deny"
  profiles   = ["office"]
  principals = ["arn:aws:iam::111122223333:role/analyst"]
  schedule {
    days = ["sat", "sun"]
  }
}

rule "deny-weekend-sre" {
  effect     = "deny"
  profiles   = ["office"]
  principals = ["arn:aws:iam::111122223333:role/sre-*"]
  condition  = principal.session_name == "nobody"
  schedule {
    days = ["sat", "sun"]
  }
}

rule "office-network" {
  effect     = "allow"
  profiles   = ["office"]
  principals = ["*"]
  source_ips = ["10.0.0.0/8", "2001:db8::/32"]
}

rule "office-hours" {
  effect     = "allow"
  profiles   = ["office"]
  principals = ["arn:aws:iam::111122223333:role/analyst", "arn:aws:iam::111122223333:role/auditor"]
  schedule {
    hours = "08:00-18:00"
  }
}

rule "approve-odd" {
  effect     = "require_approval"
  profiles   = ["approve"]
  principals = ["*"]
  approvers  = ["arn:aws:iam::111122223333:role/security-*"]
  condition  = tonumber(principal.session_name) > 100
}
`)
	analyst := func(session string) string {
		return "arn:aws:sts::111122223333:assumed-role/analyst/" + session
	}
	engineer := func(session string) string {
		return "arn:aws:sts::111122223333:assumed-role/engineer-dev/" + session
	}
	evRun(t, p, []evCase{
		{name: "invalid regex matches deny", caller: engineer("a("), profile: "app", want: Deny, wantRule: "deny-bad-regex"},
		{name: "regex without a match matches deny", caller: engineer("zzz"), profile: "app", want: Deny, wantRule: "deny-bad-regex"},
		{name: "regex false does not deny", caller: engineer("fixed"), profile: "app", want: Allow, wantRule: "allow-all", wantVia: ViaPolicy, wantDur: 15 * time.Minute},
		{name: "tonumber error matches deny", caller: analyst("dave"), profile: "app", want: Deny, wantRule: "deny-non-numeric"},
		{name: "tonumber false does not deny", caller: analyst("42"), profile: "app", want: Allow, wantRule: "allow-all", wantVia: ViaPolicy, wantDur: 15 * time.Minute},
		{name: "tonumber true denies", caller: analyst("420"), profile: "app", want: Deny, wantRule: "deny-non-numeric"},
		{name: "tonumber error does not allow", caller: analyst("dave"), profile: "numeric", want: Deny, wantRule: DefaultDeny},
		{name: "tonumber true allows", caller: analyst("42"), profile: "numeric", want: Allow, wantRule: "allow-numeric", wantVia: ViaPolicy, wantDur: 15 * time.Minute},
		{name: "tonumber error requires approval", caller: analyst("dave"), profile: "approve", want: RequireApproval, wantRule: "approve-odd"},
		{name: "tonumber true requires approval", caller: analyst("420"), profile: "approve", want: RequireApproval, wantRule: "approve-odd"},

		{name: "no source ip matches deny source_ips", profile: "office", want: Deny, wantRule: "deny-blocked-network"},
		{name: "source ip in deny range", profile: "office", ip: "203.0.113.9", want: Deny, wantRule: "deny-blocked-network"},
		{name: "source ip outside deny range", profile: "office", ip: "10.1.2.3", want: Allow, wantRule: "office-network", wantVia: ViaPolicy, wantDur: 15 * time.Minute},
		{name: "ipv4-mapped ipv6 compared as ipv4", profile: "office", ip: "::ffff:10.1.2.3", want: Allow, wantRule: "office-network", wantVia: ViaPolicy, wantDur: 15 * time.Minute},
		{name: "ipv6 in allow range", caller: evSRE, profile: "office", ip: "2001:db8::1", want: Allow, wantRule: "office-network", wantVia: ViaPolicy, wantDur: 15 * time.Minute},
		{name: "no source ip does not match allow source_ips", caller: evSRE, profile: "office", want: Deny, wantRule: DefaultDeny},
		{name: "no source ip, deny's other checks still apply", caller: evSRE, profile: "office", time: evAt("2026-03-07T12:00:00Z"),
			want: Deny, wantRule: DefaultDeny},
		{name: "weekday is not the weekend", caller: analyst("dave"), profile: "office", ip: "192.0.2.1",
			want: Allow, wantRule: "office-hours", wantVia: ViaPolicy, wantDur: 15 * time.Minute},
		{name: "weekend denies", caller: analyst("dave"), profile: "office", ip: "10.1.2.3", time: evAt("2026-03-07T12:00:00Z"),
			want: Deny, wantRule: "deny-weekend"},
	})
	// Requests without a time: evCase fills one in, so build them here.
	for _, tt := range []struct {
		name, caller, ip string
		want             Effect
		wantRule         string
	}{
		{"no time matches a deny schedule", analyst("dave"), "10.1.2.3", Deny, "deny-weekend"},
		{"no time does not match an allow schedule", "arn:aws:sts::111122223333:assumed-role/auditor/x", "192.0.2.1", Deny, DefaultDeny},
		{"with a time the allow schedule matches", "arn:aws:sts::111122223333:assumed-role/auditor/x", "", Allow, "office-hours"},
		{"no time, the deny's condition still applies", evSRE, "192.0.2.1", Deny, DefaultDeny},
		{"no time, rules without schedule unaffected", evSRE, "10.1.2.3", Allow, "office-network"},
	} {
		req := &Request{Principal: evMustPrincipal(t, p, tt.caller), Profile: "office"}
		if tt.ip == "" { // the control: the same request with a time
			req.SourceIP, req.Time = netip.MustParseAddr("192.0.2.1"), evMonday
		} else {
			req.SourceIP = netip.MustParseAddr(tt.ip)
		}
		if d := p.Evaluate(req); d.Effect != tt.want || d.Rule != tt.wantRule {
			t.Errorf("%s: got %s by %q, want %s by %q", tt.name, d.Effect, d.Rule, tt.want, tt.wantRule)
		}
	}
}

func TestEvaluateConditions(t *testing.T) {
	p := evPolicy(t, `
settings {
  trusted_session_roles = ["arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
}

profile "app" {
  role_arn         = "arn:aws:iam::111122223333:role/app"
  default_duration = "20m"
}

rule "short-sessions" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["*"]
  condition  = request.duration_seconds <= 1800 && request.profile == "app" && startswith(request.time, "2026-03-02T")
}

rule "trusted-user-var" {
  effect     = "deny"
  profiles   = ["app"]
  principals = ["*"]
  condition  = principal.user == "mallory@evil.test" || request.source_ip == "198.51.100.7" || principal.org_id == "o-badbadbad0"
}
`)
	evRun(t, p, []evCase{
		{name: "default duration feeds duration_seconds", profile: "app", want: Allow, wantRule: "short-sessions", wantVia: ViaPolicy, wantDur: 20 * time.Minute},
		{name: "requested duration within condition", profile: "app", dur: 30 * time.Minute, want: Allow, wantRule: "short-sessions", wantVia: ViaPolicy, wantDur: 30 * time.Minute},
		{name: "requested duration above condition", profile: "app", dur: 31 * time.Minute, want: Deny, wantRule: DefaultDeny},
		{name: "request.time is UTC", profile: "app", time: evAt("2026-03-03T00:30:00+02:00"), want: Allow, wantRule: "short-sessions", wantVia: ViaPolicy, wantDur: 20 * time.Minute},
		{name: "another day", profile: "app", time: evAt("2026-03-03T00:30:00Z"), want: Deny, wantRule: DefaultDeny},
		{name: "principal.user of a trusted role", caller: evSSOMallory, profile: "app", want: Deny, wantRule: "trusted-user-var"},
		{name: "principal.user of an untrusted role is empty",
			caller: "arn:aws:sts::111122223333:assumed-role/engineer-dev/mallory@evil.test", profile: "app",
			want: Allow, wantRule: "short-sessions", wantVia: ViaPolicy, wantDur: 20 * time.Minute},
		{name: "request.source_ip", profile: "app", ip: "::ffff:198.51.100.7", want: Deny, wantRule: "trusted-user-var"},
		{name: "principal.org_id", profile: "app", orgID: "o-badbadbad0", want: Deny, wantRule: "trusted-user-var"},
	})
}

func TestEvaluateIdentityChecks(t *testing.T) {
	p := evPolicy(t, `
settings {
  trusted_session_roles = ["arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
}

profile "users" {
  role_arn = "arn:aws:iam::111122223333:role/users"
}

profile "accounts" {
  role_arn = "arn:aws:iam::111122223333:role/accounts"
}

profile "orgs" {
  role_arn = "arn:aws:iam::111122223333:role/orgs"
}

rule "example-users" {
  effect     = "allow"
  profiles   = ["users"]
  principals = ["*"]
  users      = ["*@example.com"]
}

rule "home-account" {
  effect     = "allow"
  profiles   = ["accounts"]
  principals = ["arn:aws:iam::*:role/engineer-*"]
  accounts   = ["111122223333"]
}

rule "our-org" {
  effect     = "allow"
  profiles   = ["orgs"]
  principals = ["*"]
  org_ids    = ["o-a1b2c3d4e5"]
}
`)
	evRun(t, p, []evCase{
		{name: "trusted sso user matches users", caller: evSSOAlice, profile: "users", want: Allow, wantRule: "example-users", wantVia: ViaPolicy, wantDur: 15 * time.Minute},
		{name: "trusted sso user outside users", caller: evSSOMallory, profile: "users", want: Deny, wantRule: DefaultDeny},
		{name: "untrusted role session name is no user", profile: "users",
			caller: "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice@example.com", want: Deny, wantRule: DefaultDeny},
		{name: "iam user name is no user", caller: evIAMUser, profile: "users", want: Deny, wantRule: DefaultDeny},
		{name: "federated user is no user", caller: "arn:aws:sts::111122223333:federated-user/alice@example.com", profile: "users", want: Deny, wantRule: DefaultDeny},
		{name: "account matches", profile: "accounts", want: Allow, wantRule: "home-account", wantVia: ViaPolicy, wantDur: 15 * time.Minute},
		{name: "other account", caller: evOtherAcct, profile: "accounts", want: Deny, wantRule: DefaultDeny},
		{name: "org matches", profile: "orgs", orgID: "o-a1b2c3d4e5", want: Allow, wantRule: "our-org", wantVia: ViaPolicy, wantDur: 15 * time.Minute},
		{name: "other org", profile: "orgs", orgID: "o-zzzzzzzzzz", want: Deny, wantRule: DefaultDeny},
		{name: "no org", profile: "orgs", want: Deny, wantRule: DefaultDeny},
	})
}

func TestEvaluateSchedules(t *testing.T) {
	p := evPolicy(t, `
profile "office" {
  role_arn = "arn:aws:iam::111122223333:role/office"
}

profile "night" {
  role_arn = "arn:aws:iam::111122223333:role/night"
}

profile "dst" {
  role_arn = "arn:aws:iam::111122223333:role/dst"
}

profile "berlin-night" {
  role_arn = "arn:aws:iam::111122223333:role/berlin-night"
}

rule "office-hours" {
  effect     = "allow"
  profiles   = ["office"]
  principals = ["*"]
  schedule {
    days     = ["mon", "tue", "wed", "thu", "fri"]
    hours    = "08:00-18:00"
    timezone = "Europe/Berlin"
  }
}

rule "friday-night" {
  effect     = "allow"
  profiles   = ["night"]
  principals = ["*"]
  schedule {
    days  = ["fri"]
    hours = "22:00-06:00"
  }
}

rule "two-to-three" {
  effect     = "allow"
  profiles   = ["dst"]
  principals = ["*"]
  schedule {
    hours    = "02:00-03:00"
    timezone = "Europe/Berlin"
  }
}

rule "saturday-night-berlin" {
  effect     = "allow"
  profiles   = ["berlin-night"]
  principals = ["*"]
  schedule {
    days     = ["sat"]
    hours    = "23:00-04:00"
    timezone = "Europe/Berlin"
  }
}
`)
	allow := func(name, profile, at, rule string) evCase {
		return evCase{name: name, profile: profile, time: evAt(at), want: Allow, wantRule: rule, wantVia: ViaPolicy, wantDur: 15 * time.Minute}
	}
	deny := func(name, profile, at string) evCase {
		return evCase{name: name, profile: profile, time: evAt(at), want: Deny, wantRule: DefaultDeny}
	}
	evRun(t, p, []evCase{
		// CET is UTC+1 in winter, CEST UTC+2 in summer.
		allow("winter start inclusive", "office", "2026-03-02T07:00:00Z", "office-hours"),
		deny("winter before start", "office", "2026-03-02T06:59:59Z"),
		allow("winter last minute", "office", "2026-03-02T16:59:59Z", "office-hours"),
		deny("winter end exclusive", "office", "2026-03-02T17:00:00Z"),
		allow("offset given in the request", "office", "2026-03-02T08:30:00+01:00", "office-hours"),
		deny("saturday", "office", "2026-03-07T10:00:00Z"),
		deny("sunday", "office", "2026-03-08T10:00:00Z"),
		allow("monday in berlin, sunday in utc", "office", "2026-03-08T23:30:00-10:00", "office-hours"), // 2026-03-09T09:30Z
		allow("summer start", "office", "2026-07-06T06:00:00Z", "office-hours"),
		deny("summer 16:30 utc is 18:30 in berlin", "office", "2026-07-06T16:30:00Z"),
		allow("winter 16:30 utc is 17:30 in berlin", "office", "2026-03-02T16:30:00Z", "office-hours"),
		deny("friday before the window", "night", "2026-03-06T21:59:00Z"),
		allow("friday night", "night", "2026-03-06T22:00:00Z", "friday-night"),
		allow("after midnight belongs to friday", "night", "2026-03-07T05:59:59Z", "friday-night"),
		deny("saturday end exclusive", "night", "2026-03-07T06:00:00Z"),
		deny("saturday night", "night", "2026-03-07T22:00:00Z"),
		deny("friday early morning belongs to thursday", "night", "2026-03-06T03:00:00Z"),
		// 2026-03-29: Berlin skips 02:00-03:00 (01:00Z jumps from CET to CEST).
		deny("spring forward before", "dst", "2026-03-29T00:59:59Z"),
		deny("spring forward: the hour does not exist", "dst", "2026-03-29T01:00:00Z"),
		allow("day before spring forward", "dst", "2026-03-28T01:30:00Z", "two-to-three"),
		// 2026-10-25: Berlin lives 02:00-03:00 twice (01:00Z back from CEST to CET).
		allow("fall back first pass", "dst", "2026-10-25T00:30:00Z", "two-to-three"),
		allow("fall back second pass", "dst", "2026-10-25T01:30:00Z", "two-to-three"),
		deny("fall back after", "dst", "2026-10-25T02:00:00Z"),
		// Saturday 23:00 Berlin to Sunday 04:00 Berlin across the spring change.
		allow("saturday 23:30 cet", "berlin-night", "2026-03-28T22:30:00Z", "saturday-night-berlin"),
		allow("sunday 03:30 cest belongs to saturday", "berlin-night", "2026-03-29T01:30:00Z", "saturday-night-berlin"),
		deny("sunday 04:00 cest", "berlin-night", "2026-03-29T02:00:00Z"),
		deny("sunday 23:30", "berlin-night", "2026-03-29T21:30:00Z"),
	})
}

func TestEvaluateGlobs(t *testing.T) {
	p := evPolicy(t, `
profile "team-a.prod" {
  role_arn = "arn:aws:iam::111122223333:role/a"
}

profile "team-b.dev" {
  role_arn = "arn:aws:iam::111122223333:role/b"
}

rule "any-account-engineer-x" {
  effect     = "allow"
  profiles   = ["team-?.prod"]
  principals = ["arn:aws:iam::*:role/engineer-???"]
}

rule "star-crosses" {
  effect     = "allow"
  profiles   = ["team-*"]
  principals = ["arn:*/ops-*"]
}
`)
	evRun(t, p, []evCase{
		{name: "? and * over account", profile: "team-a.prod", want: Allow, wantRule: "any-account-engineer-x", wantVia: ViaPolicy, wantDur: 15 * time.Minute},
		{name: "other account", caller: evOtherAcct, profile: "team-a.prod", want: Allow, wantRule: "any-account-engineer-x", wantVia: ViaPolicy, wantDur: 15 * time.Minute},
		{name: "? counts characters", caller: "arn:aws:sts::111122223333:assumed-role/engineer-prod/x", profile: "team-a.prod", want: Deny, wantRule: DefaultDeny},
		{name: "profile ? does not match two", profile: "team-ab.prod", want: Deny, wantRule: DefaultDeny, wantReason: ReasonNoProfile},
		{name: "star crosses : and /", caller: "arn:aws:iam::111122223333:user/x/ops-joe", profile: "team-b.dev", want: Allow, wantRule: "star-crosses", wantVia: ViaPolicy, wantDur: 15 * time.Minute},
		{name: "case-sensitive", caller: "arn:aws:iam::111122223333:user/x/OPS-joe", profile: "team-b.dev", want: Deny, wantRule: DefaultDeny},
		{name: "anchored", caller: "arn:aws:sts::111122223333:assumed-role/engineer-dev2/x", profile: "team-a.prod", want: Deny, wantRule: DefaultDeny},
	})
}

func TestMatchGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "arn:aws:iam::1:role/a/b", true},
		{"arn:*:role/x", "arn:aws:iam::111122223333:role/x", true},
		{"a*b", "a/:/b", true},
		{"a*b", "a/:/bc", false},
		{"a*b*c", "abbbc", true},
		{"a*b*c", "acb", false},
		{"?", "a", true},
		{"?", "", false},
		{"?", "ab", false},
		{"?", "é", true},
		{"?", "€", true},
		{"?", "😀", true},
		{"??", "é", false},
		{"a?c", "a/c", true},
		{"a?c", "a:c", true},
		{"é?", "éé", true},
		{"*é", "aé", true},
		{"Role", "role", false},
		{"role", "ROLE", false},
		{"abc", "abcd", false},
		{"abc", "xabc", false},
		{"bc", "abc", false},
		{"ab", "abc", false},
		{"*a", "bab", false},
		{"*?", "", false},
		{"**", "", true},
		{"*?*", "x", true},
		{"a*", "\xc3a", false},
		{"*a", "\xc3a", true},       // an invalid byte is one character, not the start of one
		{"?a", "\xc3a", true},       // likewise for ?
		{"??", "\xe2\x82", true},    // a truncated sequence is bytes
		{"?", "\xe2\x82\xac", true}, // "€"
	}
	for _, tt := range tests {
		if got := matchGlob(tt.pattern, tt.s); got != tt.want {
			t.Errorf("matchGlob(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
		g := newGlob(tt.pattern)
		if got := g.match(tt.s); got != tt.want {
			t.Errorf("newGlob(%q).match(%q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestGlobCovers(t *testing.T) {
	tests := []struct {
		outer, inner string
		want         bool
	}{
		{"*", "anything*?", true},
		{"a*", "ab*", true},
		{"ab*", "a*", false},
		{"a?c", "abc", true},
		{"a?c", "a?c", true},
		{"abc", "a?c", false},
		{"?", "*", false},
		{"*x", "*y", false},
		{"arn:aws:iam::*:role/*", "arn:aws:iam::111122223333:role/engineer-*", true},
		{"??", "é", false}, // é is one character
		{"?", "é", true},
		{"*??", "€", false},
		{"*?", "€", true},
	}
	for _, tt := range tests {
		if got := globCovers(tt.outer, tt.inner); got != tt.want {
			t.Errorf("globCovers(%q, %q) = %v, want %v", tt.outer, tt.inner, got, tt.want)
		}
	}
}

func TestParseCaller(t *testing.T) {
	tests := []struct {
		caller  string
		want    Principal
		wantErr bool
	}{
		{caller: "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice", want: Principal{
			ARN: "arn:aws:iam::111122223333:role/engineer-dev", Type: TypeAssumedRole,
			AccountID: "111122223333", Name: "engineer-dev", SessionName: "alice"}},
		{caller: "arn:aws-us-gov:sts::111122223333:assumed-role/r/s@x.com", want: Principal{
			ARN: "arn:aws-us-gov:iam::111122223333:role/r", Type: TypeAssumedRole,
			AccountID: "111122223333", Name: "r", SessionName: "s@x.com"}},
		{caller: "arn:aws:iam::111122223333:user/alice", want: Principal{
			ARN: "arn:aws:iam::111122223333:user/alice", Type: TypeUser, AccountID: "111122223333", Name: "alice"}},
		{caller: "arn:aws:iam::111122223333:user/division/team/alice", want: Principal{
			ARN: "arn:aws:iam::111122223333:user/division/team/alice", Type: TypeUser, AccountID: "111122223333", Name: "alice"}},
		{caller: "arn:aws:sts::111122223333:federated-user/bob", want: Principal{
			ARN: "arn:aws:sts::111122223333:federated-user/bob", Type: TypeFederatedUser, AccountID: "111122223333", Name: "bob"}},
		{caller: "arn:aws:iam::111122223333:root", want: Principal{
			ARN: "arn:aws:iam::111122223333:root", Type: TypeRoot, AccountID: "111122223333", Name: "root"}},
		{caller: "", wantErr: true},
		{caller: "alice", wantErr: true},
		{caller: "arn:aws:sts::111122223333", wantErr: true},
		{caller: "arn::sts::111122223333:assumed-role/r/s", wantErr: true},
		{caller: "arn:aws:sts:us-east-1:111122223333:assumed-role/r/s", wantErr: true},
		{caller: "arn:aws:sts::11112222333:assumed-role/r/s", wantErr: true},
		{caller: "arn:aws:sts::11112222333a:assumed-role/r/s", wantErr: true},
		{caller: "arn:aws:sts::111122223333:assumed-role/r", wantErr: true},
		{caller: "arn:aws:sts::111122223333:assumed-role//s", wantErr: true},
		{caller: "arn:aws:sts::111122223333:assumed-role/r/", wantErr: true},
		{caller: "arn:aws:sts::111122223333:assumed-role/r/s/t", wantErr: true},
		{caller: "arn:aws:iam::111122223333:role/engineer-dev", wantErr: true},
		{caller: "arn:aws:iam::111122223333:user/", wantErr: true},
		{caller: "arn:aws:iam::111122223333:user/path/", wantErr: true},
		{caller: "arn:aws:sts::111122223333:federated-user/", wantErr: true},
		{caller: "arn:aws:sts::111122223333:user/alice", wantErr: true},
		{caller: "arn:aws:iam::111122223333:assumed-role/r/s", wantErr: true},
		{caller: "arn:aws:sts::111122223333:root", wantErr: true},
		{caller: "arn:aws:s3:::bucket", wantErr: true},
		{caller: "ARN:aws:iam::111122223333:root", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.caller, func(t *testing.T) {
			got, err := ParseCaller(tt.caller)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseCaller = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.CallerARN = tt.caller
			if got != tt.want {
				t.Errorf("ParseCaller =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestPolicyPrincipal(t *testing.T) {
	p := evPolicy(t, `
settings {
  trusted_session_roles = ["arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
  operators             = ["arn:aws:iam::111122223333:role/security-*"]
}

profile "app" {
  role_arn = "arn:aws:iam::111122223333:role/app"
}
`)
	tests := []struct {
		caller, wantUser string
		operator         bool
	}{
		{caller: evSSOAlice, wantUser: "alice@example.com"},
		{caller: evEngineer},
		{caller: evIAMUser},
		{caller: "arn:aws:sts::111122223333:federated-user/alice@example.com"},
		{caller: "arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_Dev_0123abcd/alice@example.com"},
		{caller: evSecurity, operator: true},
	}
	for _, tt := range tests {
		pr, err := p.Principal(tt.caller, "AROAEXAMPLE:x", "o-a1b2c3d4e5")
		if err != nil {
			t.Fatalf("Principal(%q): %v", tt.caller, err)
		}
		if pr.User != tt.wantUser {
			t.Errorf("Principal(%q).User = %q, want %q", tt.caller, pr.User, tt.wantUser)
		}
		if pr.UserID != "AROAEXAMPLE:x" || pr.OrgID != "o-a1b2c3d4e5" {
			t.Errorf("Principal(%q) lost the context values: %+v", tt.caller, pr)
		}
		if got := p.IsOperator(pr); got != tt.operator {
			t.Errorf("IsOperator(%q) = %v, want %v", tt.caller, got, tt.operator)
		}
	}
	if _, err := p.Principal("not-an-arn", "", ""); err == nil {
		t.Errorf("Principal accepted a malformed ARN")
	}
}

func TestCanApprove(t *testing.T) {
	p := evPolicy(t, `
settings {
  trusted_session_roles = ["arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
}

profile "prod" {
  role_arn = "arn:aws:iam::111122223333:role/prod"
}

rule "by-role" {
  effect     = "require_approval"
  profiles   = ["prod"]
  principals = ["*"]
  approvers  = ["arn:aws:iam::111122223333:role/engineer-*", "arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
}

rule "by-user" {
  effect         = "require_approval"
  profiles       = ["prod"]
  principals     = ["*"]
  approvers      = ["arn:aws:iam::111122223333:role/AWSReservedSSO_*", "arn:aws:iam::111122223333:role/engineer-*"]
  approver_users = ["*@example.com"]
}

rule "plain-allow" {
  effect     = "allow"
  profiles   = ["prod"]
  principals = ["*"]
}
`)
	pr := func(caller string) Principal { return evMustPrincipal(t, p, caller) }
	tests := []struct {
		name                string
		rule                string
		requester, approver string
		want                bool
	}{
		{"approver of another role", "by-role", evAnalyst, evEngineer, true},
		{"no self-approval", "by-role", evEngineer, evEngineer, false},
		{"two sessions of one untrusted role are one person", "by-role", evEngineer, evEngineer2, false},
		{"two trusted users of one sso role are two people", "by-role", evSSOAlice, evSSOBob, true},
		{"a trusted user cannot approve herself", "by-role", evSSOAlice, evSSOAlice, false},
		{"approver not in approvers", "by-role", evEngineer, evAnalyst, false},
		{"approver_users match", "by-user", evSSOAlice, evSSOBob, true},
		{"approver_users do not match", "by-user", evSSOAlice, evSSOMallory, false},
		{"approver_users need a trusted user", "by-user", evAnalyst,
			"arn:aws:sts::111122223333:assumed-role/engineer-dev/bob@example.com", false},
		{"not a require_approval rule", "plain-allow", evAnalyst, evEngineer, false},
		{"unknown rule", "nope", evAnalyst, evEngineer, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.CanApprove(tt.rule, pr(tt.requester), pr(tt.approver)); got != tt.want {
				t.Errorf("CanApprove(%q, %s, %s) = %v, want %v", tt.rule, tt.requester, tt.approver, got, tt.want)
			}
		})
	}
}

// Evaluate must decide the same whatever the order of the rules in the
// sources, and its allow path must not allocate.
func TestEvaluateAllowDoesNotAllocate(t *testing.T) {
	p := evPolicy(t, evPrecedenceHCL)
	req := &Request{Principal: evMustPrincipal(t, p, evEngineer), Profile: "dev", Time: evMonday}
	allocs := testing.AllocsPerRun(100, func() {
		if d := p.Evaluate(req); d.Effect != Allow {
			t.Fatalf("got %s", d.Effect)
		}
	})
	if allocs > 2 {
		t.Errorf("allow path: %v allocations, want at most 2", allocs)
	}
}
