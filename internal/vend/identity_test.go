package vend_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sentinel-tvm/sentinel-tvm/internal/vend"
)

// Attacks of an insider who controls their own identity as far as AWS lets
// them: a second SSO permission set, a chosen session name, a role named
// like a trusted one. docs/security.md lists them.

// ssoPolicy: dana and erin sign in through IAM Identity Center with several
// permission sets (AWSReservedSSO_* roles, trusted session roles); prod
// needs approval from the Security or Admin permission set.
const ssoPolicy = `
settings {
  trusted_session_roles = ["arn:aws:iam::*:role/AWSReservedSSO_*"]
}

profile "prod" { role_arn = "arn:aws:iam::444455556666:role/prod" }
profile "dev"  { role_arn = "arn:aws:iam::111122223333:role/dev" }

rule "prod-approval" {
  effect        = "require_approval"
  profiles      = ["prod"]
  principals    = ["arn:aws:iam::*:role/AWSReservedSSO_*"]
  approvers     = ["arn:aws:iam::*:role/AWSReservedSSO_Security_*", "arn:aws:iam::*:role/AWSReservedSSO_Admin_*"]
  min_approvals = 2
}

rule "dev" {
  effect     = "allow"
  profiles   = ["dev"]
  principals = ["arn:aws:iam::*:role/AWSReservedSSO_*"]
}
`

const (
	danaEng      = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Engineering_0123456789abcdef/dana@example.com"
	danaSecurity = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Security_fedcba9876543210/dana@example.com"
	danaOtherAcc = "arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_Security_0011223344556677/dana@example.com"
	erinSecurity = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Security_fedcba9876543210/erin@example.com"
	erinAdmin    = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_00aa11bb22cc33dd/erin@example.com"
	frankAdmin   = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_00aa11bb22cc33dd/frank@example.com"
)

func TestSelfApprovalThroughSecondPermissionSet(t *testing.T) {
	h := newHarness(t, withPolicySource(vend.StaticPolicy{P: compileHCL(t, ssoPolicy).Policy}))
	r := h.do(call(t, danaEng, "POST", "/v1/approvals", "", `{"profile":"prod","justification":"hotfix"}`))
	if r.StatusCode != 201 {
		t.Fatalf("request: %d %s", r.StatusCode, r.Body)
	}
	id := r.JSON["approval_id"].(string)

	// dana through her Security permission set, in this account or another,
	// is still dana.
	for _, self := range []string{danaSecurity, danaOtherAcc} {
		wantError(t, h.do(call(t, self, "POST", "/v1/approvals/{id}/approve", id, "")),
			403, vend.CodeForbidden, "nobody approves or denies their own request")
	}
	// erin counts once, whichever permission set she approves through.
	if r := h.do(call(t, erinSecurity, "POST", "/v1/approvals/{id}/approve", id, "")); r.JSON["status"] != "pending" {
		t.Fatalf("after erin: %d %s", r.StatusCode, r.Body)
	}
	wantError(t, h.do(call(t, erinAdmin, "POST", "/v1/approvals/{id}/approve", id, "")),
		409, vend.CodeConflict, "the request is no longer pending, or you have decided it already")
	if a, err := h.mem.GetApproval(context.Background(), id); err != nil || a.Status != "pending" || len(a.Decisions) != 1 {
		t.Fatalf("erin's second permission set counted: %+v %v", a, err)
	}
	// A second person approves it.
	if r := h.do(call(t, frankAdmin, "POST", "/v1/approvals/{id}/approve", id, "")); r.JSON["status"] != "approved" {
		t.Fatalf("after frank: %d %s", r.StatusCode, r.Body)
	}
}

