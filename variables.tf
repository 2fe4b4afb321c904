variable "name" {
  description = "Name of the deployment: the function, table, API, roles and log groups are named after it."
  type        = string
  default     = "sentinel-tvm"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{1,47}$", var.name))
    error_message = "name must be 2 to 48 characters: a letter, then letters, digits or hyphens (it prefixes IAM role and Lambda function names)."
  }
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}

# --- Who may call the API ------------------------------------------------------

variable "allowed_account_ids" {
  description = "AWS account IDs whose principals may call the API (the REST API's resource policy). At least one account or organization is required: there is no open default."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.allowed_account_ids : can(regex("^[0-9]{12}$", id))])
    error_message = "allowed_account_ids must hold 12-digit AWS account IDs such as \"111122223333\"."
  }
}

variable "allowed_org_ids" {
  description = "AWS Organizations IDs whose principals may call the API (aws:PrincipalOrgID). At least one account or organization is required."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.allowed_org_ids : can(regex("^o-[a-z0-9]{10,32}$", id))])
    error_message = "allowed_org_ids must hold organization IDs such as \"o-a1b2c3d4e5\" (o- and 10 to 32 lowercase letters or digits)."
  }
}

variable "allowed_source_cidrs" {
  description = "When not empty, the API refuses requests from source addresses outside these CIDR blocks (aws:SourceIp in the resource policy)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.allowed_source_cidrs : can(cidrhost(c, 0)) && strcontains(c, "/")])
    error_message = "allowed_source_cidrs must hold CIDR blocks such as \"203.0.113.0/24\" or \"2001:db8::/32\"."
  }
}

# --- Policy --------------------------------------------------------------------

variable "policies_dir" {
  description = "Directory of the HCL policy (*.hcl, *.test.hcl), compiled at plan time. Give this or policy_files."
  type        = string
  default     = null
}

variable "policy_files" {
  description = "The policy as file name => HCL content (e.g. rendered with templatefile), compiled at plan time when the contents are known. Give this or policies_dir."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for f in keys(var.policy_files) : can(regex("^[A-Za-z0-9_.-]+\\.hcl$", f))])
    error_message = "policy_files keys must be plain file names ending in .hcl (or .test.hcl), without directories."
  }
}

variable "policy_skip_tests" {
  description = "Do not run the policy's *.test.hcl cases at plan time (they run by default, and a failed case fails the plan)."
  type        = bool
  default     = false
}

variable "policy_parameter_name" {
  description = "Name of the SSM SecureString parameter holding the compiled policy bundle. Default: /<name>/policy-bundle."
  type        = string
  default     = null

  validation {
    condition     = var.policy_parameter_name == null || can(regex("^/[A-Za-z0-9_./-]{1,1010}$", var.policy_parameter_name))
    error_message = "policy_parameter_name must be an absolute SSM parameter name such as \"/sentinel-tvm/policy-bundle\" (letters, digits, _ . - /)."
  }
}

variable "sentinel_cli_path" {
  description = "Path to a prebuilt sentinel-tvm CLI for the plan-time policy compile. Default: `go run ./cmd/sentinel-tvm` in the module (needs Go)."
  type        = string
  default     = null
}

variable "cli_command" {
  description = "How users run the client in the generated ~/.aws/config snippets."
  type        = string
  default     = "sentinel-tvm"
}

variable "revoker_role_name" {
  description = "Name of a role in each other account with vended roles that the revoker assumes to write revocations there (it needs iam:GetRolePolicy/iam:PutRolePolicy on those roles and must trust revoker_role_arn). Null: the revoker writes with its own role, which reaches only this account's roles."
  type        = string
  default     = null

  validation {
    condition     = var.revoker_role_name == null || can(regex("^[\\w+=,.@-]{1,64}$", var.revoker_role_name))
    error_message = "revoker_role_name must be an IAM role name: 1 to 64 of letters, digits and + = , . @ _ -."
  }
}

# --- Lambda --------------------------------------------------------------------

variable "lambda_zip_path" {
  description = "A prebuilt handler zip (with `bootstrap` at its root) instead of the plan-time build from lambda/ (needs Go)."
  type        = string
  default     = null
}

