settings {
  default_duration      = "1h"
  max_duration          = "1h"
  trusted_session_roles = ["arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
}

profile "dev" {
  role_arn = "arn:aws:iam::111122223333:role/sentinel/dev"
}

profile "prod" {
  role_arn = "arn:aws:iam::111122223333:role/sentinel/prod"
}

profile "ci" {
  role_arn = "arn:aws:iam::111122223333:role/sentinel/ci"
}

profile "ops" {
  role_arn = "arn:aws:iam::111122223333:role/sentinel/ops"
}

profile "legacy" {
  role_arn = "arn:aws:iam::111122223333:role/sentinel/legacy"
}

rule "devs-dev" {
  effect     = "allow"
  profiles   = ["dev"]
  principals = ["arn:aws:iam::111122223333:role/dev"]
  reason     = "developers use dev"
}

rule "contractors-dev" {
  effect     = "allow"
  profiles   = ["dev"]
  principals = ["arn:aws:iam::111122223333:role/contractor"]
  reason     = "contractors use dev"
}

rule "sre-prod" {
  effect     = "allow"
  profiles   = ["prod"]
  principals = ["arn:aws:iam::111122223333:role/sre"]
  reason     = "SRE run prod"
}

rule "dev-prod" {
  effect     = "require_approval"
  profiles   = ["prod"]
  principals = ["arn:aws:iam::111122223333:role/dev"]
  approvers  = ["arn:aws:iam::111122223333:role/sre"]
  reason     = "developers need an SRE to approve prod"
}

rule "qa-prod" {
  effect     = "require_approval"
  profiles   = ["prod"]
  principals = ["arn:aws:iam::111122223333:role/qa"]
  approvers  = ["arn:aws:iam::111122223333:role/sre"]
  reason     = "QA needs an SRE to approve prod"
}

rule "ci" {
  effect       = "allow"
  profiles     = ["ci"]
  principals   = ["arn:aws:iam::111122223333:role/ci"]
  max_duration = "30m"
  reason       = "CI deploys"
}

rule "ops-old" {
  effect     = "allow"
  profiles   = ["ops"]
  principals = ["arn:aws:iam::111122223333:role/AWSReservedSSO_Ops_*"]
  reason     = "operators run ops"
}

rule "legacy" {
  effect     = "allow"
  profiles   = ["legacy"]
  principals = ["arn:aws:iam::111122223333:role/dev"]
  reason     = "the old tool"
}
