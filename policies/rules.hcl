rule "engineers-read-analytics" {
  effect     = "allow"
  profiles   = ["analytics-*"]
  principals = ["arn:aws:iam::111122223333:role/engineer-*"]
  accounts   = ["111122223333"]
  org_ids    = ["o-a1b2c3d4e5"]
  condition  = request.duration_seconds <= 1800
  schedule {
    days     = ["mon", "tue", "wed", "thu", "fri"]
    hours    = "08:00-18:00"
    timezone = "Europe/Berlin"
  }
  max_duration = "30m"
  reason       = "Engineers read analytics on weekdays during office hours"
}

rule "sso-engineers-prod-readonly" {
  effect       = "allow"
  profiles     = ["prod-readonly"]
  principals   = ["arn:aws:iam::111122223333:role/AWSReservedSSO_Engineering_*"]
  users        = ["*@example.com"]
  max_duration = "20m"
  reason       = "SSO engineers may read production"
}

rule "ci-deploys-from-runners" {
  effect     = "allow"
  profiles   = ["ci-deploy"]
  principals = ["arn:aws:iam::111122223333:role/ci-runner-*"]
  source_ips = ["10.20.0.0/16"]
  condition  = startswith(principal.session_name, "build-")
  reason     = "CI runners deploy from the build network"
}

rule "no-nightly-deploys" {
  effect     = "deny"
  profiles   = ["ci-deploy"]
  principals = ["*"]
  schedule {
    hours    = "22:00-06:00"
    timezone = "UTC"
  }
  reason = "Deployments are frozen overnight"
}

rule "prod-admin-needs-approval" {
  effect         = "require_approval"
  profiles       = ["prod-admin"]
  principals     = ["arn:aws:iam::111122223333:role/sre-*", "arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
  approvers      = ["arn:aws:iam::111122223333:role/AWSReservedSSO_Security_*"]
  approver_users = ["*@example.com"]
  min_approvals  = 1
  max_duration   = "30m"
  reason         = "Production administration needs a second person"
}

rule "contractors-never-prod" {
  effect     = "deny"
  profiles   = ["prod-*"]
  principals = ["arn:aws:iam::111122223333:role/contractor-*"]
  reason     = "Contractors have no production access"
}
