package policy

import (
	"net/netip"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Request is what the evaluator decides on. The service fills it from the
// authorization context and the request body; nothing in it comes from what
// the caller says about itself.
type Request struct {
	Principal Principal
	Profile   string
	Time      time.Time
	SourceIP  netip.Addr    // the zero Addr when unknown
	Duration  time.Duration // requested; 0 when the request names none
	// Client is the client mode the caller declared (request.client), one
	// of ClientModes, or "" when unknown. The caller controls it: it may
	// refine a rule, never secure one.
	Client string

	// Approval is set when the request carries an approved, unused approval
	// for this principal and profile; BreakGlass when an event is active for
	// them. Their Expires caps the session; the zero time means no cap.
	Approval   *Grant
	BreakGlass *Grant
}

// Grant is an approval or break-glass event that the service has checked.
type Grant struct {
	Expires time.Time
}

// Via says what turned a decision into allow.
const (
	ViaPolicy     = "policy"
	ViaApproval   = "approval"
	ViaBreakGlass = "break_glass"
)

// Decision is the outcome of Evaluate. Rule names the rule (or break_glass
// block) that decided, DefaultDeny when none did.
type Decision struct {
	Effect  Effect
	Rule    string
	Reason  string
	Via     string // allow only: policy, approval or break_glass
	Profile string
	RoleARN string

	// Allow only: the granted duration, the duration asked for (or the
	// default the request got), and whether the grant is below it.
	Duration  time.Duration
	Requested time.Duration
	Capped    bool
}

// Reasons of decisions that no rule's own reason explains.
const (
	ReasonNoProfile   = "no such profile"
	ReasonDefaultDeny = "no rule allows this request"
	ReasonExpired     = "the approval or break-glass event has no time left"
)

// Evaluate decides a request as docs/policy-language.md "Evaluation" describes:
// deny beats require_approval beats allow beats the default deny; an
// approval turns require_approval into allow, an active break-glass event
// turns require_approval and the default deny into allow, and nothing
// overrides a deny rule. A check that cannot be made (a condition that
// cannot be evaluated, `users` on a caller without a trusted user, source_ips
// without a source IP, a schedule without a time) matches deny and
// require_approval rules and no allow rule: an error only makes access
// harder. It never touches the network.
func (p *Policy) Evaluate(req *Request) Decision {
	prof, ok := p.profiles[req.Profile]
	if !ok {
		return Decision{Effect: Deny, Rule: DefaultDeny, Reason: ReasonNoProfile, Profile: req.Profile}
	}
	var (
		cond     = condState{requested: p.requested(prof, req)}
		approval *rule
		allow    *rule
	)
	for _, r := range prof.rules {
		if r.effect == Allow && allow != nil && !longerCap(r, allow) {
			continue // cannot improve on the allow rule already found
		}
		if r.effect == RequireApproval && approval != nil {
			continue
		}
		if !r.matches(req, &cond) {
			continue
		}
		switch r.effect {
		case Deny:
			return Decision{Effect: Deny, Rule: r.Name, Reason: r.reason, Profile: prof.Name, RoleARN: prof.RoleARN}
		case RequireApproval:
			approval = r
		case Allow:
			allow = r
		}
	}
	bg := breakGlassGrant(prof, req)
	switch {
	case approval != nil && activeGrant(req.Approval, req.Time):
		return p.allow(prof, req, approval.Name, approval.approvedReason, ViaApproval, approval.maxDur, req.Approval)
	case approval != nil && bg != nil:
		return p.allow(prof, req, bg.Name, bg.reason, ViaBreakGlass, bg.maxDur, req.BreakGlass)
	case approval != nil:
		return Decision{Effect: RequireApproval, Rule: approval.Name, Reason: approval.reason, Profile: prof.Name, RoleARN: prof.RoleARN}
	case allow != nil:
		return p.allow(prof, req, allow.Name, allow.reason, ViaPolicy, allow.maxDur, nil)
	case bg != nil:
		return p.allow(prof, req, bg.Name, bg.reason, ViaBreakGlass, bg.maxDur, req.BreakGlass)
	}
	return Decision{Effect: Deny, Rule: DefaultDeny, Reason: ReasonDefaultDeny, Profile: prof.Name, RoleARN: prof.RoleARN}
}

// longerCap reports whether allow rule a can grant longer sessions than b:
// when several allow rules match, the most generous one decides.
func longerCap(a, b *rule) bool {
	return b.maxDur != 0 && (a.maxDur == 0 || a.maxDur > b.maxDur)
}

func activeGrant(g *Grant, now time.Time) bool {
	return g != nil && (g.Expires.IsZero() || g.Expires.After(now))
}

// breakGlassGrant returns the break_glass block under which the request's
// active event counts: an event counts only while the policy still has a
// block that lets this principal open one for this profile.
func breakGlassGrant(prof *profile, req *Request) *breakGlass {
	if !activeGrant(req.BreakGlass, req.Time) {
		return nil
	}
	return prof.breakGlassFor(req.Principal)
}

// RequestedDuration is the duration a request asks for, or else the
// profile's default_duration, or else settings.default_duration.
func (p *Policy) requested(prof *profile, req *Request) time.Duration {
	switch {
	case req.Duration > 0:
		return req.Duration
	case prof.DefaultDuration > 0:
		return time.Duration(prof.DefaultDuration) * time.Second
	}
	return time.Duration(p.settings.DefaultDuration) * time.Second
}

func (p *Policy) allow(prof *profile, req *Request, ruleName, reason, via string, ruleMax time.Duration, g *Grant) Decision {
	want := p.requested(prof, req)
	limit := min(MaxSessionDuration, time.Duration(p.settings.MaxDuration)*time.Second)
	if prof.MaxDuration > 0 {
		limit = min(limit, time.Duration(prof.MaxDuration)*time.Second)
	}
	if ruleMax > 0 {
		limit = min(limit, ruleMax)
	}
	if g != nil && !g.Expires.IsZero() {
		limit = min(limit, g.Expires.Sub(req.Time).Truncate(time.Second))
	}
	if limit <= 0 {
		return Decision{Effect: Deny, Rule: ruleName, Reason: ReasonExpired, Profile: prof.Name, RoleARN: prof.RoleARN}
	}
	d := Decision{Effect: Allow, Rule: ruleName, Reason: reason, Via: via, Profile: prof.Name, RoleARN: prof.RoleARN,
		Duration: want, Requested: want}
	if want > limit {
		d.Duration, d.Capped = limit, true
	}
	return d
}

// condState holds the per-request expression context, built on first use so
// that requests whose rules have no condition allocate nothing for it.
type condState struct {
	requested time.Duration // request.duration_seconds
	ctx       *hcl.EvalContext
}

func (r *rule) matches(req *Request, cond *condState) bool {
	// What a check that cannot be made counts as: a match for the rules
	// that make access harder (deny, require_approval), no match for allow.
	fail := r.effect != Allow
	if !r.principals.match(req.Principal.ARN) {
		return false
	}
	if len(r.users) > 0 {
		if req.Principal.User == "" {
			// Without a trusted user nobody can tell whose request it is.
			if !fail {
				return false
			}
		} else if !r.users.match(req.Principal.User) {
			return false
		}
	}
	if len(r.Accounts) > 0 && !contains(r.Accounts, req.Principal.AccountID) {
		return false
	}
	if len(r.OrgIDs) > 0 && !contains(r.OrgIDs, req.Principal.OrgID) {
		return false
	}
	// A check that cannot be made counts as fail and the rule's other
	// checks still apply: a deny rule with source_ips and a condition does
	// not match a request without a source IP whose condition is false.
	if len(r.prefixes) > 0 {
		if !req.SourceIP.IsValid() {
			if !fail {
				return false
			}
		} else if !inPrefixes(r.prefixes, req.SourceIP.Unmap()) {
			return false
		}
	}
	if r.schedule != nil {
		if req.Time.IsZero() {
			if !fail {
				return false
			}
		} else if !r.schedule.contains(req.Time) {
			return false
		}
	}
	if r.condition != nil {
		ok, err := r.evalCondition(req, cond)
		if err != nil {
			return fail
		}
		return ok
	}
	return true
}

func inPrefixes(prefixes []netip.Prefix, ip netip.Addr) bool {
	for _, pfx := range prefixes {
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (s *schedule) contains(t time.Time) bool {
	t = t.In(s.loc)
	minute := t.Hour()*60 + t.Minute()
	day := t.Weekday()
	if s.start < s.end {
		return s.days[day] && minute >= s.start && minute < s.end
	}
	// The window crosses midnight and belongs to the day it starts on.
	return (s.days[day] && minute >= s.start) || (s.days[(day+6)%7] && minute < s.end)
}

type condError string

func (e condError) Error() string { return string(e) }

func (r *rule) evalCondition(req *Request, cond *condState) (bool, error) {
	if cond.ctx == nil {
		cond.ctx = requestContext(req, cond.requested)
	}
	v, diags := r.condition.Value(cond.ctx)
	if diags.HasErrors() {
		return false, diags
	}
	v, err := convert.Convert(v, cty.Bool)
	if err != nil {
		return false, err
	}
	if v.IsNull() || !v.IsKnown() {
		return false, condError("condition is null or unknown")
	}
	return v.True(), nil
}

// requestContext is the expression context of a request: principal.* and
// request.* as docs/policy-language.md lists them; requested is the duration the
// request asks for or else the default it would get.
func requestContext(req *Request, requested time.Duration) *hcl.EvalContext {
	pr := req.Principal
	ip := ""
	if req.SourceIP.IsValid() {
		ip = req.SourceIP.Unmap().String()
	}
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"principal": cty.ObjectVal(map[string]cty.Value{
				"arn":          cty.StringVal(pr.ARN),
				"caller_arn":   cty.StringVal(pr.CallerARN),
				"type":         cty.StringVal(pr.Type),
				"account_id":   cty.StringVal(pr.AccountID),
				"name":         cty.StringVal(pr.Name),
				"session_name": cty.StringVal(pr.SessionName),
				"user":         cty.StringVal(pr.User),
				"user_id":      cty.StringVal(pr.UserID),
				"org_id":       cty.StringVal(pr.OrgID),
			}),
			"request": cty.ObjectVal(map[string]cty.Value{
				"profile":          cty.StringVal(req.Profile),
				"duration_seconds": cty.NumberIntVal(int64(requested / time.Second)),
				"source_ip":        cty.StringVal(ip),
				"time":             cty.StringVal(req.Time.UTC().Format(time.RFC3339)),
				"client":           cty.StringVal(req.Client),
			}),
		},
		Functions: functions,
	}
}
