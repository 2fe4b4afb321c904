# Two functions, two roles: the API function vends and holds no IAM write
# permission; the revoker (the same bootstrap with SENTINEL_FUNCTION=revoker)
# holds only iam:GetRolePolicy/PutRolePolicy (and ListRolePolicies, to
# measure the role's inline-policy size) on the vended roles, for their
# `sentinel-tvm-revocations` inline policy, plus a read of the session
# records it checks every request against; only the API function's role is
# granted to invoke it (docs/revocation.md: who else could, and the SCP). Every grant names this module's
# resources; sts:* names exactly the roles the compiled policy can vend.

data "aws_iam_policy_document" "lambda_assume" {
  count = var.create ? 1 : 0

  statement {
    sid     = "LambdaService"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.${local.dns_suffix}"]
    }
  }
}

# --- The API function ----------------------------------------------------------

resource "aws_iam_role" "api" {
  count = var.create ? 1 : 0

  name               = "${var.name}-function"
  description        = "Sentinel TVM ${var.name}: the vending function"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume[0].json
  tags               = local.tags
}

data "aws_iam_policy_document" "api" {
  count = var.create ? 1 : 0

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.api[0].arn}:*"]
  }

  # store.DynamoAPI: GetItem, PutItem, UpdateItem, DeleteItem, Query and
  # TransactWriteItems (authorized per item: Put, Update, ConditionCheck).
  statement {
    sid       = "Table"
    actions   = ["dynamodb:ConditionCheckItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.this[0].arn, "${aws_dynamodb_table.this[0].arn}/index/*"]
  }

  # vend.SSMAPI: GetParameter with decryption.
  statement {
    sid       = "PolicyParameter"
    actions   = ["ssm:GetParameter"]
    resources = [aws_ssm_parameter.policy[0].arn]
  }

  # The SecureString, the table and the notification topic are encrypted
  # with the module's key.
  statement {
    sid       = "KeyThroughServices"
    actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*"]
    resources = [local.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = local.kms_via_services
    }
  }

  # vend.STSAPI: AssumeRole with Tags and SourceIdentity, only on the roles
  # the compiled policy names (role_arns of the plan-time compile), or with
  # var.vended_role_grants_by_path on their IAM paths.
  dynamic "statement" {
    for_each = length(local.vended_role_grants) > 0 ? [1] : []
    content {
      sid       = "AssumeVendedRoles"
      actions   = ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]
      resources = local.vended_role_grants
    }
  }

  # vend.SNSAPI: Publish state changes to the notification topic.
  dynamic "statement" {
    for_each = local.notify_topic_arn != null ? [1] : []
    content {
      sid       = "Notify"
      actions   = ["sns:Publish"]
      resources = [local.notify_topic_arn]
    }
  }

  # revoke.LambdaAPI: Invoke the revoker, synchronously.
  statement {
    sid       = "InvokeRevoker"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.revoker[0].arn]
  }

  dynamic "statement" {
    for_each = var.lambda.tracing ? [1] : []
    content {
      sid       = "XRay"
      actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
      resources = ["*"] # X-Ray has no resource-level permissions
    }
  }
}

locals {
  # A role ARN is arn:PARTITION:iam::ACCOUNT:role/PATH/NAME. By path, every
  # role under a path other than "/" is granted as arn:...:role/PATH/*: the
  # grant's size then grows with the number of paths, not of roles (each
  # vended role's trust policy still names the vending role).
  vended_role_grants = var.vended_role_grants_by_path ? distinct([
    for a in local.policy_role_arns :
    can(regex("^arn:[^:]+:iam::[0-9]{12}:role/.+/[^/]+$", a)) ? "${regex("^(arn:[^:]+:iam::[0-9]{12}:role/.+/)[^/]+$", a)[0]}*" : a
  ]) : local.policy_role_arns

  # IAM's limit on the size of a role's inline policies (all of them,
  # whitespace excluded).
  iam_role_inline_policy_limit = 10240
}

resource "aws_iam_role_policy" "api" {
  count = var.create ? 1 : 0

  name   = "sentinel-tvm"
  role   = aws_iam_role.api[0].id
  policy = data.aws_iam_policy_document.api[0].minified_json

  lifecycle {
    precondition {
      condition     = length(data.aws_iam_policy_document.api[0].minified_json) <= local.iam_role_inline_policy_limit
      error_message = "The vending function's inline policy is ${length(data.aws_iam_policy_document.api[0].minified_json)} characters; IAM allows ${local.iam_role_inline_policy_limit} for a role's inline policies (the policy's ${length(local.policy_role_arns)} role ARNs take most of it). Put the vended roles under IAM paths (e.g. /sentinel/) and set vended_role_grants_by_path = true, or vend fewer roles per deployment."
    }
  }
}

# --- The revoker ---------------------------------------------------------------

locals {
  # Vended roles in this account are written with the revoker's own role;
  # with var.revoker_role_name, roles in other accounts through that role
  # in their account (modules/revocation-writer, trusting the revoker's
  # role). Without it the revoker refuses roles of other accounts, and
  # revocation.tf stops the plan.
  local_role_arns = [for a in local.policy_role_arns : a if split(":", a)[4] == local.account_id]
  remote_accounts = var.revoker_role_name == null ? [] : distinct([for a in local.policy_role_arns : split(":", a)[4] if split(":", a)[4] != local.account_id])
  revoker_assumes = [for acct in local.remote_accounts : "arn:${local.partition}:iam::${acct}:role/${var.revoker_role_name}"]
  revoker_writes  = local.local_role_arns
}

resource "aws_iam_role" "revoker" {
  count = var.create ? 1 : 0

  name               = "${var.name}-revoker"
  description        = "Sentinel TVM ${var.name}: writes the sentinel-tvm-revocations inline policy of vended roles"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume[0].json
  tags               = local.tags
}

data "aws_iam_policy_document" "revoker" {
  count = var.create ? 1 : 0

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.revoker[0].arn}:*"]
  }

  # revoke.Sessions: the revoker acts only on sessions it finds in the
  # table (GetItem of the session record, nothing else).
  statement {
    sid       = "SessionTable"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.this[0].arn]
  }

  # The table is encrypted with the module's key.
  statement {
    sid       = "KeyThroughServices"
    actions   = ["kms:Decrypt", "kms:DescribeKey"]
    resources = [local.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${local.region}.${local.dns_suffix}"]
    }
  }

  # IAM has no condition key for an inline policy's name: the grant is on
  # the vended roles, and the revoker's code writes only
  # sentinel-tvm-revocations.
  dynamic "statement" {
    for_each = length(local.revoker_writes) > 0 ? [1] : []
    content {
      sid       = "RevocationPolicy"
      actions   = ["iam:GetRolePolicy", "iam:ListRolePolicies", "iam:PutRolePolicy"]
      resources = local.revoker_writes
    }
  }

  dynamic "statement" {
    for_each = length(local.revoker_assumes) > 0 ? [1] : []
    content {
      sid       = "WriterRolesInOtherAccounts"
      actions   = ["sts:AssumeRole"]
      resources = local.revoker_assumes
    }
  }

  dynamic "statement" {
    for_each = var.lambda.tracing ? [1] : []
    content {
      sid       = "XRay"
      actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
      resources = ["*"] # X-Ray has no resource-level permissions
    }
  }
}

resource "aws_iam_role_policy" "revoker" {
  count = var.create ? 1 : 0

  name   = "sentinel-tvm-revoker"
  role   = aws_iam_role.revoker[0].id
  policy = data.aws_iam_policy_document.revoker[0].json
}

# Who can invoke the revoker: its grant names only the API function's role,
# but any principal of this account with lambda:InvokeFunction on "*" (an
# administrator, a broad CI role) can invoke it too, and a function's
# resource-based policy can only grant, never deny. The revoker acts only
# on sessions in the table, so a forged event can at most revoke a real
# session early; to stop even that, attach this SCP (or the same statement
# as a permissions boundary) to the account: it denies invoking the revoker
# to everyone but the API function's role. docs/scp/ has the template.
data "aws_iam_policy_document" "revoker_invoke_scp" {
  count = var.create ? 1 : 0

  statement {
    sid       = "OnlyTheAPIFunctionInvokesTheRevoker"
    effect    = "Deny"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.revoker[0].arn, "${aws_lambda_function.revoker[0].arn}:*"]
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.api[0].arn]
    }
  }
}
