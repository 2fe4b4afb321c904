output "api_url" {
  description = "The TVM's URL."
  value       = module.sentinel_tvm.api_url
}

output "aws_config" {
  description = "Put this into ~/.aws/config."
  value       = module.sentinel_tvm.aws_config
}

output "readonly_role_arn" {
  description = "The protected role of the readonly profile."
  value       = module.readonly_role.arn
}

output "admin_role_arn" {
  description = "The protected role of the admin profile (approval or break-glass)."
  value       = module.admin_role.arn
}

output "table_name" {
  description = "The TVM's DynamoDB table."
  value       = module.sentinel_tvm.table_name
}

output "alarm_topic_arn" {
  description = "The SNS topic of the alarms."
  value       = module.sentinel_tvm.alarm_topic_arn
}

output "function_name" {
  description = "The vending function."
  value       = module.sentinel_tvm.function_name
}
