variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Name of the deployment; every resource's name starts with it. Known at plan time, so the roles' ARNs and with them the policy are too."
  type        = string
  default     = "stvm-mt"
}

variable "tenant_account_ids" {
  description = "The tenants' AWS accounts: their principals may vend tenant-data, scoped to their own prefix. The deploying account is always added (for the tests)."
  type        = list(string)
  default     = []
}

variable "api_gateway_account" {
  description = "The account's API Gateway CloudWatch Logs role: \"existing\" (the account has one), \"create\" (set it: takes over the account-wide setting for every API in the region) or \"none\" (logging off, with a warning). See docs/deploying.md."
  type        = string
  default     = "existing"
}
