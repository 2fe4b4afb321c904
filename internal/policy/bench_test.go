package policy

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// benchPolicyHCL generates a realistic policy of n rules: one profile per
// 4 rules, named <team>-<env> for 10 environments per team, rules whose
// profiles and principals are globs ("team-3-*", "arn:aws:iam::*:role/
// team-3-*"), a handful of organization-wide deny and require_approval rules
// on "*-prod" profiles, some rules with source_ips and schedules, and
// (withCond) conditions on some rules.
//
// The request that the benchmarks make, engineer of team 0 on team-0-dev,
// meets every rule whose profiles glob covers team-0-dev: the global rules
// and its team's; the rules of other teams are not even looked at (Load
// indexes rules by profile).
func benchPolicyHCL(n int, withCond bool) string {
	var b strings.Builder
	b.WriteString(`settings {
  default_duration      = "15m"
  max_duration          = "1h"
  operators             = ["arn:aws:iam::111122223333:role/security-*"]
  trusted_session_roles = ["arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
}
`)
	envs := []string{"dev", "test", "stage", "prod", "sandbox", "data", "ml", "ops", "audit", "dr"}
	profiles := max(n/4, len(envs))
	teams := (profiles + len(envs) - 1) / len(envs)
	for t := range teams {
		for _, env := range envs {
			fmt.Fprintf(&b, `
profile "team-%d-%s" {
  role_arn     = "arn:aws:iam::111122223333:role/sentinel/team-%d-%s"
  max_duration = "1h"
}
`, t, env, t, env)
		}
	}
	// Global rules: the ones every request of their profiles meets.
	global := []string{`
rule "g-deny-contractors" {
  effect     = "deny"
  profiles   = ["*"]
  principals = ["arn:aws:iam::*:role/contractor-*", "arn:aws:iam::444455556666:*"]
}
`, `
rule "g-deny-blocked-networks" {
  effect     = "deny"
  profiles   = ["*-prod", "*-dr"]
  principals = ["*"]
  source_ips = ["203.0.113.0/24", "198.51.100.0/24"]
}
`, `
rule "g-prod-approval" {
  effect     = "require_approval"
  profiles   = ["*-prod"]
  principals = ["arn:aws:iam::111122223333:role/*"]
  approvers  = ["arn:aws:iam::111122223333:role/security-*"]
}
`, `
rule "g-sre-everything" {
  effect       = "allow"
  profiles     = ["*"]
  principals   = ["arn:aws:iam::111122223333:role/sre-oncall-*"]
  max_duration = "30m"
}
`}
	written := 0
	for _, g := range global {
		if written < n {
			b.WriteString(g)
			written++
		}
	}
	for i := 0; written < n; i++ {
		t := i % teams
		env := envs[(i/teams)%len(envs)]
		name := fmt.Sprintf("team-%d-rule-%d", t, i)
		switch i % 8 {
		case 0: // the team's wide allow
			fmt.Fprintf(&b, `
rule %q {
  effect       = "allow"
  profiles     = ["team-%d-*"]
  principals   = ["arn:aws:iam::111122223333:role/team-%d-engineer-*", "arn:aws:iam::111122223333:role/AWSReservedSSO_Team%d_*"]
  max_duration = "45m"
}
`, name, t, t, t)
		case 1: // users of an SSO role
			fmt.Fprintf(&b, `
rule %q {
  effect     = "allow"
  profiles   = ["team-%d-%s"]
  principals = ["arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
  users      = ["*@team%d.example.com"]
}
`, name, t, env, t)
		case 2: // office hours from the office network
			fmt.Fprintf(&b, `
rule %q {
  effect     = "allow"
  profiles   = ["team-%d-%s"]
  principals = ["arn:aws:iam::111122223333:role/analyst-%d-*"]
  source_ips = ["10.%d.0.0/16"]
  schedule {
    days     = ["mon", "tue", "wed", "thu", "fri"]
    hours    = "08:00-18:00"
    timezone = "Europe/Berlin"
  }
}
`, name, t, env, t, t%256)
		case 3: // a deny for one role
			fmt.Fprintf(&b, `
rule %q {
  effect     = "deny"
  profiles   = ["team-%d-%s"]
  principals = ["arn:aws:iam::111122223333:role/team-%d-intern-*"]
}
`, name, t, env, t)
		case 4: // approvals for a sensitive env
			fmt.Fprintf(&b, `
rule %q {
  effect     = "require_approval"
  profiles   = ["team-%d-%s"]
  principals = ["arn:aws:iam::111122223333:role/team-%d-oncall-*"]
  approvers  = ["arn:aws:iam::111122223333:role/team-%d-lead-*"]
}
`, name, t, env, t, t)
		case 5: // accounts and orgs
			fmt.Fprintf(&b, `
rule %q {
  effect     = "allow"
  profiles   = ["team-%d-%s"]
  principals = ["arn:aws:iam::*:role/team-%d-ci-*"]
  accounts   = ["111122223333", "222233334444"]
  org_ids    = ["o-a1b2c3d4e5"]
}
`, name, t, env, t)
		default: // plain allows, some with conditions
			cond := ""
			if withCond && i%16 == 6 {
				cond = "\n  condition  = request.duration_seconds <= 1800 && startswith(principal.session_name, \"svc-\")"
			}
			fmt.Fprintf(&b, `
rule %q {
  effect     = "allow"
  profiles   = ["team-%d-%s"]
  principals = ["arn:aws:iam::111122223333:role/team-%d-service-%d"]%s
}
`, name, t, env, t, i, cond)
		}
		written++
	}
	return b.String()
}

