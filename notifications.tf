# The two SNS topics, configured alike: each is a topic the module creates
# (encrypted with the module's key, optionally with e-mail subscriptions) or
# an existing topic's ARN, or none.
#
#   notifications: the service publishes state changes as JSON (approval
#                  requested or decided, break-glass opened or closed,
#                  session revoked);
#   alarms:        the CloudWatch alarms of alarms.tf notify it.

locals {
  create_notification_topic = var.create && var.notifications.create_topic
  notify_topic_arn          = local.create_notification_topic ? aws_sns_topic.notifications[0].arn : var.create ? var.notifications.topic_arn : null

  create_alarm_topic = var.create && var.alarms.create && var.alarms.create_topic
  alarm_topic_arn    = local.create_alarm_topic ? aws_sns_topic.alarms[0].arn : var.create ? var.alarms.topic_arn : null
}

# --- Notifications ---------------------------------------------------------------

resource "aws_sns_topic" "notifications" {
  count = local.create_notification_topic ? 1 : 0

  name              = "${var.name}-notifications"
  kms_master_key_id = local.kms_key_arn
  tags              = local.tags
}

resource "aws_sns_topic_subscription" "notifications_email" {
  for_each = local.create_notification_topic ? toset(var.notifications.email_subscriptions) : toset([])

  topic_arn = aws_sns_topic.notifications[0].arn
  protocol  = "email"
  endpoint  = each.value
}

# --- Alarms ----------------------------------------------------------------------

resource "aws_sns_topic" "alarms" {
  count = local.create_alarm_topic ? 1 : 0

  name              = "${var.name}-alarms"
  kms_master_key_id = local.kms_key_arn
  tags              = local.tags
}

data "aws_iam_policy_document" "alarms_topic" {
  count = local.create_alarm_topic ? 1 : 0

  statement {
    sid       = "CloudWatchAlarmsOfThisAccount"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms[0].arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.${local.dns_suffix}"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  count = local.create_alarm_topic ? 1 : 0

  arn    = aws_sns_topic.alarms[0].arn
  policy = data.aws_iam_policy_document.alarms_topic[0].json
}

resource "aws_sns_topic_subscription" "alarms_email" {
  for_each = local.create_alarm_topic ? toset(var.alarms.email_subscriptions) : toset([])

  topic_arn = aws_sns_topic.alarms[0].arn
  protocol  = "email"
  endpoint  = each.value
}

moved {
  from = aws_sns_topic_subscription.email
  to   = aws_sns_topic_subscription.alarms_email
}
