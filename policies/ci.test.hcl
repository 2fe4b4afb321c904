test "CI runner deploys from the build network" {
  principal       = "arn:aws:sts::111122223333:assumed-role/ci-runner-payments/build-4711"
  profile         = "ci-deploy"
  source_ip       = "10.20.3.4"
  time            = "2026-03-04T14:00:00Z"
  expect          = "allow"
  expect_rule     = "ci-deploys-from-runners"
  expect_duration = "30m"
}

test "CI runner outside the build network is denied" {
  principal = "arn:aws:sts::111122223333:assumed-role/ci-runner-payments/build-4711"
  profile   = "ci-deploy"
  source_ip = "192.0.2.10"
  time      = "2026-03-04T14:00:00Z"
  expect    = "deny"
}

test "CI session names must start with build-" {
  principal = "arn:aws:sts::111122223333:assumed-role/ci-runner-payments/laptop"
  profile   = "ci-deploy"
  source_ip = "10.20.3.4"
  time      = "2026-03-04T14:00:00Z"
  expect    = "deny"
}

test "no deploys after midnight, in the window that started the day before" {
  principal   = "arn:aws:sts::111122223333:assumed-role/ci-runner-payments/build-4712"
  profile     = "ci-deploy"
  source_ip   = "10.20.3.4"
  time        = "2026-03-05T02:30:00Z"
  expect      = "deny"
  expect_rule = "no-nightly-deploys"
}
