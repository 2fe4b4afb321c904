# Alarms: API 5xx, throttling (Lambda and the service's rate limit), a
# denial spike, any break-glass event, and the functions' errors. Metrics the
# service writes (decision log lines and embedded-metric records) are read
# back from this deployment's log group by metric filters, into the
# namespace SentinelTVM/<name>, so two deployments in one account and region
# never mix (the handler's own EMF namespace, SentinelTVM, has no deployment
# dimension).

locals {
  alarm_actions    = local.alarm_topic_arn != null ? [local.alarm_topic_arn] : []
  metric_namespace = "SentinelTVM/${var.name}"

  # Metric filters on the API function's log group.
  metric_filters = {
    # The handler's EMF record of every refused request (policy_denied,
    # session_revoked, forbidden, invalid_request, ...).
    Denials = "{ $.Outcome = \"Denials\" }"
    # The handler's EMF record of every rate-limited request.
    RateLimited = "{ $.Outcome = \"Throttles\" }"
    # A break-glass event opened, or credentials vended through one.
    BreakGlass = "{ ($.msg = \"decision\") && (($.via = \"break_glass\") || (($.route = \"POST /v1/break-glass\") && ($.status = 201))) }"
  }

  alarm_definitions = {
    api-5xx = {
      description = "The API answered 5xx (the function failed or timed out, or the integration broke)."
      namespace   = "AWS/ApiGateway"
      metric      = "5XXError"
      dimensions  = { ApiName = one(aws_api_gateway_rest_api.this[*].name), Stage = one(aws_api_gateway_stage.this[*].stage_name) }
      threshold   = var.alarms.api_5xx_threshold
    }
    function-throttles = {
      description = "Lambda throttled the vending function (concurrency exhausted)."
      namespace   = "AWS/Lambda"
      metric      = "Throttles"
      dimensions  = { FunctionName = one(aws_lambda_function.api[*].function_name) }
      threshold   = var.alarms.throttle_threshold
    }
    rate-limited = {
      description = "Callers hit the service's per-principal rate limit (abuse or enumeration, or a limit set too low)."
      namespace   = local.metric_namespace
      metric      = "RateLimited"
      dimensions  = {}
      threshold   = var.alarms.throttle_threshold
    }
    denial-spike = {
      description = "Many refused requests: probing, a broken client, or a policy change that locks people out."
      namespace   = local.metric_namespace
      metric      = "Denials"
      dimensions  = {}
      threshold   = var.alarms.denial_threshold
    }
    break-glass = {
      description = "A break-glass event was opened or used: review its justification."
      namespace   = local.metric_namespace
      metric      = "BreakGlass"
      dimensions  = {}
      threshold   = 1
    }
    function-errors = {
      description = "The vending function failed (init errors, crashes, timeouts)."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = { FunctionName = one(aws_lambda_function.api[*].function_name) }
      threshold   = var.alarms.error_threshold
    }
    revoker-errors = {
      description = "The revoker failed: a revocation may not have reached the role's inline policy."
      namespace   = "AWS/Lambda"
      metric      = "Errors"
      dimensions  = { FunctionName = one(aws_lambda_function.revoker[*].function_name) }
      threshold   = var.alarms.error_threshold
    }
  }
}

resource "aws_cloudwatch_log_metric_filter" "this" {
  for_each = var.create && var.alarms.create ? local.metric_filters : {}

  name           = "${var.name}-${each.key}"
  log_group_name = aws_cloudwatch_log_group.api[0].name
  pattern        = each.value

  metric_transformation {
    name          = each.key
    namespace     = local.metric_namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = var.create && var.alarms.create ? local.alarm_definitions : {}

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = "Sum"
  period              = var.alarms.period_seconds
  evaluation_periods  = 1
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags

  depends_on = [aws_cloudwatch_log_metric_filter.this]
}