variable "lambda" {
  description = "The functions: architecture, memory (MB), timeout (s, at most 29: API Gateway's integration limit), the API function's reserved concurrency (-1: none; the revoker function reserves none), X-Ray active tracing."
  type = object({
    architecture         = optional(string, "arm64")
    memory_size          = optional(number, 256)
    timeout              = optional(number, 10)
    reserved_concurrency = optional(number, -1)
    tracing              = optional(bool, false)
  })
  default = {}

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda.architecture)
    error_message = "lambda.architecture must be \"arm64\" or \"x86_64\"."
  }
  validation {
    condition     = var.lambda.memory_size >= 128 && var.lambda.memory_size <= 10240 && floor(var.lambda.memory_size) == var.lambda.memory_size
    error_message = "lambda.memory_size must be a whole number of MB from 128 to 10240."
  }
  validation {
    condition     = var.lambda.timeout >= 3 && var.lambda.timeout <= 29
    error_message = "lambda.timeout must be from 3 to 29 seconds (API Gateway gives up after 29 s)."
  }
  validation {
    condition     = var.lambda.reserved_concurrency == -1 || var.lambda.reserved_concurrency >= 1
    error_message = "lambda.reserved_concurrency must be -1 (no reservation) or at least 1."
  }
}

variable "service" {
  description = "The service's settings (the function's environment). Durations are a whole number and one unit: 90s, 15m, 24h."
  type = object({
    rate_limit       = optional(number, 30)
    rate_window      = optional(string, "1m")
    rate_per_profile = optional(bool, false)
    retention        = optional(string, "2160h")
    approval_ttl     = optional(string, "24h")
    approval_window  = optional(string, "1h")
    policy_cache_ttl = optional(string, "1m")
    version          = optional(string)
  })
  default = {}

  validation {
    condition     = var.service.rate_limit >= 1 && var.service.rate_limit <= 100000 && floor(var.service.rate_limit) == var.service.rate_limit
    error_message = "service.rate_limit must be a whole number of requests per window from 1 to 100000."
  }
  validation {
    condition     = try(alltrue([for m in [regex("^([1-9][0-9]*)([smh])$", var.service.rate_window)] : tonumber(m[0]) * { s = 1, m = 60, h = 3600 }[m[1]] >= 1 && tonumber(m[0]) * { s = 1, m = 60, h = 3600 }[m[1]] <= 86400]), false)
    error_message = "service.rate_window must be a duration from 1s to 24h, such as \"1m\"."
  }
  validation {
    condition     = try(alltrue([for m in [regex("^([1-9][0-9]*)([smh])$", var.service.retention)] : tonumber(m[0]) * { s = 1, m = 60, h = 3600 }[m[1]] >= 3600 && tonumber(m[0]) * { s = 1, m = 60, h = 3600 }[m[1]] <= 315360000]), false)
    error_message = "service.retention must be a duration from 1h to 87600h (10 years), such as \"2160h\" (90 days)."
  }
  validation {
    condition     = try(alltrue([for m in [regex("^([1-9][0-9]*)([smh])$", var.service.approval_ttl)] : tonumber(m[0]) * { s = 1, m = 60, h = 3600 }[m[1]] >= 60 && tonumber(m[0]) * { s = 1, m = 60, h = 3600 }[m[1]] <= 604800]), false)
    error_message = "service.approval_ttl must be a duration from 1m to 168h (7 days), such as \"24h\"."
  }
  validation {
    condition     = try(alltrue([for m in [regex("^([1-9][0-9]*)([smh])$", var.service.approval_window)] : tonumber(m[0]) * { s = 1, m = 60, h = 3600 }[m[1]] >= 60 && tonumber(m[0]) * { s = 1, m = 60, h = 3600 }[m[1]] <= 86400]), false)
    error_message = "service.approval_window must be a duration from 1m to 24h, such as \"1h\"."
  }
  validation {
    condition     = try(alltrue([for m in [regex("^([1-9][0-9]*)([smh])$", var.service.policy_cache_ttl)] : tonumber(m[0]) * { s = 1, m = 60, h = 3600 }[m[1]] >= 1 && tonumber(m[0]) * { s = 1, m = 60, h = 3600 }[m[1]] <= 900]), false)
    error_message = "service.policy_cache_ttl must be a duration from 1s to 15m, such as \"60s\"."
  }
}

