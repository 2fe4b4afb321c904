# The CloudWatch dashboard: the handler's own metrics (embedded-metric-format
# records in namespace SentinelTVM, see docs/reporting.md) and Logs Insights
# tables of the decision and audit log. test/dashboard_test.go checks every
# metric here against the list of metrics the handler emits (vend.Metrics),
# and every emitted metric against this dashboard.
#
# The handler's namespace has no deployment dimension: with two deployments
# in one account and region, the metric widgets add them up (the log widgets
# read this deployment's log group only).

locals {
  dashboard_namespace = "SentinelTVM"

  dashboard_widgets = [
    {
      type = "metric", x = 0, y = 0, width = 12, height = 6
      properties = {
        title   = "Requests by outcome"
        region  = local.region
        view    = "timeSeries"
        stacked = false
        stat    = "Sum"
        period  = 300
        metrics = [
          [local.dashboard_namespace, "Vends", "Outcome", "Vends", { label = "vends" }],
          [local.dashboard_namespace, "Denials", "Outcome", "Denials", { label = "refusals" }],
          [local.dashboard_namespace, "ApprovalsRequired", "Outcome", "ApprovalsRequired", { label = "approval required" }],
          [local.dashboard_namespace, "Throttles", "Outcome", "Throttles", { label = "rate limited (429)" }],
          [local.dashboard_namespace, "Errors", "Outcome", "Errors", { label = "service errors (5xx)" }],
        ]
      }
    },
    {
      type = "metric", x = 12, y = 0, width = 12, height = 6
      properties = {
        title  = "Latency of vends and refusals (ms)"
        region = local.region
        view   = "timeSeries"
        period = 300
        metrics = [
          [local.dashboard_namespace, "Latency", "Outcome", "Vends", { stat = "p50", label = "vend p50" }],
          [local.dashboard_namespace, "Latency", "Outcome", "Vends", { stat = "p99", label = "vend p99" }],
          [local.dashboard_namespace, "Latency", "Outcome", "Denials", { stat = "p50", label = "refusal p50" }],
          [local.dashboard_namespace, "Latency", "Outcome", "Denials", { stat = "p99", label = "refusal p99" }],
        ]
      }
    },
    {
      type = "metric", x = 0, y = 6, width = 12, height = 6
      properties = {
        title   = "Vends per profile"
        region  = local.region
        view    = "timeSeries"
        stacked = true
        period  = 3600
        metrics = [
          [{ id = "profiles", expression = "SEARCH('{${local.dashboard_namespace},Outcome,Profile} MetricName=\"Vends\"', 'Sum', 3600)" }],
        ]
      }
    },
    {
      type = "metric", x = 12, y = 6, width = 12, height = 6
      properties = {
        title   = "Refusals by reason (deciding rule or error code)"
        region  = local.region
        view    = "timeSeries"
        stacked = true
        period  = 3600
        metrics = [
          [{ id = "reasons", expression = "SEARCH('{${local.dashboard_namespace},Outcome,Reason} MetricName=\"Denials\"', 'Sum', 3600)" }],
        ]
      }
    },
    {
      type = "metric", x = 0, y = 12, width = 8, height = 6
      properties = {
        title  = "Service errors by code (5xx)"
        region = local.region
        view   = "timeSeries"
        period = 300
        metrics = [
          [{ id = "errors", expression = "SEARCH('{${local.dashboard_namespace},Outcome,Reason} MetricName=\"Errors\"', 'Sum', 300)" }],
        ]
      }
    },
    {
      type = "metric", x = 8, y = 12, width = 8, height = 6
      properties = {
        title  = "Break-glass events"
        region = local.region
        view   = "timeSeries"
        stat   = "Sum"
        period = 3600
        metrics = [
          [local.dashboard_namespace, "BreakGlass", "Event", "break_glass_opened", { label = "opened" }],
          [local.dashboard_namespace, "BreakGlass", "Event", "break_glass_closed", { label = "closed" }],
        ]
      }
    },
    {
      type = "metric", x = 16, y = 12, width = 8, height = 6
      properties = {
        title  = "Revocations"
        region = local.region
        view   = "timeSeries"
        stat   = "Sum"
        period = 3600
        metrics = [
          [local.dashboard_namespace, "Revocations", "Event", "session_revoked", { label = "sessions revoked" }],
          [local.dashboard_namespace, "Revocations", "Event", "revocation_fallback", { label = "revocation fallbacks" }],
        ]
      }
    },
    {
      type = "log", x = 0, y = 18, width = 24, height = 6
      properties = {
        title  = "Break-glass events opened and not closed in the time range (open while expires_at is ahead)"
        region = local.region
        view   = "table"
        query  = <<-EOQ
          SOURCE '${local.api_log_group_name}'
          | filter msg = "audit" and (event = "break_glass_opened" or event = "break_glass_closed")
          | stats latest(event) as last_event, latest(expires_at) as expires, latest(principal) as opened_by, latest(profile) as for_profile, latest(reason_code) as reason by event_id
          | filter last_event = "break_glass_opened"
          | sort expires desc
        EOQ
      }
    },
    {
      type = "log", x = 0, y = 24, width = 24, height = 8
      properties = {
        title  = "Latest refusals"
        region = local.region
        view   = "table"
        query  = <<-EOQ
          SOURCE '${local.api_log_group_name}'
          | filter msg = "decision" and status >= 400 and status < 500
          | fields @timestamp, principal, user, profile, error_code, rule, reason, source_ip, route
          | sort @timestamp desc
          | limit 100
        EOQ
      }
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create && var.create_dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
