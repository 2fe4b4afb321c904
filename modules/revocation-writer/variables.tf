variable "name" {
  description = "Name of the writer role: the same in every account, and the root module's revoker_role_name."
  type        = string
  default     = "sentinel-tvm-revocation-writer"

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.name))
    error_message = "name must be an IAM role name: 1 to 64 of letters, digits and + = , . @ _ -."
  }
}

variable "path" {
  description = "IAM path of the writer role. Keep it outside protected_role_path."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/([\\x21-\\x7e]{0,510}/)?$", var.path))
    error_message = "path must start and end with / (e.g. \"/sentinel-tvm/\")."
  }
}

variable "revoker_role_arn" {
  description = "ARN of the Sentinel TVM's revoker role (the root module's revoker_role_arn output): the only principal the writer role trusts."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.revoker_role_arn))
    error_message = "revoker_role_arn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)."
  }
}

variable "protected_role_path" {
  description = "IAM path of this account's protected roles (modules/protected-role's path): the writer may write the inline policies of the roles under it, and of no other role."
  type        = string
  default     = "/sentinel/"

  validation {
    condition     = var.protected_role_path != "/" && can(regex("^/([\\x21-\\x7e]{0,510}/)?$", var.protected_role_path))
    error_message = "protected_role_path must be an IAM path other than \"/\" (e.g. \"/sentinel/\"): \"/\" would let the writer rewrite every role's inline policies."
  }
}

variable "permissions_boundary" {
  description = "ARN of a permissions boundary for the writer role, or null."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the writer role."
  type        = map(string)
  default     = {}
}