func benchPolicy(b *testing.B, n int, withCond bool) *Policy {
	b.Helper()
	c, diags := Compile([]Source{{Name: "bench.hcl", Data: []byte(benchPolicyHCL(n, withCond))}})
	if diags.HasErrors() {
		b.Fatalf("bench policy: %s", diags.Error())
	}
	return c.Policy
}

func benchRequest(b *testing.B, p *Policy, caller, profile string) *Request {
	b.Helper()
	pr, err := p.Principal(caller, "AROAEXAMPLE:x", "o-a1b2c3d4e5")
	if err != nil {
		b.Fatal(err)
	}
	return &Request{Principal: pr, Profile: profile, Time: evMonday, SourceIP: netip.MustParseAddr("10.0.1.2"), Duration: 30 * time.Minute}
}

func benchEvaluate(b *testing.B, p *Policy, req *Request, want Effect) {
	b.ReportAllocs()
	if d := p.Evaluate(req); d.Effect != want {
		b.Fatalf("got %s by %q, want %s", d.Effect, d.Rule, want)
	}
	for b.Loop() {
		p.Evaluate(req)
	}
}

var benchSizes = []int{10, 100, 1000}

// BenchmarkEvaluate is the allow path of a request whose deciding rule has
// no condition.
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			p := benchPolicy(b, n, false)
			req := benchRequest(b, p, "arn:aws:sts::111122223333:assumed-role/team-0-engineer-dev/alice", "team-0-dev")
			benchEvaluate(b, p, req, Allow)
		})
	}
}

// BenchmarkEvaluateDeny is a request that no rule allows: every rule of the
// profile is looked at.
func BenchmarkEvaluateDeny(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			p := benchPolicy(b, n, false)
			req := benchRequest(b, p, "arn:aws:sts::111122223333:assumed-role/visitor/alice", "team-0-dev")
			benchEvaluate(b, p, req, Deny)
		})
	}
}

// BenchmarkEvaluateCondition is the allow path through rules with HCL
// conditions: the expression context is built and the conditions evaluated.
func BenchmarkEvaluateCondition(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			p := benchPolicy(b, n, true)
			// The first allow rule with a condition, and a caller it allows.
			var caller, profile string
			for _, name := range sortedKeys(p.rules) {
				if r := p.rules[name]; r.effect == Allow && r.condition != nil {
					role := r.Principals[0][strings.Index(r.Principals[0], ":role/")+len(":role/"):]
					caller = "arn:aws:sts::111122223333:assumed-role/" + role + "/svc-build"
					profile = r.Profiles[0]
					break
				}
			}
			if caller == "" {
				b.Skip("no rule with a condition at this size")
			}
			req := benchRequest(b, p, caller, profile)
			benchEvaluate(b, p, req, Allow)
		})
	}
}

// benchFlatHCL is the worst case for one request: n rules that all name
// the requested profile ("*"), a tenth deny, a tenth require_approval, the
// rest allow, and only the last allow rule by name matches the caller, so
// every rule is looked at.
func benchFlatHCL(n int) string {
	var b strings.Builder
	b.WriteString(`
profile "app" {
  role_arn = "arn:aws:iam::111122223333:role/app"
}
`)
	for i := range n - 1 {
		switch {
		case i < n/10:
			fmt.Fprintf(&b, "\nrule \"deny-%04d\" {\n  effect     = \"deny\"\n  profiles   = [\"*\"]\n  principals = [\"arn:aws:iam::*:role/blocked-%d-*\"]\n}\n", i, i)
		case i < n/5:
			fmt.Fprintf(&b, "\nrule \"approve-%04d\" {\n  effect     = \"require_approval\"\n  profiles   = [\"*\"]\n  principals = [\"arn:aws:iam::111122223333:role/approve-%d\"]\n  approvers  = [\"arn:aws:iam::111122223333:role/lead-*\"]\n}\n", i, i)
		default:
			fmt.Fprintf(&b, "\nrule \"allow-%04d\" {\n  effect     = \"allow\"\n  profiles   = [\"*\"]\n  principals = [\"arn:aws:iam::111122223333:role/svc-%d-*\"]\n}\n", i, i)
		}
	}
	b.WriteString(`
rule "zz-match" {
  effect     = "allow"
  profiles   = ["app"]
  principals = ["arn:aws:iam::111122223333:role/engineer-*"]
}
`)
	return b.String()
}

// BenchmarkEvaluateFlat is the allow path when every rule of the bundle
// names the requested profile.
func BenchmarkEvaluateFlat(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			c, diags := Compile([]Source{{Name: "flat.hcl", Data: []byte(benchFlatHCL(n))}})
			if diags.HasErrors() {
				b.Fatal(diags.Error())
			}
			p := c.Policy
			if got := len(p.profiles["app"].rules); got != n {
				b.Fatalf("%d rules name the profile, want %d", got, n)
			}
			req := benchRequest(b, p, evEngineer, "app")
			benchEvaluate(b, p, req, Allow)
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			srcs := []Source{{Name: "bench.hcl", Data: []byte(benchPolicyHCL(n, true))}}
			b.ReportAllocs()
			b.SetBytes(int64(len(srcs[0].Data)))
			for b.Loop() {
				if _, diags := Compile(srcs); diags.HasErrors() {
					b.Fatal(diags.Error())
				}
			}
		})
	}
}

func BenchmarkRender(b *testing.B) {
	p := evPolicy(b, scopeHCL)
	pr, err := p.Principal(evEngineer, "", "")
	if err != nil {
		b.Fatal(err)
	}
	req := &Request{Principal: pr, Profile: "scoped", Time: evMonday, Duration: 20 * time.Minute}
	d := p.Evaluate(req)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Render(d, req); err != nil {
			b.Fatal(err)
		}
	}
}
