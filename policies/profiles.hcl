profile "analytics-readonly" {
  role_arn         = "arn:aws:iam::111122223333:role/sentinel/analytics-readonly"
  description      = "Read-only access to the caller account's analytics prefix"
  default_duration = "15m"
  max_duration     = "30m"

  session_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["s3:GetObject"]
        Resource = ["arn:aws:s3:::tenant-data/${principal.account_id}/*"]
      },
      {
        # ListBucket applies to the bucket, narrowed to the prefix.
        Effect    = "Allow"
        Action    = ["s3:ListBucket"]
        Resource  = ["arn:aws:s3:::tenant-data"]
        Condition = { StringLike = { "s3:prefix" = ["${principal.account_id}/*"] } }
      },
    ]
  }

  session_tags = {
    tenant = principal.account_id
    team   = principal.name
  }
}

profile "prod-admin" {
  role_arn     = "arn:aws:iam::444455556666:role/sentinel/prod-admin"
  description  = "Production administration: approval or break-glass only"
  max_duration = "1h"

  session_tags = {
    requested-by = principal.arn
  }
}

profile "prod-readonly" {
  role_arn    = "arn:aws:iam::444455556666:role/sentinel/prod-readonly"
  description = "Read-only production access for SSO engineers"
}

profile "ci-deploy" {
  role_arn         = "arn:aws:iam::111122223333:role/sentinel/ci-deploy"
  description      = "Deployments from CI runners"
  default_duration = "30m"

  session_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Deploy"
        Effect   = "Allow"
        Action   = ["lambda:UpdateFunctionCode", "lambda:PublishVersion"]
        Resource = "arn:aws:lambda:*:111122223333:function:${principal.name}-*"
      },
      {
        Sid      = "NoIAM"
        Effect   = "Deny"
        Action   = "iam:*"
        Resource = "*"
      },
    ]
  }
}
