package policy

import (
	"bytes"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Run a target with e.g.
//
//	go test -run '^$' -fuzz '^FuzzEvaluate$' -fuzztime 60s -fuzzminimizetime 200x ./internal/policy/
//
// -fuzzminimizetime matters for FuzzCompile: by default each new
// interesting input (policies of a few KB) is minimized for up to a minute,
// during which the engine reports 0 execs/sec and looks hung.
//
// Without -fuzz, `go test` runs each target on its seed corpus (the f.Add
// calls and testdata/fuzz/<target>/), so the seeds are ordinary tests.

// FuzzCompile: whatever the source, Compile does not panic; when it
// succeeds, the bundle loads and compiling again gives the same bytes.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		evPrecedenceHCL,
		scopeHCL,
		fuzzEvalHCL,
		``,
		`profile "a" { role_arn = "arn:aws:iam::111122223333:role/a" }`,
		`profile "a" { role_arn = "arn:aws:iam::111122223333:role/a" }
rule "r" {
  effect = "allow"
  profiles = ["a"]
  principals = ["*"]
  condition = tonumber(principal.session_name) > 1
  schedule {
    days = ["sat"]
    hours = "23:00-01:00"
    timezone = "Asia/Kolkata"
  }
}`,
		`settings { max_duration = "10m" }
profile "a" {
  role_arn = "arn:aws:iam::111122223333:role/a"
  session_tags = { "k" = "${principal.name}-${request.profile}" }
}`,
		`rule "x" { effect = "deny" profiles = ["*"] principals = ["*"] condition = var.x }`,
		`profile "a" { role_arn = "arn:aws:iam::111122223333:role/a" session_policy = { Version = "2012-10-17" Statement = [] } }`,
		`profile "a" {`,
		"profile \"\xff\" { role_arn = \"\" }",
		`break_glass "b" { profiles = ["a*"] principals = ["arn:*"] reason_codes = ["x"] max_duration = "2h" }`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		srcs := []Source{{Name: "fuzz.hcl", Data: data}}
		c, diags := Compile(srcs)
		if diags.HasErrors() {
			if c != nil {
				t.Fatalf("errors and a result")
			}
			return
		}
		if c == nil {
			t.Fatalf("no errors and no result")
		}
		if _, err := Load(c.Bundle); err != nil {
			t.Fatalf("the compiled bundle does not load: %v\n%s", err, c.Bundle)
		}
		again, diags := Compile(srcs)
		if diags.HasErrors() {
			t.Fatalf("second compile failed: %v", diags)
		}
		if !bytes.Equal(c.Bundle, again.Bundle) || c.SHA256 != again.SHA256 {
			t.Fatalf("compiling twice gives different bundles:\n%s\n%s", c.Bundle, again.Bundle)
		}
	})
}

// fuzzEvalHCL has a bit of everything Evaluate looks at.
const fuzzEvalHCL = `
settings {
  default_duration      = "20m"
  max_duration          = "50m"
  trusted_session_roles = ["arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
}

profile "dev" {
  role_arn = "arn:aws:iam::111122223333:role/dev"
  session_tags = {
    who = principal.name
  }
}

profile "prod" {
  role_arn         = "arn:aws:iam::111122223333:role/prod"
  default_duration = "30m"
  max_duration     = "40m"
  session_policy = {
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:GetObject", Resource = "arn:aws:s3:::b/${principal.user}/*" }]
  }
}

profile "lab" {
  role_arn     = "arn:aws:iam::111122223333:role/lab"
  max_duration = "15m"
}

rule "engineers" {
  effect       = "allow"
  profiles     = ["*"]
  principals   = ["arn:aws:iam::*:role/engineer-*"]
  source_ips   = ["10.0.0.0/8", "2001:db8::/32"]
  max_duration = "25m"
  schedule {
    days     = ["mon", "tue", "wed", "thu", "fri"]
    hours    = "07:00-19:00"
    timezone = "Europe/Berlin"
  }
}

rule "night-shift" {
  effect     = "allow"
  profiles   = ["dev", "lab"]
  principals = ["arn:aws:iam::111122223333:role/*"]
  condition  = tonumber(principal.session_name) > 10 || request.duration_seconds < 1000
  schedule {
    hours    = "22:00-06:00"
    timezone = "America/New_York"
  }
}

rule "sso-users" {
  effect     = "allow"
  profiles   = ["dev"]
  principals = ["*"]
  users      = ["*@example.com"]
  accounts   = ["111122223333"]
}

rule "prod-approval" {
  effect       = "require_approval"
  profiles     = ["prod"]
  principals   = ["arn:aws:iam::111122223333:role/engineer-*"]
  approvers    = ["arn:aws:iam::111122223333:role/security-*"]
  max_duration = "35m"
}

rule "block" {
  effect     = "deny"
  profiles   = ["prod", "lab"]
  principals = ["*"]
  source_ips = ["203.0.113.0/24"]
  condition  = regex(principal.session_name, "x") == "x"
}

rule "org-only" {
  effect     = "deny"
  profiles   = ["lab"]
  principals = ["*"]
  condition  = principal.org_id != "o-a1b2c3d4e5"
}

break_glass "emergency" {
  profiles     = ["prod", "lab"]
  principals   = ["arn:aws:iam::111122223333:role/sre-*"]
  max_duration = "45m"
  reason_codes = ["incident"]
}
`