# --- API Gateway ---------------------------------------------------------------

variable "api" {
  description = "The REST API's stage: name, throttling (steady requests per second and burst), execution logging level, X-Ray tracing, and an optional WAFv2 web ACL (regional) to associate."
  type = object({
    stage_name              = optional(string, "api")
    throttling_rate_limit   = optional(number, 50)
    throttling_burst_limit  = optional(number, 100)
    execution_logging_level = optional(string, "ERROR")
    xray_tracing            = optional(bool, false)
    waf_web_acl_arn         = optional(string)
  })
  default = {}

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.api.stage_name))
    error_message = "api.stage_name must be 1 to 128 letters, digits, underscores or hyphens."
  }
  validation {
    condition     = var.api.throttling_rate_limit > 0 && var.api.throttling_rate_limit <= 10000 && var.api.throttling_burst_limit >= 1 && var.api.throttling_burst_limit <= 5000
    error_message = "api.throttling_rate_limit must be from 0 (exclusive) to 10000 requests per second and api.throttling_burst_limit from 1 to 5000."
  }
  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.api.execution_logging_level)
    error_message = "api.execution_logging_level must be OFF, ERROR or INFO."
  }
  validation {
    condition     = var.api.waf_web_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:[0-9]{12}:regional/webacl/[A-Za-z0-9_-]+/[a-f0-9-]+$", var.api.waf_web_acl_arn))
    error_message = "api.waf_web_acl_arn must be a regional WAFv2 web ACL ARN (arn:aws:wafv2:REGION:ACCOUNT:regional/webacl/NAME/ID)."
  }
}

variable "create_api_gateway_account" {
  description = "Set the account's API Gateway CloudWatch Logs role (an account-wide, per-region setting that access and execution logging need). Leave false when the account already has one."
  type        = bool
  default     = false
}

# --- Storage, keys, logs -------------------------------------------------------

variable "table" {
  description = "The DynamoDB table: name (default: the deployment's name), deletion protection, and point-in-time recovery period in days."
  type = object({
    name                        = optional(string)
    deletion_protection         = optional(bool, true)
    point_in_time_recovery_days = optional(number, 35)
  })
  default = {}

  validation {
    condition     = var.table.name == null || can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table.name))
    error_message = "table.name must be 3 to 255 letters, digits, underscores, dots or hyphens."
  }
  validation {
    condition     = var.table.point_in_time_recovery_days >= 1 && var.table.point_in_time_recovery_days <= 35
    error_message = "table.point_in_time_recovery_days must be from 1 to 35."
  }
}

variable "kms_key_arn" {
  description = "A KMS key (ARN) to use instead of creating one. Its policy must allow this module's functions, DynamoDB, SSM and CloudWatch Logs as kms.tf does."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]{36}$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID), not an alias."
  }
}

variable "kms_key_deletion_window_days" {
  description = "Waiting period before the created KMS key is deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_days >= 7 && var.kms_key_deletion_window_days <= 30
    error_message = "kms_key_deletion_window_days must be from 7 to 30."
  }
}

