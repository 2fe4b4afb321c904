# Parameter Store's higher throughput (optional, account-wide per region).
# The policy parameter itself is in policies.tf.
resource "aws_ssm_service_setting" "high_throughput" {
  count = var.create && var.ssm_high_throughput ? 1 : 0

  setting_id    = "arn:${local.partition}:ssm:${local.region}:${local.account_id}:servicesetting/ssm/parameter-store/high-throughput-enabled"
  setting_value = "true"
}
