variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "name_prefix" {
  description = "Prefix of every name; a random suffix follows."
  type        = string
  default     = "stvm-mt"
}

variable "tenant_account_ids" {
  description = "The tenants' AWS accounts: their principals may vend tenant-data, scoped to their own prefix. The deploying account is always added (for the tests)."
  type        = list(string)
  default     = []
}

variable "create_api_gateway_account" {
  description = "Set the account's API Gateway CloudWatch Logs role (needed once per account and region; false if it is set already)."
  type        = bool
  default     = true
}