variable "kms_key_user_arns" {
  description = "Extra IAM roles or users (ARNs) allowed to use the created key through SSM and DynamoDB, e.g. a CI role that applies this module besides the current caller."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.kms_key_user_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "kms_key_user_arns must hold IAM role or user ARNs (arn:aws:iam::ACCOUNT:role/NAME)."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' and the API's log groups, in days (a CloudWatch Logs value)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

# --- Notifications -------------------------------------------------------------

variable "notifications" {
  description = "Where the service publishes state changes (approval requested or decided, break-glass opened or closed, session revoked) as JSON: a topic the module creates (encrypted with the module's key, optionally with e-mail subscriptions) or an existing topic ARN. Off by default."
  type = object({
    create_topic        = optional(bool, false)
    topic_arn           = optional(string)
    email_subscriptions = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = var.notifications.topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.notifications.topic_arn))
    error_message = "notifications.topic_arn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)."
  }
  validation {
    condition     = !(var.notifications.create_topic && var.notifications.topic_arn != null)
    error_message = "Set notifications.topic_arn or notifications.create_topic, not both."
  }
  validation {
    condition     = alltrue([for e in var.notifications.email_subscriptions : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "notifications.email_subscriptions must hold e-mail addresses."
  }
}

# --- Alarms --------------------------------------------------------------------

variable "alarms" {
  description = "CloudWatch alarms (API 5xx and throttles, denial spike, break-glass, function errors): thresholds per period, and where to send them (an SNS topic ARN, or a topic the module creates with e-mail subscriptions)."
  type = object({
    create              = optional(bool, true)
    period_seconds      = optional(number, 300)
    api_5xx_threshold   = optional(number, 1)
    throttle_threshold  = optional(number, 10)
    denial_threshold    = optional(number, 20)
    error_threshold     = optional(number, 1)
    sns_topic_arn       = optional(string)
    create_sns_topic    = optional(bool, false)
    email_subscriptions = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = contains([60, 300, 900, 3600], var.alarms.period_seconds)
    error_message = "alarms.period_seconds must be 60, 300, 900 or 3600."
  }
  validation {
    condition     = var.alarms.sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarms.sns_topic_arn))
    error_message = "alarms.sns_topic_arn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)."
  }
  validation {
    condition     = !(var.alarms.create_sns_topic && var.alarms.sns_topic_arn != null)
    error_message = "Set alarms.sns_topic_arn or alarms.create_sns_topic, not both."
  }
  validation {
    condition     = alltrue([for e in var.alarms.email_subscriptions : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarms.email_subscriptions must hold e-mail addresses."
  }
  validation {
    condition     = min(var.alarms.api_5xx_threshold, var.alarms.throttle_threshold, var.alarms.denial_threshold, var.alarms.error_threshold) >= 1
    error_message = "Alarm thresholds must be at least 1."
  }
}

# --- Approval-expiry sweep (sweep.tf) and Slack channel (chatbot.tf) ----------

variable "approval_expiry_sweep" {
  description = "The schedule that announces approval expiries as they happen: whether to create it, and its EventBridge Scheduler expression (rate(...) or cron(...)). An expiry is announced at most one period late."
  type = object({
    enabled             = optional(bool, true)
    schedule_expression = optional(string, "rate(5 minutes)")
  })
  default = {}

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.approval_expiry_sweep.schedule_expression))
    error_message = "approval_expiry_sweep.schedule_expression must be rate(N unit) or cron(...), e.g. rate(5 minutes)."
  }
}

variable "chatbot_slack" {
  description = "Send the notification topic to a Slack channel: workspace_id (the authorized Slack workspace, e.g. T012AB3CD) and channel_id (e.g. C012AB3CD). The channel's role may only read CloudWatch (the notifications template), and the guardrail policies cap what anyone in the channel may do (default: ReadOnlyAccess). Needs notifications.create_topic or notifications.topic_arn."
  type = object({
    workspace_id                = string
    channel_id                  = string
    guardrail_policy_arns       = optional(list(string))
    logging_level               = optional(string, "ERROR")
    user_authorization_required = optional(bool, true)
  })
  default = null

  validation {
    condition     = var.chatbot_slack == null || can(regex("^[0-9A-Z]{1,255}$", var.chatbot_slack.workspace_id))
    error_message = "chatbot_slack.workspace_id must be a Slack workspace ID such as T012AB3CD."
  }
  validation {
    condition     = var.chatbot_slack == null || can(regex("^[A-Za-z0-9]{9,255}$", var.chatbot_slack.channel_id))
    error_message = "chatbot_slack.channel_id must be a Slack channel ID such as C012AB3CD."
  }
  validation {
    condition     = var.chatbot_slack == null || contains(["ERROR", "INFO", "NONE"], var.chatbot_slack.logging_level)
    error_message = "chatbot_slack.logging_level must be ERROR, INFO or NONE."
  }
  validation {
    condition     = var.chatbot_slack == null || alltrue([for a in coalesce(var.chatbot_slack.guardrail_policy_arns, []) : can(regex("^arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/.+$", a))])
    error_message = "chatbot_slack.guardrail_policy_arns must hold IAM policy ARNs."
  }
}