func TestOwnRequestsAcrossPermissionSets(t *testing.T) {
	h := newHarness(t, withPolicySource(vend.StaticPolicy{P: compileHCL(t, ssoPolicy).Policy}))
	// Her own approval request: visible and cancellable from her other
	// permission set (she is its requester there too).
	r := h.do(call(t, danaEng, "POST", "/v1/approvals", "", `{"profile":"prod","justification":"hotfix"}`))
	id := r.JSON["approval_id"].(string)
	if r := h.do(call(t, danaSecurity, "POST", "/v1/approvals/{id}/cancel", id, "")); r.StatusCode != 200 || r.JSON["status"] != "cancelled" {
		t.Fatalf("cancel from her other permission set: %d %s", r.StatusCode, r.Body)
	}
	// Her own session: visible from her other permission set, not to erin.
	r = h.do(loadEvent(t, "credentials-native.json").caller(danaEng).profile("dev"))
	if r.StatusCode != 200 {
		t.Fatalf("vend: %d %s", r.StatusCode, r.Body)
	}
	sid := r.JSON["session_id"].(string)
	if r := h.do(call(t, danaSecurity, "GET", "/v1/sessions/{id}", sid, "")); r.StatusCode != 200 {
		t.Errorf("own session from another permission set: %d %s", r.StatusCode, r.Body)
	}
	wantError(t, h.do(call(t, erinSecurity, "GET", "/v1/sessions/{id}", sid, "")),
		403, vend.CodeForbidden, "only the session's owner and operators see or revoke it")
}

func TestRateLimitIsPerPerson(t *testing.T) {
	h := newHarness(t, withPolicySource(vend.StaticPolicy{P: compileHCL(t, ssoPolicy).Policy}),
		withConfig(func(c *vend.Config) { c.RateLimit = 2 }))
	for _, who := range []string{danaEng, danaSecurity} {
		if r := h.do(loadEvent(t, "credentials-native.json").caller(who).profile("dev")); r.StatusCode != 200 {
			t.Fatalf("%s: %d %s", who, r.StatusCode, r.Body)
		}
	}
	// A third permission set does not bring a fresh limit.
	wantError(t, h.do(loadEvent(t, "credentials-native.json").caller(danaOtherAcc).profile("dev")), 429, vend.CodeRateLimited, "")
	if r := h.do(loadEvent(t, "credentials-native.json").caller(erinSecurity).profile("dev")); r.StatusCode != 200 {
		t.Errorf("another person: %d %s", r.StatusCode, r.Body)
	}
}

func TestRoleSessionNameIsNotCallerChosen(t *testing.T) {
	h := newHarness(t, withPolicySource(vend.StaticPolicy{P: compileHCL(t, ssoPolicy+`
rule "engineers" {
  effect     = "allow"
  profiles   = ["dev"]
  principals = ["arn:aws:iam::111122223333:role/engineer-*"]
}
`).Policy}))
	// An untrusted caller names its session after somebody else.
	r := h.do(loadEvent(t, "credentials-native.json").caller("arn:aws:sts::111122223333:assumed-role/engineer-dev/dana@example.com").profile("dev"))
	if r.StatusCode != 200 {
		t.Fatalf("%d %s", r.StatusCode, r.Body)
	}
	sid := r.JSON["session_id"].(string)
	in := h.sts.Inputs()[0]
	if got, want := aws.ToString(in.RoleSessionName), "engineer-dev."+sid[:12]; got != want {
		t.Errorf("untrusted caller: RoleSessionName %q, want %q", got, want)
	}
	// A trusted user appears as themselves.
	if r := h.do(loadEvent(t, "credentials-native.json").caller(danaEng).profile("dev")); r.StatusCode != 200 {
		t.Fatalf("%d %s", r.StatusCode, r.Body)
	}
	if got := aws.ToString(h.sts.Inputs()[1].RoleSessionName); got != "dana@example.com" {
		t.Errorf("trusted user: RoleSessionName %q, want dana@example.com", got)
	}
}

