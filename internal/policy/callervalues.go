package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Values the caller chooses or that can be empty for some callers: a role
// session's name (and the caller ARN and unique ID that carry it), a
// federated user's name, and the values that are empty for some principals
// (principal.user, principal.org_id). docs/security.md explains why each is
// untrusted.
var callerValues = map[string]bool{
	"session_name": true,
	"caller_arn":   true,
	"user_id":      true,
	"name":         true,
	"user":         true,
	"org_id":       true,
}

// sessionNameValues are the principal values that carry the caller-chosen
// role session name. A profile may put them into its session scoping only
// when every caller who can get it comes from a trusted session role.
var sessionNameValues = []string{"session_name", "caller_arn", "user_id"}

// erroringFuncs are the functions that fail on some string arguments: the
// condition then cannot be evaluated.
var erroringFuncs = map[string]string{
	"regex":      "fails when the pattern does not match",
	"tonumber":   "fails on text that is not a number",
	"coalesce":   "fails when every argument is empty",
	"lookup":     "fails when the key is missing and there is no default",
	"formatdate": "fails on text that is not a timestamp",
	"timeadd":    "fails on text that is not a timestamp",
}

// roleIDRE is an IAM role's unique ID as the request context shows it
// before the ':' of requestContext.identity.caller.
var roleIDRE = regexp.MustCompile(`^AROA[0-9A-Z]{4,124}$`)

// conditionWalker finds the calls of a condition that can fail on caller
// values outside can() and try(), which would decide the failure themselves.
type conditionWalker struct {
	guarded int // depth of can()/try() calls around the current node
	found   []string
}

func (w *conditionWalker) Enter(n hclsyntax.Node) hcl.Diagnostics {
	switch e := n.(type) {
	case *hclsyntax.FunctionCallExpr:
		if e.Name == "can" || e.Name == "try" {
			w.guarded++
			return nil
		}
		why, risky := erroringFuncs[e.Name]
		if !risky || w.guarded > 0 {
			return nil
		}
		for _, arg := range e.Args {
			if v := callerValueIn(arg); v != "" {
				w.found = append(w.found, fmt.Sprintf("%s() %s, and principal.%s is chosen by the caller or empty for some callers", e.Name, why, v))
				break
			}
		}
	case *hclsyntax.IndexExpr: // list[expr]
		w.index(e.Collection)
	case *hclsyntax.RelativeTraversalExpr: // list[1], obj.key
		w.index(e.Source)
	}
	return nil
}

// index notes an index into a value derived from caller values.
func (w *conditionWalker) index(collection hclsyntax.Expression) {
	if w.guarded > 0 {
		return
	}
	if v := callerValueIn(collection); v != "" {
		w.found = append(w.found, fmt.Sprintf("an index into a value derived from principal.%s fails when the value has fewer elements than the index asks for", v))
	}
}

func (w *conditionWalker) Exit(n hclsyntax.Node) hcl.Diagnostics {
	if e, ok := n.(*hclsyntax.FunctionCallExpr); ok && (e.Name == "can" || e.Name == "try") {
		w.guarded--
	}
	return nil
}

// callerValueIn returns the first caller value expr reads, or "".
func callerValueIn(expr hclsyntax.Expression) string {
	for _, tr := range expr.Variables() {
		if tr.RootName() != "principal" {
			continue
		}
		if attr, ok := attrName(tr); ok && callerValues[attr] {
			return attr
		}
	}
	return ""
}

// warnConditionErrors warns about a condition that can fail to evaluate on
// values the caller controls. A failure counts as a match for deny and
// require_approval rules and as no match for allow rules (fail closed), so
// the rule's outcome is then not what its author wrote.
func (c *compiler) warnConditionErrors(attr *hcl.Attribute, effect string) {
	expr, ok := attr.Expr.(hclsyntax.Expression)
	if !ok {
		return
	}
	w := &conditionWalker{}
	hclsyntax.Walk(expr, w)
	if len(w.found) == 0 {
		return
	}
	outcome := "an allow rule then does not match"
	if effect != string(Allow) {
		outcome = fmt.Sprintf("a %s rule then matches", effect)
	}
	c.add(warningAt(attr.Expr.Range(), "Condition can fail on caller values",
		"%s. A condition that cannot be evaluated matches deny and require_approval rules and no allow rule (fail closed): %s. Decide the case yourself with can(), try() or regexall().",
		strings.Join(w.found, "; "), outcome))
}

