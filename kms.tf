# One customer managed key encrypts the policy parameter, the table, the
# SNS topics and the log groups (or bring your own with var.kms_key_arn). Its policy grants use
# only through the services that need it, to the principals that need it;
# the account root keeps administration (so IAM can delegate it) but no use.

locals {
  create_kms_key = var.kms_key_arn == null
  kms_key_arn    = local.create_kms_key ? aws_kms_key.this[0].arn : var.kms_key_arn

  kms_via_services = [
    "ssm.${local.region}.${local.dns_suffix}",
    "dynamodb.${local.region}.${local.dns_suffix}",
    "sns.${local.region}.${local.dns_suffix}",
  ]
  # The deployer (the role behind the current session) writes the policy
  # parameter and creates the table; extra users are for CI and operators.
  kms_key_users = distinct(concat([data.aws_iam_session_context.current.issuer_arn], var.kms_key_user_arns))
}

data "aws_iam_policy_document" "kms" {
  count = local.create_kms_key ? 1 : 0

  statement {
    sid = "KeyAdministration"
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    actions = [
      "kms:CancelKeyDeletion", "kms:Create*", "kms:Delete*", "kms:Describe*", "kms:Disable*",
      "kms:Enable*", "kms:Get*", "kms:List*", "kms:Put*", "kms:Revoke*", "kms:ScheduleKeyDeletion",
      "kms:TagResource", "kms:UntagResource", "kms:Update*",
    ]
    resources = ["*"]
  }

  statement {
    sid = "DeployerUseThroughServices"
    principals {
      type        = "AWS"
      identifiers = local.kms_key_users
    }
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.kms_via_services
    }
  }

  statement {
    sid = "FunctionUseThroughServices"
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.api.arn]
    }
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.kms_via_services
    }
  }

  statement {
    sid = "CloudWatchLogs"
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.${local.dns_suffix}"]
    }
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values = [
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.api_log_group_name}",
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.revoker_log_group_name}",
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.access_log_group_name}",
      ]
    }
  }

  dynamic "statement" {
    for_each = local.create_sns_topic ? [1] : []
    content {
      sid = "CloudWatchAlarmsPublishToTheEncryptedTopic"
      principals {
        type        = "Service"
        identifiers = ["cloudwatch.${local.dns_suffix}"]
      }
      actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
      resources = ["*"]
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }
}

resource "aws_kms_key" "this" {
  count = local.create_kms_key ? 1 : 0

  description             = "Sentinel TVM ${var.name}: policy bundle, table, logs"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_key_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = local.tags
}

resource "aws_kms_alias" "this" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this[0].key_id
}