func TestEmptyValueInScopingDeniesVend(t *testing.T) {
	pol := compileHCL(t, `
settings {
  trusted_session_roles = ["arn:aws:iam::*:role/AWSReservedSSO_*"]
}

profile "homes" {
  role_arn = "arn:aws:iam::111122223333:role/homes"
  session_policy = {
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "s3:*", Resource = "arn:aws:s3:::homes/${principal.user}*" }]
  }
}

profile "org" {
  role_arn     = "arn:aws:iam::111122223333:role/org"
  session_tags = { org = principal.org_id }
}

rule "everyone" {
  effect     = "allow"
  profiles   = ["*"]
  principals = ["arn:aws:iam::111122223333:role/*"]
}
`)
	h := newHarness(t, withPolicySource(vend.StaticPolicy{P: pol.Policy}))
	// An untrusted caller has no principal.user: "homes/${principal.user}*"
	// would be "homes/*", everybody's home.
	wantError(t, h.do(loadEvent(t, "credentials-native.json").profile("homes")),
		403, vend.CodePolicyDenied, "the profile's session scoping needs principal.user, which is empty for this caller")
	// A caller outside an organization has no principal.org_id.
	wantError(t, h.do(loadEvent(t, "credentials-native.json").profile("org")),
		403, vend.CodePolicyDenied, "the profile's session scoping needs principal.org_id, which is empty for this caller")
	if h.sts.Calls() != 0 {
		t.Fatalf("STS called %d times", h.sts.Calls())
	}
	// A trusted user gets the home.
	r := h.do(loadEvent(t, "credentials-native.json").caller("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Eng_0123/dana").profile("homes"))
	if r.StatusCode != 200 || !strings.Contains(aws.ToString(h.sts.Inputs()[0].Policy), "homes/dana*") {
		t.Fatalf("trusted user: %d %s", r.StatusCode, r.Body)
	}
}

func TestTrustedRolePinnedByUniqueID(t *testing.T) {
	pol := compileHCL(t, `
settings {
  trusted_session_roles    = ["arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
  trusted_session_role_ids = ["AROAREALSSOROLE000001"]
}

profile "dev" { role_arn = "arn:aws:iam::111122223333:role/dev" }

rule "dana" {
  effect     = "allow"
  profiles   = ["dev"]
  principals = ["arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
  users      = ["dana@example.com"]
}
`)
	h := newHarness(t, withPolicySource(vend.StaticPolicy{P: pol.Policy}))
	const arn = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Eng_0123/dana@example.com"
	as := func(uniqueID string) event {
		e := loadEvent(t, "credentials-native.json").caller(arn).profile("dev")
		e.identity()["caller"], e.identity()["user"] = uniqueID, uniqueID
		return e
	}
	// The real Identity Center role.
	if r := h.do(as("AROAREALSSOROLE000001:dana@example.com")); r.StatusCode != 200 {
		t.Fatalf("pinned role: %d %s", r.StatusCode, r.Body)
	}
	// A role an insider created under the same name (after the real one was
	// deleted, or in the IAM console of an account without Identity
	// Center) has another unique ID: nobody is a trusted user there.
	wantError(t, h.do(as("AROAIMPOSTORROLE00001:dana@example.com")), 403, vend.CodePolicyDenied, "no rule allows this request")
	if h.sts.Calls() != 1 {
		t.Errorf("STS calls %d, want 1", h.sts.Calls())
	}
}

func TestRevocationBlockHoldsAcrossPermissionSets(t *testing.T) {
	h := newHarness(t, withPolicySource(vend.StaticPolicy{P: compileHCL(t, ssoPolicy).Policy}), withRevoker(&fakeRevoker{}))
	r := h.do(loadEvent(t, "credentials-native.json").caller(danaEng).profile("dev"))
	if r.StatusCode != 200 {
		t.Fatalf("vend: %d %s", r.StatusCode, r.Body)
	}
	sid := r.JSON["session_id"].(string)
	if r := h.do(call(t, danaEng, "POST", "/v1/sessions/{id}/revoke", sid, `{"reason":"lost laptop","block_minutes":30}`)); r.StatusCode != 200 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	// Her other permission set does not get around the block.
	r = h.do(loadEvent(t, "credentials-native.json").caller(danaSecurity).profile("dev"))
	if r.StatusCode != 403 || r.Err.Code != vend.CodeSessionRevoked {
		t.Fatalf("second permission set after a block: %d %s", r.StatusCode, r.Body)
	}
	if r := h.do(loadEvent(t, "credentials-native.json").caller(erinSecurity).profile("dev")); r.StatusCode != 200 {
		t.Errorf("another person: %d %s", r.StatusCode, r.Body)
	}
}
