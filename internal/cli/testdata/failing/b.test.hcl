test "wrong rule" {
  principal   = "arn:aws:sts::111122223333:assumed-role/dev-alice/alice"
  profile     = "dev-read"
  expect      = "allow"
  expect_rule = "default-deny"
}

test "wrong duration" {
  principal       = "arn:aws:sts::111122223333:assumed-role/dev-alice/alice"
  profile         = "dev-read"
  duration        = "1h"
  expect          = "allow"
  expect_duration = "1h"
}
