package policy

import "reflect"

// checkCrossBlock runs the checks that need the whole policy: names shared
// by a rule and a break_glass block, users with no trusted session roles,
// and rules that an explicit deny always beats.
func (c *compiler) checkCrossBlock() {
	for _, name := range sortedKeys(c.bgRange) {
		if r, clash := c.ruleRange[name]; clash {
			c.add(errorAt(c.bgRange[name], "Name taken",
				"The rule at %s is also named %q; decisions name both rules and break_glass blocks, so names must differ.", where(r), name))
		}
	}
	if len(c.bundle.Settings.TrustedSessionRoles) == 0 {
		for _, rng := range c.usersRules {
			c.add(warningAt(rng, "Users can never match",
				"users and approver_users match principal.user, which is empty unless settings.trusted_session_roles lists the caller's role; it lists none."))
		}
	}
	if c.diags.HasErrors() {
		// A rule with a rejected condition or CIDR would look wider than it
		// is; judge shadowing once the rules are whole.
		return
	}
	profiles := sortedKeys(c.profileRange)
	for _, r := range c.bundle.Rules {
		if r.Effect == string(Deny) {
			continue
		}
		for _, d := range c.bundle.Rules {
			if d.Effect != string(Deny) || !denyShadows(d, r, profiles) {
				continue
			}
			c.add(warningAt(c.ruleRange[r.Name], "Rule can never match",
				"deny rule %q (%s) matches every request that rule %q matches, and deny always wins.", d.Name, where(c.ruleRange[d.Name]), r.Name))
			break
		}
	}
}

// denyShadows reports whether deny rule d matches every request that rule r
// matches: d names every profile r names, its principals cover r's, and each
// optional condition d has, r has identically. Sound, not complete.
func denyShadows(d, r BundleRule, profiles []string) bool {
	for _, p := range profiles {
		if matchAny(r.Profiles, p) && !matchAny(d.Profiles, p) {
			return false
		}
	}
	if !globsCover(d.Principals, r.Principals) {
		return false
	}
	same := func(dv, rv any, dEmpty bool) bool { return dEmpty || reflect.DeepEqual(dv, rv) }
	return same(d.Users, r.Users, len(d.Users) == 0) &&
		same(d.Accounts, r.Accounts, len(d.Accounts) == 0) &&
		same(d.OrgIDs, r.OrgIDs, len(d.OrgIDs) == 0) &&
		same(d.SourceIPs, r.SourceIPs, len(d.SourceIPs) == 0) &&
		same(d.Condition, r.Condition, d.Condition == "") &&
		same(d.Schedule, r.Schedule, d.Schedule == nil)
}
