output "api_url" {
  description = "The TVM's URL."
  value       = module.sentinel_tvm.api_url
}

output "aws_config" {
  description = "Put this into ~/.aws/config (in each tenant's account)."
  value       = module.sentinel_tvm.aws_config
}

output "bucket" {
  description = "The shared bucket; each tenant's sessions reach only <bucket>/<their account ID>/."
  value       = aws_s3_bucket.tenant_data.bucket
}

output "tenant_role_arn" {
  description = "The protected role behind the tenant-data profile."
  value       = module.tenant_role.arn
}

output "table_name" {
  description = "The TVM's DynamoDB table."
  value       = module.sentinel_tvm.table_name
}
