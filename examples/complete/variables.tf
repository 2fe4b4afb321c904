variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Name of the deployment; every resource's name starts with it. Known at plan time, so the roles' ARNs and with them the policy are too."
  type        = string
  default     = "stvm-full"
}

variable "allowed_org_ids" {
  description = "Organizations whose principals may call the TVM, besides this account's."
  type        = list(string)
  default     = []
}

variable "alarm_emails" {
  description = "E-mail addresses for the alarms (each must confirm the SNS subscription)."
  type        = list(string)
  default     = []
}

variable "notification_emails" {
  description = "E-mail addresses for state changes: approvals, break-glass, revocations."
  type        = list(string)
  default     = []
}

variable "approver_principals" {
  description = "Principal ARN globs that may approve prod-admin requests. Default: roles of this account named *security*."
  type        = list(string)
  default     = null
}

variable "api_gateway_account" {
  description = "The account's API Gateway CloudWatch Logs role: \"existing\" (the account has one), \"create\" (set it: takes over the account-wide setting for every API in the region) or \"none\" (logging off, with a warning). See docs/deploying.md."
  type        = string
  default     = "existing"
}
