test "unterminated" {
  principal = "arn:aws:sts::111122223333:assumed-role/dev-alice/alice
