package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Effect is what a rule or a decision says.
type Effect string

// Effects.
const (
	Allow           Effect = "allow"
	Deny            Effect = "deny"
	RequireApproval Effect = "require_approval"
)

// DefaultDeny is the rule name of a decision that no rule made.
const DefaultDeny = "default-deny"

// MaxSessionDuration is the hard cap of every session: STS role chaining
// allows at most one hour.
const MaxSessionDuration = time.Hour

// Policy is a loaded, checked bundle ready to evaluate requests. The zero
// value is not usable: get one from Load or Compiled.Policy.
type Policy struct {
	sha256       string
	settings     BundleSettings
	profiles     map[string]*profile
	profileNames []string
	rules        map[string]*rule
	breakGlass   []*breakGlass
}

type profile struct {
	BundleProfile
	sessionPolicy hclsyntax.Expression // nil when the profile has none
	sessionTags   hclsyntax.Expression // nil when the profile has none
	scopeRefs     []varRef             // variables the scoping expressions read
	rules         []*rule              // rules that name this profile: deny, then require_approval, then allow; by name
	breakGlass    []*breakGlass        // break_glass blocks that name this profile, by name
}

type rule struct {
	// What Evaluate reads for every rule of a profile comes first, so that
	// it shares a cache line: most rules are rejected on these alone.
	effect     Effect
	maxDur     time.Duration
	principals globs // Principals, prepared
	users      globs // Users, prepared

	BundleRule
	prefixes  []netip.Prefix
	condition hclsyntax.Expression
	schedule  *schedule
	reason    string
	// approvedReason explains an allow through an approval of this rule.
	approvedReason string
}

type schedule struct {
	days       [7]bool // by time.Weekday
	start, end int     // minutes after midnight; end < start crosses midnight
	loc        *time.Location
}

type breakGlass struct {
	BundleBreakGlass
	maxDur time.Duration
	reason string
}

// Load parses and checks a bundle produced by the compiler. It refuses
// anything it cannot fully understand: an unknown format, unknown fields,
// invalid expressions, time zones or CIDRs.
func Load(bundle []byte) (*Policy, error) {
	var b Bundle
	dec := json.NewDecoder(bytes.NewReader(bundle))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("policy bundle: %w", err)
	}
	if rest := bytes.TrimSpace(bundle[dec.InputOffset():]); len(rest) > 0 {
		return nil, fmt.Errorf("policy bundle: trailing data after the JSON document")
	}
	if b.Format != BundleFormat {
		return nil, fmt.Errorf("policy bundle: format %q, want %q", b.Format, BundleFormat)
	}
	sum := sha256.Sum256(bundle)
	p := &Policy{
		sha256:   hex.EncodeToString(sum[:]),
		settings: b.Settings,
		profiles: make(map[string]*profile, len(b.Profiles)),
		rules:    make(map[string]*rule, len(b.Rules)),
	}
	if err := p.load(&b); err != nil {
		return nil, fmt.Errorf("policy bundle: %w", err)
	}
	return p, nil
}

