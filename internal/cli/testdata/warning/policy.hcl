profile "dev-read" {
  role_arn = "arn:aws:iam::111122223333:role/sentinel/dev-read"
}

rule "nobody" {
  effect     = "deny"
  profiles   = ["*"]
  principals = ["*"]
  reason     = "Closed for maintenance"
}

rule "devs-read" {
  effect     = "allow"
  profiles   = ["dev-read"]
  principals = ["arn:aws:iam::111122223333:role/dev-*"]
}
