profile "dev-readonly" {
  role_arn     = "arn:aws:iam::111122223333:role/sentinel/dev-readonly"
  description  = "Read-only development data"
  max_duration = "30m"

  session_policy = {
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["arn:aws:s3:::dev-data/${principal.account_id}/*"]
    }]
  }

  session_tags = {
    team   = principal.name
    tenant = principal.account_id
  }
}

# The caller's role name reaches both the session policy and a tag. (A
# caller's own session name may not: the compiler refuses
# principal.session_name in the scoping of a profile that callers from
# untrusted roles can get.)
profile "scoped" {
  role_arn = "arn:aws:iam::111122223333:role/sentinel/scoped"

  session_policy = {
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["s3:GetObject"]
      Resource = ["arn:aws:s3:::home/${principal.name}/*"]
    }]
  }

  session_tags = {
    caller = principal.name
  }
}

profile "org-only" {
  role_arn = "arn:aws:iam::111122223333:role/sentinel/org-only"
}

profile "prod-admin" {
  role_arn    = "arn:aws:iam::444455556666:role/sentinel/prod-admin"
  description = "Production administration: approval or break-glass"
}

profile "prod-db" {
  role_arn    = "arn:aws:iam::444455556666:role/sentinel/prod-db"
  description = "Production database: break-glass only"
}

profile "prod-denied" {
  role_arn = "arn:aws:iam::444455556666:role/sentinel/prod-denied"
}