// FuzzEvaluate: whatever the request, Evaluate does not panic, names a rule
// and a reason, and an allow grants 0 < duration <= 1h.
func FuzzEvaluate(f *testing.F) {
	p := evPolicy(f, fuzzEvalHCL)
	monday := evMonday.Unix()
	for _, s := range []struct {
		caller, profile, ip, orgID       string
		unix, durSec, approvalSec, bgSec int64
	}{
		{evEngineer, "dev", "10.1.2.3", "", monday, 0, 0, 0},
		{evEngineer, "prod", "10.1.2.3", "", monday, 3600, 0, 0},
		{evEngineer, "prod", "10.1.2.3", "", monday, 3600, 600, 0},
		{evEngineer, "prod", "10.1.2.3", "", monday, 3600, -1, 0},
		{evSRE, "prod", "", "", monday, 0, 0, 1800},
		{evSRE, "lab", "203.0.113.5", "o-a1b2c3d4e5", monday, 7200, 0, 3600},
		{"arn:aws:sts::111122223333:assumed-role/sre-1/x", "lab", "203.0.113.5", "o-a1b2c3d4e5", monday, 0, 0, 3600},
		{"arn:aws:sts::111122223333:assumed-role/ops/42", "dev", "", "", evAt("2026-03-06T04:00:00Z").Unix(), 0, 0, 0},
		{"arn:aws:sts::111122223333:assumed-role/ops/(", "lab", "", "", evAt("2026-11-01T05:30:00Z").Unix(), 999, 0, 0},
		{evSSOAlice, "dev", "", "", monday, -5, 0, 0},
		{evIAMUser, "nope", "::ffff:10.0.0.1", "", 0, 0, 0, 0},
		{"not an arn", "dev", "garbage", "", -1 << 40, 1 << 40, 1 << 40, -1 << 40},
		{"", "", "", "", 0, 0, 0, 0},
	} {
		f.Add(s.caller, s.profile, s.ip, s.orgID, s.unix, s.durSec, s.approvalSec, s.bgSec)
	}
	f.Fuzz(func(t *testing.T, caller, profile, ip, orgID string, unix, durSec, approvalSec, bgSec int64) {
		pr, err := p.Principal(caller, "AROAEXAMPLE:x", orgID)
		if err != nil {
			pr = Principal{ARN: caller, CallerARN: caller, OrgID: orgID} // Evaluate must not care
		}
		req := &Request{Principal: pr, Profile: profile, Duration: time.Duration(durSec) * time.Second}
		if unix != 0 {
			req.Time = time.Unix(unix%(1<<36), 0) // within a few thousand years
		}
		req.SourceIP, _ = netip.ParseAddr(ip)
		if approvalSec != 0 {
			req.Approval = &Grant{Expires: req.Time.Add(time.Duration(approvalSec%(1<<30)) * time.Second)}
		}
		if bgSec != 0 {
			req.BreakGlass = &Grant{Expires: req.Time.Add(time.Duration(bgSec%(1<<30)) * time.Second)}
		}
		d := p.Evaluate(req)
		if d.Rule == "" || d.Reason == "" {
			t.Fatalf("decision without rule or reason: %+v", d)
		}
		switch d.Effect {
		case Allow:
			if d.Duration <= 0 || d.Duration > MaxSessionDuration {
				t.Fatalf("allow with duration %s: %+v", d.Duration, d)
			}
			if d.Duration > d.Requested || d.Capped != (d.Duration < d.Requested) {
				t.Fatalf("inconsistent duration: %+v", d)
			}
			if d.Via != ViaPolicy && d.Via != ViaApproval && d.Via != ViaBreakGlass {
				t.Fatalf("allow via %q", d.Via)
			}
			_, _ = p.Render(d, req) // may refuse (unsafe values, STS limits), must not panic
		case Deny, RequireApproval:
			if d.Duration != 0 {
				t.Fatalf("%s with a duration: %+v", d.Effect, d)
			}
		default:
			t.Fatalf("effect %q", d.Effect)
		}
	})
}

// globRegexp is the reference semantics of a glob: '*' any run of
// characters, '?' one character, anything else itself, anchored.
func globRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String())
}

