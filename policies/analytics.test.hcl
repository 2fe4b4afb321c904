test "engineer reads analytics on a weekday" {
  principal       = "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice"
  org_id          = "o-a1b2c3d4e5"
  profile         = "analytics-readonly"
  time            = "2026-03-02T10:00:00+01:00"
  duration        = "20m"
  expect          = "allow"
  expect_rule     = "engineers-read-analytics"
  expect_duration = "20m"
}

test "analytics gets the profile default when no duration is asked" {
  principal       = "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice"
  org_id          = "o-a1b2c3d4e5"
  profile         = "analytics-readonly"
  time            = "2026-03-03T09:30:00+01:00"
  expect          = "allow"
  expect_duration = "15m"
}

test "analytics condition refuses more than 30 minutes" {
  principal   = "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice"
  org_id      = "o-a1b2c3d4e5"
  profile     = "analytics-readonly"
  time        = "2026-03-02T10:00:00+01:00"
  duration    = "45m"
  expect      = "deny"
  expect_rule = "default-deny"
}

test "analytics is closed on Saturday" {
  principal   = "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice"
  org_id      = "o-a1b2c3d4e5"
  profile     = "analytics-readonly"
  time        = "2026-03-07T10:00:00+01:00"
  expect      = "deny"
  expect_rule = "default-deny"
}

test "analytics is closed after 18:00 Berlin time" {
  principal = "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice"
  org_id    = "o-a1b2c3d4e5"
  profile   = "analytics-readonly"
  time      = "2026-03-02T17:30:00Z"
  expect    = "deny"
}

test "callers outside the organization get nothing" {
  principal = "arn:aws:sts::111122223333:assumed-role/engineer-dev/alice"
  profile   = "analytics-readonly"
  time      = "2026-03-02T10:00:00+01:00"
  expect    = "deny"
}
