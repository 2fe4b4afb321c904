# Everything switched on: two protected roles (read-only, and admin behind
# approval or break-glass), callers of this account and optional
# organizations, notifications, alarms with e-mail, X-Ray.

provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  name       = var.name
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # Built from known values, not the role modules' outputs (known only
  # after apply): the policy is then compiled and tested at plan time.
  readonly_role_name = "${local.name}-readonly"
  admin_role_name    = "${local.name}-admin"
  role_arn_prefix    = "arn:${local.partition}:iam::${local.account_id}:role/"
  approvers          = coalesce(var.approver_principals, ["arn:${local.partition}:iam::${local.account_id}:role/*security*"])
}

module "sentinel_tvm" {
  source = "../../"

  name                = local.name
  allowed_account_ids = [local.account_id]
  allowed_org_ids     = var.allowed_org_ids
  api_gateway_account = var.api_gateway_account

  policy_files = {
    "policy.hcl" = templatefile("${path.module}/policies/policy.hcl.tftpl", {
      readonly_role_arn = "${local.role_arn_prefix}${local.readonly_role_name}"
      admin_role_arn    = "${local.role_arn_prefix}${local.admin_role_name}"
      account_id        = local.account_id
      partition         = local.partition
      approvers         = jsonencode(local.approvers)
    })
    "policy.test.hcl" = templatefile("${path.module}/policies/policy.test.hcl.tftpl", {
      account_id = local.account_id
      partition  = local.partition
    })
  }

  service = {
    rate_limit           = 20
    rate_window_seconds  = 60
    approval_ttl_seconds = 14400
  }
  api = {
    throttling_rate_limit  = 20
    throttling_burst_limit = 40
    xray_tracing           = true
  }
  lambda = { tracing = true }

  notifications = {
    create_topic        = true
    email_subscriptions = var.notification_emails
  }
  alarms = {
    create_topic        = true
    email_subscriptions = var.alarm_emails
    denial_threshold    = 10
  }

  # An example: easy to destroy, short-lived logs.
  table                        = { deletion_protection = false }
  kms_key_deletion_window_days = 7
  log_retention_days           = 14

  tags = { example = "complete" }
}

module "readonly_role" {
  source = "../../modules/protected-role"

  name                   = local.readonly_role_name
  path                   = "/sentinel/"
  tvm_execution_role_arn = module.sentinel_tvm.execution_role_arn
  policy_arns            = ["arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"]
}

module "admin_role" {
  source = "../../modules/protected-role"

  name                   = local.admin_role_name
  path                   = "/sentinel/"
  tvm_execution_role_arn = module.sentinel_tvm.execution_role_arn
  max_session_duration   = 3600
  # Deliberately small for an example: "admin" may manage the example's tags.
  inline_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["tag:GetResources", "tag:TagResources"], Resource = "*" }]
  })
}
