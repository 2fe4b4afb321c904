profile "dev-read" {
  role_arn = "arn:aws:iam::111122223333:user/not-a-role"
}
