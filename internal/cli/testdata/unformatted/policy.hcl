profile "dev-read" {
  role_arn = "arn:aws:iam::111122223333:role/sentinel/dev-read"
  description = "Read-only development access"
}

rule "devs-read" {
effect = "allow"
  profiles = ["dev-*"]
  principals = ["arn:aws:iam::111122223333:role/dev-*"]
}
