# The REST API (regional or private), defined by api/openapi.yaml (imported
# as api/openapi.gateway.yaml, derived from it): every v1 route with
# AWS_IAM authorization, proxied to the API function. A resource policy
# admits only the allowed accounts and organizations (and, optionally,
# source CIDRs); the stage throttles, logs access as JSON to an encrypted log
# group, and can trace with X-Ray and sit behind a WAF web ACL.

locals {
  # The resource policy's resource: the full execution ARN (API Gateway
  # rewrites "execute-api:/*" to it, which would show a change on every plan).
  api_execute_arn = var.create ? "${aws_api_gateway_rest_api.this[0].execution_arn}/*" : null

  # Logging needs the account's API Gateway CloudWatch role (see
  # var.api_gateway_account).
  api_logging = var.api_gateway_account != "none"

  # The import body derived from api/openapi.yaml (make docs): every
  # schema in a form API Gateway's models fully support.
  api_body = var.create ? templatefile("${path.module}/api/openapi.gateway.yaml", {
    title             = var.name
    lambda_invoke_arn = aws_lambda_function.api[0].invoke_arn
  }) : null

  access_log_format = jsonencode({
    requestId          = "$context.requestId"
    extendedRequestId  = "$context.extendedRequestId"
    requestTime        = "$context.requestTime"
    httpMethod         = "$context.httpMethod"
    resourcePath       = "$context.resourcePath"
    path               = "$context.path"
    status             = "$context.status"
    protocol           = "$context.protocol"
    responseLength     = "$context.responseLength"
    responseLatency    = "$context.responseLatency"
    sourceIp           = "$context.identity.sourceIp"
    userAgent          = "$context.identity.userAgent"
    accountId          = "$context.identity.accountId"
    caller             = "$context.identity.caller"
    userArn            = "$context.identity.userArn"
    integrationStatus  = "$context.integration.status"
    integrationLatency = "$context.integration.latency"
    errorMessage       = "$context.error.message"
    authorizeError     = "$context.authorize.error"
    wafResponseCode    = "$context.wafResponseCode"
  })
}

