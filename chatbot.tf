# Optional: the notification topic in a Slack channel through Amazon Q
# Developer in chat applications (formerly AWS Chatbot). The service's
# messages use its custom-notification format (docs/notifications.md), so
# the channel shows a readable summary with the command to act. The Slack
# workspace must be authorized once in the console (that step has no API);
# then pass its ID and the channel's.

locals {
  chatbot_enabled    = var.create && var.chatbot_slack != null
  chatbot_guardrails = local.chatbot_enabled ? coalesce(var.chatbot_slack.guardrail_policy_arns, ["arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"]) : []
}

data "aws_iam_policy_document" "chatbot_assume" {
  count = local.chatbot_enabled ? 1 : 0

  statement {
    sid     = "ChatbotForThisAccount"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["chatbot.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "chatbot" {
  count = local.chatbot_enabled ? 1 : 0

  name               = "${var.name}-chatbot"
  description        = "Sentinel TVM ${var.name}: the Slack channel's role (notifications only)"
  assume_role_policy = data.aws_iam_policy_document.chatbot_assume[0].json
  tags               = local.tags
}

# The notifications-only template: what rendering CloudWatch notifications
# reads. Nothing else; custom notifications need no permission at all.
data "aws_iam_policy_document" "chatbot" {
  count = local.chatbot_enabled ? 1 : 0

  #checkov:skip=CKV_AWS_356:AWS Chatbot's notifications-only role (its documented policy): CloudWatch Describe/Get/List actions that support no resource-level permissions.
  statement {
    sid       = "NotificationsOnly"
    actions   = ["cloudwatch:Describe*", "cloudwatch:Get*", "cloudwatch:List*"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "chatbot" {
  count = local.chatbot_enabled ? 1 : 0

  name   = "notifications-only"
  role   = aws_iam_role.chatbot[0].id
  policy = data.aws_iam_policy_document.chatbot[0].json
}

resource "aws_chatbot_slack_channel_configuration" "this" {
  count = local.chatbot_enabled ? 1 : 0

  configuration_name          = "${var.name}-notifications"
  iam_role_arn                = aws_iam_role.chatbot[0].arn
  slack_team_id               = var.chatbot_slack.workspace_id
  slack_channel_id            = var.chatbot_slack.channel_id
  sns_topic_arns              = [local.notify_topic_arn]
  guardrail_policy_arns       = local.chatbot_guardrails
  logging_level               = var.chatbot_slack.logging_level
  user_authorization_required = var.chatbot_slack.user_authorization_required
  tags                        = local.tags

  lifecycle {
    precondition {
      condition     = local.notify_topic_arn != null
      error_message = "chatbot_slack needs a notification topic: set notifications.create_topic = true or notifications.topic_arn."
    }
  }
}

