rule "devs-read" {
  effect     = "alow"
  profiles   = ["dev-*"]
  principals = ["arn:aws:iam::111122223333:role/dev-*"]
}

rule "nothing-matches" {
  effect     = "allow"
  profiles   = ["prod-*"]
  principals = ["*"]
}