func (p *Policy) load(b *Bundle) error {
	// The compiler refuses durations below STS's minimum; a bundle made
	// some other way is refused here, not at every request.
	minSTS := int64(MinSTSDuration / time.Second)
	if d := b.Settings.MaxDuration; d < minSTS || d > int64(MaxSessionDuration/time.Second) {
		return fmt.Errorf("settings: max_duration_seconds %d out of range", d)
	}
	if d := b.Settings.DefaultDuration; d < minSTS || d > b.Settings.MaxDuration {
		return fmt.Errorf("settings: default_duration_seconds %d out of range", d)
	}
	for _, bp := range b.Profiles {
		for what, d := range map[string]int64{"default_duration_seconds": bp.DefaultDuration, "max_duration_seconds": bp.MaxDuration} {
			if d != 0 && d < minSTS {
				return fmt.Errorf("profile %q: %s %d is below the STS minimum of %d", bp.Name, what, d, minSTS)
			}
		}
	}
	for _, br := range b.Rules {
		if br.MaxDuration != 0 && br.MaxDuration < minSTS {
			return fmt.Errorf("rule %q: max_duration_seconds %d is below the STS minimum of %d", br.Name, br.MaxDuration, minSTS)
		}
	}
	for _, bp := range b.Profiles {
		if _, dup := p.profiles[bp.Name]; dup || bp.Name == "" {
			return fmt.Errorf("profile %q: empty or duplicate name", bp.Name)
		}
		pr := &profile{BundleProfile: bp}
		var err error
		if bp.SessionPolicy != "" {
			if pr.sessionPolicy, err = parseExpression(bp.SessionPolicy); err != nil {
				return fmt.Errorf("profile %q: session_policy: %w", bp.Name, err)
			}
		}
		if bp.SessionTags != "" {
			if pr.sessionTags, err = parseExpression(bp.SessionTags); err != nil {
				return fmt.Errorf("profile %q: session_tags: %w", bp.Name, err)
			}
		}
		for _, e := range []hclsyntax.Expression{pr.sessionPolicy, pr.sessionTags} {
			if e == nil {
				continue
			}
			refs, diags := checkReferences(e)
			if diags.HasErrors() {
				return fmt.Errorf("profile %q: %s", bp.Name, diags.Error())
			}
			pr.scopeRefs = append(pr.scopeRefs, refs...)
		}
		p.profiles[bp.Name] = pr
		p.profileNames = append(p.profileNames, bp.Name)
	}
	sort.Strings(p.profileNames)

	var ordered []*rule
	for _, br := range b.Rules {
		r, err := loadRule(br)
		if err != nil {
			return fmt.Errorf("rule %q: %w", br.Name, err)
		}
		if _, dup := p.rules[br.Name]; dup {
			return fmt.Errorf("rule %q: duplicate name", br.Name)
		}
		p.rules[br.Name] = r
		ordered = append(ordered, r)
	}
	rank := map[Effect]int{Deny: 0, RequireApproval: 1, Allow: 2}
	sort.SliceStable(ordered, func(i, j int) bool {
		if ri, rj := rank[ordered[i].effect], rank[ordered[j].effect]; ri != rj {
			return ri < rj
		}
		return ordered[i].Name < ordered[j].Name
	})
	for _, bg := range b.BreakGlass {
		if bg.MaxDuration < minSTS || bg.MaxDuration > int64(MaxSessionDuration/time.Second) {
			return fmt.Errorf("break_glass %q: max_duration_seconds %d out of range", bg.Name, bg.MaxDuration)
		}
		p.breakGlass = append(p.breakGlass, &breakGlass{
			BundleBreakGlass: bg,
			maxDur:           time.Duration(bg.MaxDuration) * time.Second,
			reason:           fmt.Sprintf("break-glass event under %q is active", bg.Name),
		})
	}
	sort.Slice(p.breakGlass, func(i, j int) bool { return p.breakGlass[i].Name < p.breakGlass[j].Name })

	for _, name := range p.profileNames {
		pr := p.profiles[name]
		for _, r := range ordered {
			if matchAny(r.Profiles, name) {
				pr.rules = append(pr.rules, r)
			}
		}
		for _, bg := range p.breakGlass {
			if matchAny(bg.Profiles, name) {
				pr.breakGlass = append(pr.breakGlass, bg)
			}
		}
	}
	return nil
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func loadRule(br BundleRule) (*rule, error) {
	r := &rule{BundleRule: br, effect: Effect(br.Effect), maxDur: time.Duration(br.MaxDuration) * time.Second,
		principals: newGlobs(br.Principals), users: newGlobs(br.Users)}
	switch r.effect {
	case Allow, Deny, RequireApproval:
	default:
		return nil, fmt.Errorf("unknown effect %q", br.Effect)
	}
	if len(br.Profiles) == 0 || len(br.Principals) == 0 {
		return nil, fmt.Errorf("profiles and principals are required")
	}
	if r.effect == RequireApproval && len(br.Approvers) == 0 {
		return nil, fmt.Errorf("require_approval without approvers")
	}
	for _, c := range br.SourceIPs {
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, err
		}
		r.prefixes = append(r.prefixes, pfx)
	}
	if br.Condition != "" {
		var err error
		if r.condition, err = parseExpression(br.Condition); err != nil {
			return nil, fmt.Errorf("condition: %w", err)
		}
		if _, diags := checkReferences(r.condition); diags.HasErrors() {
			return nil, fmt.Errorf("condition: %s", diags.Error())
		}
	}
	if s := br.Schedule; s != nil {
		loc, err := time.LoadLocation(s.Timezone)
		if err != nil {
			return nil, fmt.Errorf("schedule: %w", err)
		}
		if s.Start < 0 || s.Start >= 1440 || s.End <= 0 || s.End > 1440 || s.Start == s.End {
			return nil, fmt.Errorf("schedule: window %d-%d out of range", s.Start, s.End)
		}
		sc := &schedule{start: s.Start, end: s.End, loc: loc}
		for _, d := range s.Days {
			wd, ok := weekdays[d]
			if !ok {
				return nil, fmt.Errorf("schedule: unknown day %q", d)
			}
			sc.days[wd] = true
		}
		r.schedule = sc
	}
	r.reason = br.Reason
	r.approvedReason = fmt.Sprintf("approved under rule %q", br.Name)
	if r.reason == "" {
		switch r.effect {
		case Allow:
			r.reason = fmt.Sprintf("allowed by rule %q", br.Name)
		case Deny:
			r.reason = fmt.Sprintf("denied by rule %q", br.Name)
		case RequireApproval:
			r.reason = fmt.Sprintf("rule %q requires approval", br.Name)
		}
	}
	return r, nil
}

