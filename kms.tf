# One customer managed key encrypts the policy parameter, the table, the
# SNS topics, the functions' environment and the log groups (or bring your
# own with var.kms_key_arn). The policy follows terraform-aws-modules/kms:
#
#   - key_administrators (default: the account, i.e. IAM policies in it)
#     manage the key but cannot use it, and cannot create grants (no
#     kms:Create*: kms:CreateGrant would let them grant themselves decrypt);
#   - key_users use it directly (e.g. an operator reading encrypted logs);
#   - every principal of this account may use it only through SSM, DynamoDB
#     and Lambda (kms:CallerAccount + kms:ViaService), as AWS managed keys
#     do: the parameter's, table's and function's own IAM permissions then
#     decide who reads what. Planning reads the SecureString back with
#     decryption, so anyone allowed ssm:GetParameter on it can plan;
#   - the functions' roles, CloudWatch Logs and CloudWatch alarms (for the
#     encrypted topics) get what they need.
#
# Nothing in it depends on who runs `apply`.

locals {
  create_kms_key = var.create && var.kms_key_arn == null
  kms_key_arn    = local.create_kms_key ? aws_kms_key.this[0].arn : var.create ? var.kms_key_arn : null

  kms_via_services = [
    "ssm.${local.region}.${local.dns_suffix}",
    "dynamodb.${local.region}.${local.dns_suffix}",
    "sns.${local.region}.${local.dns_suffix}",
  ]
  # The services through which any principal of the account may use the key.
  kms_account_via_services = [
    "ssm.${local.region}.${local.dns_suffix}",
    "dynamodb.${local.region}.${local.dns_suffix}",
    "lambda.${local.region}.${local.dns_suffix}",
  ]
  kms_key_administrators = !var.create ? [] : length(var.key_administrators) > 0 ? var.key_administrators : ["arn:${local.partition}:iam::${local.account_id}:root"]

  # Administration without use and without grants.
  kms_admin_actions = [
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey",
    "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation",
    "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListGrants",
    "kms:ListKeyPolicies", "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:RevokeGrant",
    "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
    "kms:UpdateAlias", "kms:UpdateKeyDescription",
  ]

  kms_log_group_arns = !var.create ? [] : [
    for n in [local.api_log_group_name, local.revoker_log_group_name, local.access_log_group_name] :
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${n}"
  ]
}

data "aws_iam_policy_document" "kms" {
  # A key policy's Resource "*" is the key itself, and the services and
  # principals it names are what constrains it:
  #checkov:skip=CKV_AWS_111:a key policy's Resource "*" is the key it is attached to
  #checkov:skip=CKV_AWS_356:a key policy's Resource "*" is the key it is attached to
  count = local.create_kms_key ? 1 : 0

  statement {
    sid = "KeyAdministration"
    principals {
      type        = "AWS"
      identifiers = local.kms_key_administrators
    }
    actions   = local.kms_admin_actions
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = length(var.key_users) > 0 ? [1] : []
    content {
      sid = "KeyUsers"
      principals {
        type        = "AWS"
        identifiers = var.key_users
      }
      actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
      resources = ["*"]
    }
  }

  statement {
    sid = "AccountUseThroughServices"
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    # CreateGrant: DynamoDB and Lambda hold the key through grants.
    actions   = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.kms_account_via_services
    }
  }

  statement {
    sid = "FunctionsUseThroughServices"
    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.api[0].arn, aws_iam_role.revoker[0].arn]
    }
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"]
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
    actions   = ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"]
    resources = ["*"]
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      # API Gateway's execution log group is named after the API's ID,
      # which is not known here without a cycle (the API depends on the
      # function, which depends on this key): its stage's groups in any of
      # this account's APIs.
      values = concat(local.kms_log_group_arns, [
        "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:API-Gateway-Execution-Logs_*/${var.api.stage_name}",
      ])
    }
  }

  dynamic "statement" {
    for_each = local.create_alarm_topic || local.create_notification_topic ? [1] : []
    content {
      sid = "CloudWatchAlarmsPublishToTheEncryptedTopics"
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

  description             = "Sentinel TVM ${var.name}: policy bundle, table, environment, logs"
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
