test "developer reads, untidy" {
  principal = "arn:aws:sts::111122223333:assumed-role/dev-alice/alice"
    profile = "dev-read"
  expect = "allow"
}
