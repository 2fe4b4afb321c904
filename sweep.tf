# The approval-expiry sweep: EventBridge Scheduler invokes the API function
# with {"sentinel_tvm_sweep": "approvals"} on a schedule; the function stores
# the expiry of every approval request past its expires_at and announces each
# one (the approval_expired audit event and notification) once, instead of
# when someone next acts on the request. See docs/notifications.md.

locals {
  sweep_enabled = var.create && var.approval_expiry_sweep.enabled
}

resource "aws_scheduler_schedule_group" "sweep" {
  count = local.sweep_enabled ? 1 : 0

  name = "${var.name}-sweeps"
  tags = local.tags
}

# Only EventBridge Scheduler, for this module's schedule group in this
# account (confused-deputy conditions), may assume the role.
data "aws_iam_policy_document" "sweep_assume" {
  count = local.sweep_enabled ? 1 : 0

  statement {
    sid     = "SchedulerForThisGroup"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.${local.dns_suffix}"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_scheduler_schedule_group.sweep[0].arn]
    }
  }
}

resource "aws_iam_role" "sweep" {
  count = local.sweep_enabled ? 1 : 0

  name               = "${var.name}-sweep"
  description        = "Sentinel TVM ${var.name}: EventBridge Scheduler invokes the API function's approval-expiry sweep"
  assume_role_policy = data.aws_iam_policy_document.sweep_assume[0].json
  tags               = local.tags
}

data "aws_iam_policy_document" "sweep" {
  count = local.sweep_enabled ? 1 : 0

  statement {
    sid       = "InvokeTheAPIFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.api[0].arn]
  }
}

resource "aws_iam_role_policy" "sweep" {
  count = local.sweep_enabled ? 1 : 0

  name   = "invoke-sweep"
  role   = aws_iam_role.sweep[0].id
  policy = data.aws_iam_policy_document.sweep[0].json
}

resource "aws_scheduler_schedule" "approval_expiry" {
  count = local.sweep_enabled ? 1 : 0

  name        = "${var.name}-approval-expiry"
  group_name  = aws_scheduler_schedule_group.sweep[0].name
  description = "Sentinel TVM ${var.name}: store and announce approval expiries"

  schedule_expression = var.approval_expiry_sweep.schedule_expression
  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.api[0].arn
    role_arn = aws_iam_role.sweep[0].arn
    input    = jsonencode({ sentinel_tvm_sweep = "approvals" })

    # A missed run is made up by the next one; never pile up retries.
    retry_policy {
      maximum_retry_attempts       = 0
      maximum_event_age_in_seconds = 60
    }
  }
}

