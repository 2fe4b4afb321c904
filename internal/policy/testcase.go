package policy

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// DefaultTestTime is when a test case happens unless it says: a fixed
// Monday, 12:00 UTC.
var DefaultTestTime = time.Date(2026, time.March, 2, 12, 0, 0, 0, time.UTC)

var (
	// testFileSchema lists the policy blocks too, only to say where they belong.
	testFileSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		{Type: "test", LabelNames: []string{"name"}},
		{Type: "settings"}, {Type: "profile", LabelNames: []string{"name"}},
		{Type: "rule", LabelNames: []string{"name"}}, {Type: "break_glass", LabelNames: []string{"name"}},
	}}
	testSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "principal", Required: true}, {Name: "profile", Required: true}, {Name: "time"},
		{Name: "source_ip"}, {Name: "duration"}, {Name: "break_glass"}, {Name: "approved"},
		{Name: "expect", Required: true}, {Name: "expect_rule"}, {Name: "expect_duration"},
		// Extensions to the contract: the request context values a test
		// cannot otherwise set.
		{Name: "org_id"}, {Name: "user_id"}, {Name: "client"},
	}}
)

// TestCase is one `test` block of a *.test.hcl file.
type TestCase struct {
	Name  string
	Range hcl.Range // the block's definition, for failure reports

	Request        Request
	Expect         Effect
	ExpectRule     string        // "" when the case does not check the rule
	ExpectDuration time.Duration // 0 when the case does not check the duration
}

// TestResult is the outcome of one case; Failure is "" when it passed.
type TestResult struct {
	Case     *TestCase
	Decision Decision
	Failure  string
}

func (c *compiler) testBlocks(body hcl.Body) []*hcl.Block {
	content, diags := body.Content(testFileSchema)
	c.add(diags...)
	var tests []*hcl.Block
	for _, b := range content.Blocks {
		if b.Type != "test" {
			c.add(errorAt(b.DefRange, "Policy block in a test file",
				"%s blocks belong in policy files; files ending in %q hold only test blocks.", b.Type, TestSuffix))
			continue
		}
		tests = append(tests, b)
	}
	return tests
}

