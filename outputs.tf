output "api_url" {
  description = "The API's base URL (the stage's invoke URL): what `sentinel-tvm credentials --url` takes."
  value       = one(aws_api_gateway_stage.this[*].invoke_url)
}

output "api_id" {
  description = "ID of the REST API."
  value       = one(aws_api_gateway_rest_api.this[*].id)
}

output "api_execution_arn" {
  description = "Execution ARN of the stage, for callers' identity policies (execute-api:Invoke on \"<this>/POST/v1/credentials\" and so on)."
  value       = one(aws_api_gateway_stage.this[*].execution_arn)
}

output "execution_role_arn" {
  description = "ARN of the vending function's role: the principal vended roles must trust (see modules/protected-role)."
  value       = one(aws_iam_role.api[*].arn)
}

output "execution_role_name" {
  description = "Name of the vending function's role."
  value       = one(aws_iam_role.api[*].name)
}

output "revoker_role_arn" {
  description = "ARN of the revoker's role, which writes the sentinel-tvm-revocations inline policy of vended roles."
  value       = one(aws_iam_role.revoker[*].arn)
}

output "function_name" {
  description = "Name of the vending function."
  value       = one(aws_lambda_function.api[*].function_name)
}

output "function_arn" {
  description = "ARN of the vending function."
  value       = one(aws_lambda_function.api[*].arn)
}

output "revoker_function_name" {
  description = "Name of the revoker function."
  value       = one(aws_lambda_function.revoker[*].function_name)
}

output "table_name" {
  description = "Name of the DynamoDB table (sessions, approvals, break-glass events, rate limits)."
  value       = one(aws_dynamodb_table.this[*].name)
}

output "table_arn" {
  description = "ARN of the DynamoDB table."
  value       = one(aws_dynamodb_table.this[*].arn)
}

output "kms_key_arn" {
  description = "ARN of the KMS key encrypting the policy parameter, the table and the log groups (created, or var.kms_key_arn)."
  value       = local.kms_key_arn
}

output "policy_parameter_name" {
  description = "Name of the SSM SecureString holding the compiled policy bundle."
  value       = one(aws_ssm_parameter.policy[*].name)
}

output "policy_parameter_arn" {
  description = "ARN of the SSM SecureString holding the compiled policy bundle."
  value       = one(aws_ssm_parameter.policy[*].arn)
}

output "policy_sha256" {
  description = "sha256 of the compiled policy bundle, as /v1/health reports it."
  value       = local.policy_sha256
}

output "policy_role_arns" {
  description = "The roles the compiled policy can vend: the only roles the function may assume."
  value       = local.policy_role_arns
}

output "profiles" {
  description = "The profile names the compiled policy defines."
  value       = local.policy_profiles
}

output "log_group_names" {
  description = "CloudWatch log groups: the vending function's decisions, the revoker, and the API's access log."
  value = var.create ? {
    function = aws_cloudwatch_log_group.api[0].name
    revoker  = aws_cloudwatch_log_group.revoker[0].name
    access   = aws_cloudwatch_log_group.access[0].name
  } : {}
}

output "alarm_topic_arn" {
  description = "The SNS topic the alarms notify (created or given), or null."
  value       = local.alarm_topic_arn
}

output "notification_topic_arn" {
  description = "The SNS topic the service publishes state changes to (created or given), or null."
  value       = local.notify_topic_arn
}

output "api_stage_arn" {
  description = "ARN of the API's stage (for WAF associations and resource-based policies)."
  value       = one(aws_api_gateway_stage.this[*].arn)
}

output "aws_config_snippets" {
  description = "Map of profile name => a ready ~/.aws/config section that gets credentials through the TVM (credential_process)."
  value       = local.aws_config_snippets
}

output "aws_config" {
  description = "Every profile's ~/.aws/config section, concatenated into one string."
  value       = var.create ? join("\n", [for p in local.policy_profiles : local.aws_config_snippets[p]]) : null
}

output "revoker_invoke_scp" {
  description = "A service control policy (JSON) that denies invoking the revoker function to everyone but the API function's role; attach it to the account (docs/revocation.md)."
  value       = one(data.aws_iam_policy_document.revoker_invoke_scp[*].json)
}

output "approval_expiry_schedule_arn" {
  description = "The EventBridge Scheduler schedule that runs the approval-expiry sweep, or null."
  value       = local.sweep_enabled ? aws_scheduler_schedule.approval_expiry[0].arn : null
}

output "chatbot_slack_channel_configuration_arn" {
  description = "The Slack channel configuration of the notification topic, or null."
  value       = local.chatbot_enabled ? aws_chatbot_slack_channel_configuration.this[0].chat_configuration_arn : null
}
