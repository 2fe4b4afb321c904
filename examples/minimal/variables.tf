variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "name_prefix" {
  description = "Prefix of every name; a random suffix follows."
  type        = string
  default     = "stvm-min"
}

variable "create_api_gateway_account" {
  description = "Set the account's API Gateway CloudWatch Logs role (needed once per account and region for access logs; false if it is set already)."
  type        = bool
  default     = true
}
