variable "name" {
  description = "Name of the role."
  type        = string

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,64}$", var.name))
    error_message = "name must be an IAM role name: 1 to 64 of letters, digits and + = , . @ _ -."
  }
}

variable "path" {
  description = "IAM path of the role."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/([\\x21-\\x7e]{0,510}/)?$", var.path))
    error_message = "path must start and end with / (e.g. \"/sentinel/\")."
  }
}

variable "description" {
  description = "Description of the role."
  type        = string
  default     = "Vended by Sentinel TVM only"
}

variable "tvm_execution_role_arn" {
  description = "ARN of the Sentinel TVM's vending function role (the root module's execution_role_arn output): the only principal the role trusts."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.tvm_execution_role_arn))
    error_message = "tvm_execution_role_arn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)."
  }
}

variable "max_session_duration" {
  description = "Longest session, in seconds (900 to 3600: the TVM never vends more than an hour)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 900 && var.max_session_duration <= 3600
    error_message = "max_session_duration must be from 900 to 3600 seconds."
  }
}

variable "policy_arns" {
  description = "Managed policies to attach (what the vended sessions may do, before the session policy narrows it)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.policy_arns : can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", a))])
    error_message = "policy_arns must hold IAM policy ARNs."
  }
}

variable "inline_policy" {
  description = "An inline policy document (JSON) to put on the role, or null."
  type        = string
  default     = null
}

variable "permissions_boundary" {
  description = "ARN of a permissions boundary for the role, or null."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the role."
  type        = map(string)
  default     = {}
}

variable "session_tag_keys" {
  description = "The session tag keys the policy's profiles for this role set (session_tags), or null. Set, the trust policy allows only these and the TVM's own sentinel:* tags (aws:TagKeys); null, any keys."
  type        = list(string)
  default     = null

  validation {
    condition     = var.session_tag_keys == null || alltrue([for k in coalesce(var.session_tag_keys, []) : can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]{1,128}$", k))])
    error_message = "session_tag_keys must hold session tag keys (1 to 128 letters, digits, spaces and _ . : / = + - @)."
  }
}

variable "guard" {
  description = "Deny the role's own sessions any change to the inline and managed policies, permissions boundary and trust policy of this role and of the roles under its path (so a revoked session cannot delete its sentinel-tvm-revocations deny)."
  type        = bool
  default     = true
}