// FuzzGlob: matchGlob agrees with the regexp reference, and globCovers(a,
// b) is never wrong when it says yes: strings made from b match a.
func FuzzGlob(f *testing.F) {
	for _, s := range [][4]string{
		{"arn:aws:iam::*:role/engineer-*", "arn:aws:iam::111122223333:role/engineer-dev", "arn:aws:iam::*:role/*", "x"},
		{"a?c", "abc", "a*", "é"},
		{"*", "", "*", ""},
		{"??", "é", "?", "é"},
		{"*??", "€", "€", "ab"},
		{"*a", "\xc3a", "*a", "\xc3"},
		{"a*b*c", "aXbYc", "a*c", "/:"},
		{"Role", "role", "R*", "Z"},
		{"é?", "éé", "?é", "é"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, pattern, s, outer, fill string) {
		if len(pattern) > 64 || len(s) > 256 || len(outer) > 64 || len(fill) > 16 {
			return
		}
		if utf8.ValidString(pattern) && !strings.ContainsRune(pattern, utf8.RuneError) {
			if got, want := matchGlob(pattern, s), globRegexp(pattern).MatchString(s); got != want {
				t.Fatalf("matchGlob(%q, %q) = %v, the reference says %v", pattern, s, got, want)
			}
		}
		g := newGlob(pattern)
		if got, want := g.match(s), matchGlob(pattern, s); got != want {
			t.Fatalf("newGlob(%q).match(%q) = %v, matchGlob says %v", pattern, s, got, want)
		}
		// Patterns come from HCL strings, so they are valid UTF-8.
		if !utf8.ValidString(pattern) || !utf8.ValidString(outer) || !utf8.ValidString(fill) {
			return
		}
		if !globCovers(outer, pattern) {
			return
		}
		for _, sample := range globSamples(pattern, fill) {
			if !matchGlob(pattern, sample) {
				t.Fatalf("sample %q does not match its own pattern %q", sample, pattern)
			}
			if !matchGlob(outer, sample) {
				t.Fatalf("globCovers(%q, %q) but %q matches only the inner one", outer, pattern, sample)
			}
		}
	})
}

// globSamples returns strings that pattern matches: its wildcards replaced
// by a few fillings, fill among them.
func globSamples(pattern, fill string) []string {
	one := "x"
	if r, n := utf8.DecodeRuneInString(fill); n > 0 && r != '*' && r != '?' {
		one = string(r)
	}
	stars := []string{"", "x", "é/:", fill}
	qs := []string{"x", "€", one}
	var out []string
	for i := range 4 {
		var b strings.Builder
		k := 0
		for _, r := range pattern {
			switch r {
			case '*':
				b.WriteString(stars[(i+k)%len(stars)])
				k++
			case '?':
				b.WriteString(qs[(i+k)%len(qs)])
				k++
			default:
				b.WriteRune(r)
			}
		}
		out = append(out, b.String())
	}
	return out
}

// FuzzParseCaller: ParseCaller does not panic and what it returns is
// consistent with its input.
func FuzzParseCaller(f *testing.F) {
	for _, s := range []string{
		evEngineer, evSSOAlice, evIAMUser, evOtherAcct,
		"arn:aws:sts::111122223333:federated-user/bob",
		"arn:aws:iam::111122223333:root",
		"arn:aws-cn:iam::111122223333:user/a/b/c",
		"arn:aws:sts::111122223333:assumed-role/r/s/t",
		"arn:aws:iam::111122223333:role/r",
		"arn:aws:sts:::assumed-role/r/s",
		"arn:aws:sts::111122223333:assumed-role/",
		"arn::::::",
		"",
	} {
		f.Add(s)
	}
	types := map[string]bool{TypeAssumedRole: true, TypeUser: true, TypeFederatedUser: true, TypeRoot: true}
	f.Fuzz(func(t *testing.T, caller string) {
		p, err := ParseCaller(caller)
		if err != nil {
			if p != (Principal{}) {
				t.Fatalf("error %v with a principal %+v", err, p)
			}
			return
		}
		if !types[p.Type] || !isAccountID(p.AccountID) || p.Name == "" || p.CallerARN != caller || p.User != "" {
			t.Fatalf("ParseCaller(%q) = %+v", caller, p)
		}
		if !strings.HasPrefix(p.ARN, "arn:") || !strings.Contains(p.ARN, ":"+p.AccountID+":") {
			t.Fatalf("ParseCaller(%q): principal ARN %q", caller, p.ARN)
		}
		switch p.Type {
		case TypeAssumedRole:
			if p.SessionName == "" || strings.Contains(p.SessionName, "/") ||
				!strings.HasSuffix(p.ARN, ":iam::"+p.AccountID+":role/"+p.Name) {
				t.Fatalf("ParseCaller(%q) = %+v", caller, p)
			}
			if !strings.HasSuffix(caller, "assumed-role/"+p.Name+"/"+p.SessionName) {
				t.Fatalf("ParseCaller(%q) lost part of the ARN: %+v", caller, p)
			}
		default:
			if p.ARN != caller || p.SessionName != "" || !strings.HasSuffix(caller, p.Name) {
				t.Fatalf("ParseCaller(%q) = %+v", caller, p)
			}
			again, err := ParseCaller(p.ARN)
			if err != nil || again != p {
				t.Fatalf("re-parsing the principal ARN %q: %+v, %v", p.ARN, again, err)
			}
		}
	})
}