// SHA256 is the hex sha256 of the bundle bytes this policy was loaded from.
func (p *Policy) SHA256() string { return p.sha256 }

// ProfileNames lists the policy's profiles, sorted.
func (p *Policy) ProfileNames() []string { return append([]string(nil), p.profileNames...) }

// Profile returns the compiled profile of that name.
func (p *Policy) Profile(name string) (BundleProfile, bool) {
	pr, ok := p.profiles[name]
	if !ok {
		return BundleProfile{}, false
	}
	return pr.BundleProfile, true
}

// Rule returns the compiled rule of that name.
func (p *Policy) Rule(name string) (BundleRule, bool) {
	r, ok := p.rules[name]
	if !ok {
		return BundleRule{}, false
	}
	return r.BundleRule, true
}

// Settings returns the compiled settings.
func (p *Policy) Settings() BundleSettings { return p.settings }

// Principal derives the caller's principal from the request context values,
// setting User when the role is one of settings.trusted_session_roles and,
// when settings.trusted_session_role_ids pins them, the role's unique ID
// (the part of userID before ':') is one of those.
func (p *Policy) Principal(callerARN, userID, orgID string) (Principal, error) {
	pr, err := ParseCaller(callerARN)
	if err != nil {
		return Principal{}, err
	}
	pr.UserID, pr.OrgID = userID, orgID
	if pr.Type == TypeAssumedRole && p.trustedRole(pr) {
		pr.User = pr.SessionName
	}
	return pr, nil
}

// trustedRole reports whether a role session comes from a trusted session
// role: its role ARN matches trusted_session_roles and, when role IDs are
// pinned, the unique ID of the request context names one of them and ends
// in the session name (API Gateway's "AROA...:SESSION").
func (p *Policy) trustedRole(pr Principal) bool {
	if !matchAny(p.settings.TrustedSessionRoles, pr.ARN) {
		return false
	}
	ids := p.settings.TrustedSessionRoleIDs
	if len(ids) == 0 {
		return true
	}
	return contains(ids, roleIDOf(pr.UserID)) && pr.UserID == roleIDOf(pr.UserID)+":"+pr.SessionName
}

// IsOperator reports whether the principal is one of settings.operators,
// who may list and revoke any session.
func (p *Policy) IsOperator(pr Principal) bool {
	return matchAny(p.settings.Operators, pr.ARN)
}

// CanApprove reports whether approver may decide a request that the named
// require_approval rule holds for requester: the approver matches the rule's
// approvers (and approver_users, if any) and is not the same person
// (Principal.Person: one trusted user through any of their roles).
func (p *Policy) CanApprove(ruleName string, requester, approver Principal) bool {
	r, ok := p.rules[ruleName]
	if !ok || r.effect != RequireApproval {
		return false
	}
	if requester.Person() == approver.Person() {
		return false
	}
	if !matchAny(r.Approvers, approver.ARN) {
		return false
	}
	if len(r.ApproverUsers) > 0 && (approver.User == "" || !matchAny(r.ApproverUsers, approver.User)) {
		return false
	}
	return true
}

// BreakGlassFor returns the break_glass block, if any, that lets the
// principal open an event for the profile (the first by name).
func (p *Policy) BreakGlassFor(pr Principal, profileName string) (BundleBreakGlass, bool) {
	if prof, ok := p.profiles[profileName]; ok {
		if bg := prof.breakGlassFor(pr); bg != nil {
			return bg.BundleBreakGlass, true
		}
	}
	return BundleBreakGlass{}, false
}

func (pr *profile) breakGlassFor(principal Principal) *breakGlass {
	for _, bg := range pr.breakGlass {
		if matchAny(bg.Principals, principal.ARN) {
			return bg
		}
	}
	return nil
}
