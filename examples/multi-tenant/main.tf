# The SaaS token-vending pattern: one shared bucket, one protected role
# that may read and write all of it, and a session policy that narrows each
# vended session to the caller's own prefix (tenant = the caller's account),
# plus a tenant session tag for attribute-based access control.

provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

resource "random_string" "suffix" {
  length  = 6
  special = false
  upper   = false
}

locals {
  name       = "${var.name_prefix}-${random_string.suffix.result}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  tenants    = distinct(concat([local.account_id], var.tenant_account_ids))
}

resource "aws_s3_bucket" "tenant_data" {
  bucket        = "${local.name}-tenant-data"
  force_destroy = true # an example
}

resource "aws_s3_bucket_public_access_block" "tenant_data" {
  bucket                  = aws_s3_bucket.tenant_data.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

module "sentinel_tvm" {
  source = "../../"

  name                       = local.name
  allowed_account_ids        = local.tenants
  create_api_gateway_account = var.create_api_gateway_account

  policy_files = {
    "policy.hcl" = templatefile("${path.module}/policies/policy.hcl.tftpl", {
      tenant_role_arn = module.tenant_role.arn
      bucket          = aws_s3_bucket.tenant_data.bucket
      partition       = local.partition
      tenants         = jsonencode(local.tenants)
    })
  }

  # Per-tenant fairness: windows per principal and profile.
  service = { rate_limit = 60, rate_per_profile = true }

  table                        = { deletion_protection = false }
  kms_key_deletion_window_days = 7
  log_retention_days           = 7
  alarms                       = { create = false }
}

module "tenant_role" {
  source = "../../modules/protected-role"

  name                   = "${local.name}-tenant"
  tvm_execution_role_arn = module.sentinel_tvm.execution_role_arn
  # The role may touch the whole bucket; each session only its prefix.
  inline_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { Effect = "Allow", Action = ["s3:GetObject", "s3:PutObject"], Resource = "${aws_s3_bucket.tenant_data.arn}/*" },
      { Effect = "Allow", Action = ["s3:ListBucket"], Resource = aws_s3_bucket.tenant_data.arn },
    ]
  })
}
