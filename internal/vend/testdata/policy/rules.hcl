rule "engineers-dev" {
  effect     = "allow"
  profiles   = ["dev-readonly", "scoped"]
  principals = ["arn:aws:iam::111122223333:role/engineer-*"]
  reason     = "Engineers read development data"
}

rule "org-members" {
  effect     = "allow"
  profiles   = ["org-only"]
  principals = ["*"]
  org_ids    = ["o-a1b2c3d4e5"]
  reason     = "Members of the organization"
}

rule "prod-admin-approval" {
  effect       = "require_approval"
  profiles     = ["prod-admin", "prod-denied"]
  principals   = ["arn:aws:iam::111122223333:role/engineer-*"]
  approvers    = ["arn:aws:iam::111122223333:role/security-*"]
  max_duration = "30m"
  reason       = "Production administration needs a second person"
}

rule "nobody-prod-denied" {
  effect     = "deny"
  profiles   = ["prod-denied"]
  principals = ["*"]
  reason     = "Nobody uses prod-denied"
}
