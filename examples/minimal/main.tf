# The smallest useful deployment: one protected role, one rule letting the
# principals of this account vend it for up to an hour.

provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  name       = var.name
  account_id = data.aws_caller_identity.current.account_id
  # Built from known values, not module.readonly_role.arn (known only after
  # apply): the policy is then compiled and tested at plan time.
  readonly_role_name = "${local.name}-readonly"
  readonly_role_arn  = "arn:${data.aws_partition.current.partition}:iam::${local.account_id}:role/${local.readonly_role_name}"
}

module "sentinel_tvm" {
  source = "../../"

  name                = local.name
  allowed_account_ids = [local.account_id]
  api_gateway_account = var.api_gateway_account

  policy_files = {
    "policy.hcl" = templatefile("${path.module}/policies/policy.hcl.tftpl", {
      readonly_role_arn = local.readonly_role_arn
      account_id        = local.account_id
      partition         = data.aws_partition.current.partition
    })
  }

  # An example: easy to destroy, short-lived logs.
  table                        = { deletion_protection = false }
  kms_key_deletion_window_days = 7
  log_retention_days           = 7
  alarms                       = { create = false }
}

module "readonly_role" {
  source = "../../modules/protected-role"

  name                   = local.readonly_role_name
  tvm_execution_role_arn = module.sentinel_tvm.execution_role_arn
  # Vended sessions may only read their own identity and list buckets.
  inline_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["s3:ListAllMyBuckets"], Resource = "*" }]
  })
}
