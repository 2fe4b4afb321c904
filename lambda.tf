# The vending function and the revoker: the same bootstrap, provided.al2023.
# The environment comes from this module's resources only; the contract test
# checks that every variable set here is one the handler reads
# (vend.ConfigFromEnv) and that every required one is set.

resource "aws_cloudwatch_log_group" "api" {
  count = var.create ? 1 : 0

  name              = local.api_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "revoker" {
  count = var.create ? 1 : 0

  name              = local.revoker_log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = local.tags
}

locals {
  service_version = var.create ? coalesce(var.service.version, "zip-${substr(local.handler_zip_hash, 0, 12)}") : null
}

# In a VPC, Lambda creates the functions' network interfaces with their roles.
resource "aws_iam_role_policy_attachment" "vpc_access" {
  for_each = var.create && var.vpc != null ? { api = aws_iam_role.api[0].name, revoker = aws_iam_role.revoker[0].name } : {}

  role       = each.value
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_lambda_function" "api" {
  count = var.create ? 1 : 0

  function_name                  = local.api_function_name
  description                    = "Sentinel TVM ${var.name}: evaluates the policy and vends credentials"
  role                           = aws_iam_role.api[0].arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.lambda.architecture]
  filename                       = local.handler_zip_path
  source_code_hash               = local.handler_zip_hash
  memory_size                    = var.lambda.memory_size
  timeout                        = var.lambda.timeout
  reserved_concurrent_executions = var.lambda.reserved_concurrency
  kms_key_arn                    = local.kms_key_arn
  code_signing_config_arn        = var.lambda.code_signing_config_arn

  dynamic "vpc_config" {
    for_each = var.vpc != null ? [var.vpc] : []
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  # Or the zip in S3 (var.lambda_package_s3; package.tf).
  s3_bucket         = local.handler_s3_bucket
  s3_key            = local.handler_s3_key
  s3_object_version = local.handler_s3_object_version

  environment {
    variables = merge({
      SENTINEL_TABLE_NAME = aws_dynamodb_table.this[0].name
      # name:version pins the bundle this configuration's sha256 describes:
      # instances still running the previous configuration keep reading
      # the previous version while an apply replaces the parameter's value
      # and then this environment (docs/deploying.md, "Policy changes").
      SENTINEL_POLICY_PARAMETER = "${aws_ssm_parameter.policy[0].name}:${aws_ssm_parameter.policy[0].version}"
      SENTINEL_POLICY_SHA256    = local.policy_sha256
      SENTINEL_POLICY_CACHE_TTL = "${var.service.policy_cache_ttl_seconds}s"
      SENTINEL_RATE_LIMIT       = tostring(var.service.rate_limit)
      SENTINEL_RATE_WINDOW      = "${var.service.rate_window_seconds}s"
      SENTINEL_RATE_PER_PROFILE = tostring(var.service.rate_per_profile)
      SENTINEL_RETENTION        = "${var.service.retention_seconds}s"
      SENTINEL_APPROVAL_TTL     = "${var.service.approval_ttl_seconds}s"
      SENTINEL_APPROVAL_WINDOW  = "${var.service.approval_window_seconds}s"
      SENTINEL_VERSION          = local.service_version
      SENTINEL_REVOKER_FUNCTION = aws_lambda_function.revoker[0].function_name
      }, local.notify_topic_arn != null ? {
      SENTINEL_NOTIFY_TOPIC_ARN = local.notify_topic_arn
    } : {})
  }

  # Text: the handler's lines are JSON already (slog decisions and
  # embedded-metric-format records), which CloudWatch parses as they are.
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.api[0].name
  }

  tracing_config {
    mode = var.lambda.tracing ? "Active" : "PassThrough"
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.api, aws_iam_role_policy_attachment.vpc_access]
}

resource "aws_lambda_function" "revoker" {
  count = var.create ? 1 : 0

  function_name           = local.revoker_function_name
  description             = "Sentinel TVM ${var.name}: writes revocations into vended roles' inline policy"
  role                    = aws_iam_role.revoker[0].arn
  runtime                 = "provided.al2023"
  handler                 = "bootstrap"
  architectures           = [var.lambda.architecture]
  filename                = local.handler_zip_path
  source_code_hash        = local.handler_zip_hash
  memory_size             = 128
  timeout                 = var.lambda.timeout
  kms_key_arn             = local.kms_key_arn
  code_signing_config_arn = var.lambda.code_signing_config_arn

  dynamic "vpc_config" {
    for_each = var.vpc != null ? [var.vpc] : []
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  # Or the zip in S3 (var.lambda_package_s3; package.tf).
  s3_bucket         = local.handler_s3_bucket
  s3_key            = local.handler_s3_key
  s3_object_version = local.handler_s3_object_version

  environment {
    variables = merge(
      { SENTINEL_FUNCTION = "revoker", SENTINEL_TABLE_NAME = aws_dynamodb_table.this[0].name },
      var.revoker_role_name != null ? { SENTINEL_REVOKER_ROLE_NAME = var.revoker_role_name } : {},
    )
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.revoker[0].name
  }

  tracing_config {
    mode = var.lambda.tracing ? "Active" : "PassThrough"
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.revoker, aws_iam_role_policy_attachment.vpc_access]
}

# Only the API function invokes the revoker (its role's grant); the API
# Gateway invokes the API function, only through this API's stage.
resource "aws_lambda_permission" "api_gateway" {
  count = var.create ? 1 : 0

  statement_id  = "AllowAPIGatewayInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api[0].function_name
  principal     = "apigateway.${local.dns_suffix}"
  source_arn    = "${aws_api_gateway_rest_api.this[0].execution_arn}/${var.api.stage_name}/*/v1/*"
}
