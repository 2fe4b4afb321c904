test "developer reads" {
  principal   = "arn:aws:sts::111122223333:assumed-role/dev-alice/alice"
  profile     = "dev-read"
  expect      = "allow"
  expect_rule = "devs-read"
}

test "others are denied" {
  principal = "arn:aws:sts::111122223333:assumed-role/ops/bob"
  profile   = "dev-read"
  expect    = "deny"
}