// decodeTests decodes the test blocks against the compiled policy. With a
// nil policy (it has errors) it still reports every problem of the cases
// themselves, so that one pass shows them all; only the checks that need the
// policy (unknown profile, unknown expect_rule) are skipped.
func (c *compiler) decodeTests(p *Policy) []TestCase {
	seen := map[string]hcl.Range{}
	var cases []TestCase
	for _, b := range c.tests {
		name, nameOK := c.checkName(b, "test", blockNameRE, blockNameRule, seen)
		content, diags := b.Body.Content(testSchema)
		c.add(diags...)
		a := content.Attributes
		tc := TestCase{Name: name, Range: b.DefRange}
		req := &tc.Request
		req.Time = DefaultTestTime
		var callerARN, orgID, userID string
		var ok bool
		if callerARN, ok = c.str(a["principal"]); ok {
			if _, err := ParseCaller(callerARN); err != nil {
				c.add(errorAt(a["principal"].Expr.Range(), "Invalid principal",
					"%s; use a caller ARN as the request context shows it, e.g. \"arn:aws:sts::111122223333:assumed-role/ROLE/SESSION\".", err))
			}
		}
		orgID, _ = c.str(a["org_id"])
		userID, _ = c.str(a["user_id"])
		if p != nil {
			req.Principal, _ = p.Principal(callerARN, userID, orgID)
		}
		if prof, ok := c.str(a["profile"]); ok {
			req.Profile = prof
			if p != nil && p.profileOrNil(prof) == nil {
				c.add(warningAt(a["profile"].Expr.Range(), "Unknown profile",
					"The policy has no profile %q, so this case is denied.%s", prof, suggestion(prof, p.profileNames)))
			}
		}
		if s, ok := c.str(a["time"]); ok {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				c.add(errorAt(a["time"].Expr.Range(), "Invalid time", "%q is not an RFC 3339 time such as \"2026-03-02T10:00:00+01:00\".", s))
			}
			req.Time = t
		}
		if s, ok := c.str(a["source_ip"]); ok {
			ip, err := netip.ParseAddr(s)
			if err != nil {
				c.add(errorAt(a["source_ip"].Expr.Range(), "Invalid source_ip", "%q is not an IP address.", s))
			}
			req.SourceIP = ip
		}
		req.Duration, _ = c.duration(a["duration"], 0)
		req.Client = ClientOther // what the service records without the header
		if s, ok := c.str(a["client"]); ok {
			if !IsClientMode(s) {
				c.add(errorAt(a["client"].Expr.Range(), "Invalid client", "client must be one of %s; got %q.%s", quoteList(ClientModes), s, suggestion(s, ClientModes)))
			}
			req.Client = s
		}
		if bg, _ := c.bool(a["break_glass"]); bg {
			// An event opened at the request's time under the block that
			// covers it lasts that block's max_duration.
			req.BreakGlass = &Grant{}
			if prof := p.profileOrNil(req.Profile); prof != nil {
				if blk := prof.breakGlassFor(req.Principal); blk != nil {
					req.BreakGlass.Expires = req.Time.Add(blk.maxDur)
				}
			}
		}
		if ap, _ := c.bool(a["approved"]); ap {
			req.Approval = &Grant{}
		}
		if s, ok := c.str(a["expect"]); ok {
			if !contains(effectNames, s) {
				c.add(errorAt(a["expect"].Expr.Range(), "Invalid expect", "expect must be one of %s; got %q.%s", quoteList(effectNames), s, suggestion(s, effectNames)))
			}
			tc.Expect = Effect(s)
		}
		if s, ok := c.str(a["expect_rule"]); ok && p != nil {
			known := append(append(sortedKeys(p.rules), DefaultDeny), p.breakGlassNames()...)
			if !contains(known, s) {
				c.add(errorAt(a["expect_rule"].Expr.Range(), "Unknown rule",
					"No rule or break_glass block is named %q (and it is not %q).%s", s, DefaultDeny, suggestion(s, known)))
			}
			tc.ExpectRule = s
		}
		tc.ExpectDuration, _ = c.duration(a["expect_duration"], MaxSessionDuration)
		if nameOK {
			cases = append(cases, tc)
		}
	}
	return cases
}

// profileOrNil returns the named profile; nil when p is nil or has none.
func (p *Policy) profileOrNil(name string) *profile {
	if p == nil {
		return nil
	}
	return p.profiles[name]
}

func (p *Policy) breakGlassNames() []string {
	names := make([]string, len(p.breakGlass))
	for i, bg := range p.breakGlass {
		names[i] = bg.Name
	}
	return names
}

// RunTests runs test cases against the policy.
func (p *Policy) RunTests(cases []TestCase) []TestResult {
	results := make([]TestResult, len(cases))
	for i := range cases {
		tc := &cases[i]
		req := tc.Request
		d := p.Evaluate(&req)
		results[i] = TestResult{Case: tc, Decision: d, Failure: tc.check(d)}
	}
	return results
}

func (tc *TestCase) check(d Decision) string {
	got := fmt.Sprintf("got %s by %q (%s)", d.Effect, d.Rule, d.Reason)
	switch {
	case d.Effect != tc.Expect:
		return fmt.Sprintf("expected %s, %s", tc.Expect, got)
	case tc.ExpectRule != "" && d.Rule != tc.ExpectRule:
		return fmt.Sprintf("expected rule %q, %s", tc.ExpectRule, got)
	case tc.ExpectDuration != 0 && d.Duration != tc.ExpectDuration:
		return fmt.Sprintf("expected duration %s, got %s (%s by %q)", fmtDuration(tc.ExpectDuration), fmtDuration(d.Duration), d.Effect, d.Rule)
	}
	return ""
}

// String renders a failed result as `FILE:LINE: test "NAME": problem`.
func (r TestResult) String() string {
	return fmt.Sprintf("%s:%d: test %q: %s", r.Case.Range.Filename, r.Case.Range.Start.Line, r.Case.Name, r.Failure)
}
