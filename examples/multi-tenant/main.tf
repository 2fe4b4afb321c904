# The SaaS token-vending pattern: one shared bucket, one protected role
# that may read and write all of it, and a session policy that narrows each
# vended session to the caller's own prefix (tenant = the caller's account),
# plus a tenant session tag for attribute-based access control.

provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  name       = var.name
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  tenants    = distinct(concat([local.account_id], var.tenant_account_ids))
  # Built from known values, not resource or module outputs (known only
  # after apply): the policy is then compiled and tested at plan time.
  # Bucket names are global: the account ID keeps this one unique.
  bucket           = "${local.name}-${local.account_id}-tenant-data"
  tenant_role_name = "${local.name}-tenant"
  tenant_role_arn  = "arn:${local.partition}:iam::${local.account_id}:role/${local.tenant_role_name}"
}

# The example's demonstration bucket, destroyed with the example:
resource "aws_s3_bucket" "tenant_data" {
  #checkov:skip=CKV2_AWS_62:an example bucket; nothing consumes its events
  #checkov:skip=CKV2_AWS_61:an example bucket, destroyed with the example; no lifecycle to manage
  #checkov:skip=CKV_AWS_18:an example bucket; access logging would need a second bucket that outlives it
  #checkov:skip=CKV_AWS_21:an example bucket, force_destroy; versions would only slow its destruction
  #checkov:skip=CKV_AWS_145:an example bucket; S3's default encryption (SSE-S3) applies
  #checkov:skip=CKV_AWS_144:an example bucket; replication is a production choice outside the TVM
  bucket        = local.bucket
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

  name                = local.name
  allowed_account_ids = local.tenants
  api_gateway_account = var.api_gateway_account

  policy_files = {
    "policy.hcl" = templatefile("${path.module}/policies/policy.hcl.tftpl", {
      tenant_role_arn = local.tenant_role_arn
      bucket          = local.bucket
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

  name                   = local.tenant_role_name
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