data "aws_iam_policy_document" "api_resource" {
  count = var.create ? 1 : 0

  dynamic "statement" {
    for_each = length(var.allowed_account_ids) > 0 ? [1] : []
    content {
      sid       = "AllowListedAccounts"
      actions   = ["execute-api:Invoke"]
      resources = [local.api_execute_arn]
      principals {
        type        = "AWS"
        identifiers = [for id in var.allowed_account_ids : "arn:${local.partition}:iam::${id}:root"]
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.allowed_org_ids) > 0 ? [1] : []
    content {
      sid       = "AllowListedOrganizations"
      actions   = ["execute-api:Invoke"]
      resources = [local.api_execute_arn]
      principals {
        type        = "AWS"
        identifiers = ["*"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:PrincipalOrgID"
        values   = var.allowed_org_ids
      }
    }
  }

  # Identity policies of the API's own account would otherwise suffice:
  # deny every principal outside the lists explicitly.
  statement {
    sid       = "DenyOutsideAllowList"
    effect    = "Deny"
    actions   = ["execute-api:Invoke"]
    resources = [local.api_execute_arn]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    dynamic "condition" {
      for_each = length(var.allowed_account_ids) > 0 ? [1] : []
      content {
        test     = "StringNotEquals"
        variable = "aws:PrincipalAccount"
        values   = var.allowed_account_ids
      }
    }
    dynamic "condition" {
      for_each = length(var.allowed_org_ids) > 0 ? [1] : []
      content {
        test     = "StringNotEquals"
        variable = "aws:PrincipalOrgID"
        values   = var.allowed_org_ids
      }
    }
  }

  dynamic "statement" {
    for_each = var.api.endpoint_type == "PRIVATE" ? [1] : []
    content {
      sid       = "DenyOutsideVpcEndpoints"
      effect    = "Deny"
      actions   = ["execute-api:Invoke"]
      resources = [local.api_execute_arn]
      principals {
        type        = "AWS"
        identifiers = ["*"]
      }
      condition {
        test     = "StringNotEquals"
        variable = "aws:SourceVpce"
        values   = var.api.vpc_endpoint_ids
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.allowed_source_cidrs) > 0 ? [1] : []
    content {
      sid       = "DenyOutsideSourceCidrs"
      effect    = "Deny"
      actions   = ["execute-api:Invoke"]
      resources = [local.api_execute_arn]
      principals {
        type        = "AWS"
        identifiers = ["*"]
      }
      condition {
        test     = "NotIpAddress"
        variable = "aws:SourceIp"
        values   = var.allowed_source_cidrs
      }
    }
  }
}

resource "aws_api_gateway_rest_api" "this" {
  count = var.create ? 1 : 0

  name        = var.name
  description = "Sentinel TVM ${var.name}: token vending machine"
  body        = local.api_body
  # The body is api/openapi.gateway.yaml, reduced to what API Gateway's
  # models support: an import warning is a defect, and fails the apply.
  fail_on_warnings = true

  endpoint_configuration {
    types            = [var.api.endpoint_type]
    vpc_endpoint_ids = var.api.endpoint_type == "PRIVATE" ? var.api.vpc_endpoint_ids : null
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = length(var.allowed_account_ids) + length(var.allowed_org_ids) > 0
      error_message = "Set allowed_account_ids and/or allowed_org_ids: the API admits only principals of listed accounts or organizations, and there is no open default."
    }
  }
}

# The resource policy has its own resource: it names the API's execution
# ARN, which exists only once the API does.
resource "aws_api_gateway_rest_api_policy" "this" {
  count = var.create ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this[0].id
  policy      = data.aws_iam_policy_document.api_resource[0].json
}

# A new deployment whenever the routes or the resource policy change (a
# resource policy takes effect only with a deployment).
resource "aws_api_gateway_deployment" "this" {
  count = var.create ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this[0].id

  triggers = {
    redeployment = sha256(join("\n", [local.api_body, aws_api_gateway_rest_api_policy.this[0].policy]))
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  count = var.create ? 1 : 0

  name              = local.access_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}

# API Gateway would create the execution log group itself, without
# retention or encryption, and leave it after destroy.
resource "aws_cloudwatch_log_group" "execution" {
  count = var.create && local.api_logging ? 1 : 0

  name              = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this[0].id}/${var.api.stage_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}

resource "aws_api_gateway_stage" "this" {
  count = var.create ? 1 : 0

  rest_api_id          = aws_api_gateway_rest_api.this[0].id
  deployment_id        = aws_api_gateway_deployment.this[0].id
  stage_name           = var.api.stage_name
  xray_tracing_enabled = var.api.xray_tracing

  dynamic "access_log_settings" {
    for_each = local.api_logging ? [1] : []
    content {
      destination_arn = aws_cloudwatch_log_group.access[0].arn
      format          = local.access_log_format
    }
  }

  tags = local.tags

  depends_on = [aws_api_gateway_account.this, aws_cloudwatch_log_group.execution]
}

# Without the account's CloudWatch role the API logs nothing: say so on
# every plan.
check "api_gateway_logging" {
  assert {
    condition     = !var.create || local.api_logging
    error_message = "API Gateway access and execution logging is off (api_gateway_account = \"none\"): requests reach the function's decision log only. Give the account an API Gateway CloudWatch Logs role and set api_gateway_account = \"existing\" (docs/deploying.md)."
  }
}

resource "aws_api_gateway_method_settings" "all" {
  count = var.create ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this[0].id
  stage_name  = aws_api_gateway_stage.this[0].stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = local.api_logging ? var.api.execution_logging_level : "OFF"
    data_trace_enabled     = false # request and response bodies hold credentials
    throttling_rate_limit  = var.api.throttling_rate_limit
    throttling_burst_limit = var.api.throttling_burst_limit
  }
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.create && var.api.waf_web_acl_arn != null ? 1 : 0

  resource_arn = aws_api_gateway_stage.this[0].arn
  web_acl_arn  = var.api.waf_web_acl_arn
}

# --- The account's API Gateway logging role (optional, account-wide) ----------

data "aws_iam_policy_document" "api_gateway_assume" {
  count = var.create ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.${local.dns_suffix}"]
    }
  }
}

resource "aws_iam_role" "api_gateway_cloudwatch" {
  count = var.create && var.api_gateway_account == "create" ? 1 : 0

  name               = "${var.name}-apigateway-logs"
  description        = "API Gateway's account-wide CloudWatch Logs role (set by Sentinel TVM ${var.name})"
  assume_role_policy = data.aws_iam_policy_document.api_gateway_assume[0].json
  tags               = local.tags
}

resource "aws_iam_role_policy_attachment" "api_gateway_cloudwatch" {
  count = var.create && var.api_gateway_account == "create" ? 1 : 0

  role       = aws_iam_role.api_gateway_cloudwatch[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

# Account-wide: it replaces the role any other API in this account and
# region logs with, and destroying it leaves the account without one.
resource "aws_api_gateway_account" "this" {
  count = var.create && var.api_gateway_account == "create" ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.api_gateway_cloudwatch[0].arn

  depends_on = [aws_iam_role_policy_attachment.api_gateway_cloudwatch]
}

locals {
  # Per profile, the ~/.aws/config section that reaches this stage.
  aws_config_snippets = {
    for p in local.policy_profiles : p => <<-EOT
      [profile ${p}]
      credential_process = ${var.cli_command} credentials --url ${aws_api_gateway_stage.this[0].invoke_url} --profile ${p}
    EOT
  }
}
