variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "name_prefix" {
  description = "Prefix of every name; a random suffix follows."
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

variable "create_api_gateway_account" {
  description = "Set the account's API Gateway CloudWatch Logs role (needed once per account and region; false if it is set already)."
  type        = bool
  default     = true
}
