test "SSO engineer reads production, capped at 20 minutes" {
  principal       = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Engineering_0123abcd/dana@example.com"
  profile         = "prod-readonly"
  duration        = "1h"
  expect          = "allow"
  expect_rule     = "sso-engineers-prod-readonly"
  expect_duration = "20m"
}

test "an untrusted role session name is not a user" {
  principal = "arn:aws:sts::111122223333:assumed-role/engineer-dev/dana@example.com"
  profile   = "prod-readonly"
  expect    = "deny"
}

test "prod-admin needs approval" {
  principal   = "arn:aws:sts::111122223333:assumed-role/sre-platform/bob"
  profile     = "prod-admin"
  expect      = "require_approval"
  expect_rule = "prod-admin-needs-approval"
}

test "an approved prod-admin request is allowed, capped by the rule" {
  principal       = "arn:aws:sts::111122223333:assumed-role/sre-platform/bob"
  profile         = "prod-admin"
  duration        = "1h"
  approved        = true
  expect          = "allow"
  expect_rule     = "prod-admin-needs-approval"
  expect_duration = "30m"
}

test "on-call break-glass skips the approval" {
  principal       = "arn:aws:sts::111122223333:assumed-role/sre-oncall-primary/carol"
  profile         = "prod-admin"
  duration        = "1h"
  break_glass     = true
  expect          = "allow"
  expect_rule     = "prod-emergency"
  expect_duration = "1h"
}

test "break-glass turns the default deny into allow" {
  principal   = "arn:aws:sts::111122223333:assumed-role/sre-oncall-primary/carol"
  profile     = "prod-readonly"
  break_glass = true
  expect      = "allow"
  expect_rule = "prod-emergency"
}

test "break-glass does not help someone no block covers" {
  principal   = "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice"
  profile     = "prod-readonly"
  break_glass = true
  expect      = "deny"
  expect_rule = "default-deny"
}

test "break-glass never overrides an explicit deny" {
  principal   = "arn:aws:sts::111122223333:assumed-role/contractor-ops/eve"
  profile     = "prod-admin"
  break_glass = true
  approved    = true
  expect      = "deny"
  expect_rule = "contractors-never-prod"
}