// checkCallerValues runs the whole-policy checks of the values callers
// control: session scoping that reads the caller's session name on a
// profile that callers from untrusted roles can get (an error), and rules
// that name federated users (a warning: their names are the caller's).
func (c *compiler) checkCallerValues() {
	for _, pr := range c.bundle.Profiles {
		used := scopeSessionValues(pr)
		if len(used) == 0 {
			continue
		}
		open := c.untrustedGrants(pr.Name)
		if len(open) == 0 {
			continue
		}
		c.add(errorAt(c.profileRange[pr.Name], "Caller-chosen value in session scoping",
			"Profile %q puts %s into its session_policy or session_tags, but callers that are not from trusted session roles can get it (through %s), and they choose their own session names. Use principal.user, or let only trusted session roles (settings.trusted_session_roles, or allow rules with users) get this profile.",
			pr.Name, quoteRefs(used), strings.Join(open, ", ")))
	}
	for _, r := range c.bundle.Rules {
		if r.Effect != string(Deny) {
			c.warnFederated(c.ruleRange[r.Name], r.Principals)
		}
	}
	for _, bg := range c.bundle.BreakGlass {
		c.warnFederated(c.bgRange[bg.Name], bg.Principals)
	}
}

func quoteRefs(attrs []string) string {
	q := make([]string, len(attrs))
	for i, a := range attrs {
		q[i] = "principal." + a
	}
	return strings.Join(q, ", ")
}

// scopeSessionValues lists the session-name values a profile's scoping reads.
func scopeSessionValues(pr BundleProfile) []string {
	seen := map[string]bool{}
	for _, src := range []string{pr.SessionPolicy, pr.SessionTags} {
		if src == "" {
			continue
		}
		expr, err := parseExpression(src)
		if err != nil {
			continue // reported where the expression was decoded
		}
		refs, _ := checkReferences(expr)
		for _, ref := range refs {
			if ref.root == "principal" && contains(sessionNameValues, ref.attr) {
				seen[ref.attr] = true
			}
		}
	}
	var out []string
	for _, a := range sessionNameValues {
		if seen[a] {
			out = append(out, a)
		}
	}
	return out
}

// untrustedGrants names the allow and require_approval rules and the
// break_glass blocks that can give the profile to a caller that is not from
// a trusted session role. An allow rule with users matches trusted users
// only; a require_approval rule with users matches anyone it cannot tell
// apart (fail closed), so users does not limit it.
func (c *compiler) untrustedGrants(profile string) []string {
	trusted := c.bundle.Settings.TrustedSessionRoles
	var open []string
	for _, r := range c.bundle.Rules {
		if r.Effect == string(Deny) || !matchAny(r.Profiles, profile) {
			continue
		}
		if r.Effect == string(Allow) && len(r.Users) > 0 {
			continue
		}
		if !globsWithin(r.Principals, trusted) {
			open = append(open, fmt.Sprintf("rule %q", r.Name))
		}
	}
	for _, bg := range c.bundle.BreakGlass {
		if matchAny(bg.Profiles, profile) && !globsWithin(bg.Principals, trusted) {
			open = append(open, fmt.Sprintf("break_glass %q", bg.Name))
		}
	}
	return open
}

// globsWithin reports whether every ARN that one of inner matches is
// matched by one of outer. Sound, not complete: an inner glob counts as
// covered when an outer glob without '?' matches it as a literal string
// (each '*' of the inner glob then falls into a '*' of the outer one).
func globsWithin(inner, outer []string) bool {
	for _, g := range inner {
		covered := false
		for _, o := range outer {
			if o == g || (!strings.Contains(o, "?") && matchGlob(o, g)) {
				covered = true
				break
			}
		}
		if !covered {
			return false
		}
	}
	return true
}

// warnFederated warns about principal globs that name federated users,
// whose names are whatever the caller of sts:GetFederationToken chose.
func (c *compiler) warnFederated(rng hcl.Range, globs []string) {
	for _, g := range globs {
		if strings.Contains(g, ":federated-user/") {
			c.add(warningAt(rng, "Federated user principal",
				"%q names federated users: their names are chosen by whoever calls sts:GetFederationToken with the IAM user's keys, so principal.name and principal.arn say nothing about the person. Prefer IAM roles or trusted session roles.", g))
		}
	}
}

// roleIDOf returns the role's unique ID from a role session's unique ID
// ("AROAEXAMPLE:session"), or "".
func roleIDOf(userID string) string {
	id, _, ok := strings.Cut(userID, ":")
	if !ok {
		return ""
	}
	return id
}
