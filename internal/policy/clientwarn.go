package policy

import (
	"github.com/hashicorp/hcl/v2"
)

// warnClientOnly warns about a rule whose only restriction is
// request.client: every principal, no users, accounts, org_ids,
// source_ips or schedule, and a condition that reads request.client and
// nothing else. The caller sets request.client itself, so such a rule
// allows (or asks approval of) anyone who claims the mode, and a deny rule
// of this kind is bypassed by claiming another.
func (c *compiler) warnClientOnly(r *BundleRule, content *hcl.BodyContent) {
	a := content.Attributes
	cond := a["condition"]
	if cond == nil || len(r.Users) > 0 || len(r.Accounts) > 0 || len(r.OrgIDs) > 0 || len(r.SourceIPs) > 0 || len(content.Blocks) > 0 {
		return
	}
	if a["principals"] != nil && !anyPrincipal(r.Principals) {
		return
	}
	refs, diags := checkReferences(cond.Expr)
	if diags.HasErrors() {
		return
	}
	client := false
	for _, ref := range refs {
		switch ref {
		case varRef{"request", "client"}:
			client = true
		case varRef{"request", "profile"}: // the profiles attribute says as much
		default:
			return
		}
	}
	if !client {
		return
	}
	what := "allows anyone who says so"
	switch Effect(r.Effect) {
	case Deny:
		what = "denies only callers honest about their client: any other mode bypasses it"
	case RequireApproval:
		what = "lets anyone who says so ask for approval"
	}
	c.add(warningAt(cond.Expr.Range(), "request.client is the only restriction",
		"Rule %q %s. The caller sets request.client itself (the X-Sentinel-Client header): it can refine a rule, never secure one. Restrict the rule by principals, users, accounts, org_ids, source_ips or a schedule too.",
		r.Name, what))
}

// anyPrincipal reports whether principal globs match every principal.
func anyPrincipal(globs []string) bool {
	for _, g := range globs {
		if g == "*" || g == "arn:*" || g == "arn:aws:*" {
			return true
		}
	}
	return false
}
