output "api_url" {
  description = "The TVM's URL."
  value       = module.sentinel_tvm.api_url
}

output "aws_config" {
  description = "Put this into ~/.aws/config."
  value       = module.sentinel_tvm.aws_config
}

output "readonly_role_arn" {
  description = "The protected role the readonly profile vends."
  value       = module.readonly_role.arn
}

output "table_name" {
  description = "The TVM's DynamoDB table."
  value       = module.sentinel_tvm.table_name
}

output "policy_sha256" {
  description = "sha256 of the deployed policy bundle (GET /v1/health reports it)."
  value       = module.sentinel_tvm.policy_sha256
}
