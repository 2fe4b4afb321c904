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

rule "devs-dev" {
  effect       = "allow"
  profiles     = ["dev"]
  principals   = ["arn:aws:iam::111122223333:role/dev"]
  max_duration = "30m"
  reason       = "developers use dev"
}

rule "no-contractors" {
  effect     = "deny"
  profiles   = ["dev", "prod"]
  principals = ["arn:aws:iam::111122223333:role/contractor"]
  reason     = "contractors are offboarded"
}

rule "auditors-dev" {
  effect     = "allow"
  profiles   = ["dev"]
  principals = ["arn:aws:iam::111122223333:role/auditor"]
  reason     = "auditors read dev"
}

rule "auditors-prod" {
  effect     = "require_approval"
  profiles   = ["prod"]
  principals = ["arn:aws:iam::111122223333:role/auditor"]
  approvers  = ["arn:aws:iam::111122223333:role/sre"]
  reason     = "auditors need approval for prod"
}

rule "sre-prod" {
  effect     = "require_approval"
  profiles   = ["prod"]
  principals = ["arn:aws:iam::111122223333:role/sre"]
  approvers  = ["arn:aws:iam::111122223333:role/sre"]
  reason     = "prod needs a second SRE"
}

rule "dev-no-prod" {
  effect     = "deny"
  profiles   = ["prod"]
  principals = ["arn:aws:iam::111122223333:role/dev"]
  reason     = "developers stay out of prod"
}

rule "qa-prod" {
  effect       = "allow"
  profiles     = ["prod"]
  principals   = ["arn:aws:iam::111122223333:role/qa"]
  max_duration = "20m"
  reason       = "QA tests prod"
}

rule "ci" {
  effect     = "allow"
  profiles   = ["ci"]
  principals = ["arn:aws:iam::111122223333:role/ci"]
  reason     = "CI deploys"
}

rule "ops-new" {
  effect     = "allow"
  profiles   = ["ops"]
  principals = ["arn:aws:iam::111122223333:role/AWSReservedSSO_Ops_*"]
  reason     = "operators run ops"
}
