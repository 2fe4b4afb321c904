# Sentinel TVM: a token vending machine for AWS.
#
#   client (SigV4) -> API Gateway REST API (AWS_IAM, resource policy, throttling, access logs)
#                  -> Lambda (Go, provided.al2023) -> SSM policy bundle, DynamoDB, STS AssumeRole
#
# Concerns live in their own files: api.tf, lambda.tf, table.tf, kms.tf,
# iam.tf, policies.tf, package.tf, alarms.tf, notifications.tf.

data "aws_caller_identity" "current" {
  count = var.create ? 1 : 0
}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = one(data.aws_caller_identity.current[*].account_id)
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  dns_suffix = data.aws_partition.current.dns_suffix

  api_function_name     = var.name
  revoker_function_name = "${var.name}-revoker"
  table_name            = coalesce(var.table.name, var.name)
  policy_parameter_name = coalesce(var.policy_parameter_name, "/${var.name}/policy-bundle")

  api_log_group_name     = "/aws/lambda/${local.api_function_name}"
  revoker_log_group_name = "/aws/lambda/${local.revoker_function_name}"
  access_log_group_name  = "/aws/apigateway/${var.name}"

  tags = merge(var.tags, { "sentinel-tvm:deployment" = var.name })
}
