variable "create" {
  description = "Whether to create any resource (false: the module creates nothing, e.g. to switch a deployment off per environment)"
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the deployment: the function, table, API, roles and log groups are named after it."
  type        = string
  default     = "sentinel-tvm"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{2,47}$", var.name))
    error_message = "name must be 3 to 48 characters (DynamoDB table names have at least 3): a letter, then letters, digits or hyphens (it prefixes IAM role and Lambda function names)."
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

variable "vended_role_grants_by_path" {
  description = "Grant the vending function sts:AssumeRole on the IAM paths of the policy's roles (arn:...:role/PATH/*, for roles under a path other than \"/\") instead of on each role: the grant then stays within IAM's 10,240-character limit on a role's inline policies (about 100 role ARNs) however many roles share a path. Every role under such a path must then be one the TVM may vend."
  type        = bool
  default     = false
}

variable "cli_command" {
  description = "How users run the client in the generated ~/.aws/config snippets."
  type        = string
  default     = "sentinel-tvm"
}

variable "revoker_role_name" {
  description = "Name of the writer role (modules/revocation-writer) in each other account with vended roles, which the revoker assumes to write revocations there. Null: the revoker writes only this account's roles (with its own role) and refuses others, and the plan fails when the policy names roles of other accounts."
  type        = string
  default     = null

  validation {
    condition     = var.revoker_role_name == null || can(regex("^[\\w+=,.@-]{1,64}$", var.revoker_role_name))
    error_message = "revoker_role_name must be an IAM role name: 1 to 64 of letters, digits and + = , . @ _ -."
  }
}

# --- Lambda --------------------------------------------------------------------

variable "lambda_zip_path" {
  description = "A prebuilt handler zip (with `bootstrap` at its root, e.g. a release's sentinel-tvm-lambda zip) instead of the one the sentinel provider embeds. Give a path relative to the root module so plans in other checkouts show no diff."
  type        = string
  default     = null
}

variable "lambda_package_s3" {
  description = "The handler zip in S3 instead of the one the sentinel provider embeds: bucket, key, optional object_version, and source_code_hash (the zip's sha256, base64-encoded, as `openssl dgst -sha256 -binary ZIP | base64` prints it), for pipelines that plan and apply on different machines."
  type = object({
    bucket           = string
    key              = string
    object_version   = optional(string)
    source_code_hash = string
  })
  default = null

  validation {
    condition     = var.lambda_package_s3 == null || can(regex("^[A-Za-z0-9+/]{43}=$", var.lambda_package_s3.source_code_hash))
    error_message = "lambda_package_s3.source_code_hash must be the zip's sha256 in base64 (44 characters ending in =)."
  }
}

variable "lambda" {
  description = "The functions: architecture, memory (MB), timeout (s, at most 29: API Gateway's integration limit), the API function's reserved concurrency (-1: none; the revoker function reserves none), X-Ray active tracing."
  type = object({
    architecture         = optional(string, "arm64")
    memory_size          = optional(number, 256)
    timeout              = optional(number, 10)
    reserved_concurrency = optional(number, -1)
    tracing              = optional(bool, false)
    # A Lambda code-signing configuration (ARN) both functions enforce.
    code_signing_config_arn = optional(string)
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
    condition     = var.lambda.code_signing_config_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:code-signing-config:csc-[a-z0-9]{17}$", var.lambda.code_signing_config_arn))
    error_message = "lambda.code_signing_config_arn must be a Lambda code-signing configuration ARN (arn:aws:lambda:REGION:ACCOUNT:code-signing-config:csc-...)."
  }
  validation {
    condition     = var.lambda.reserved_concurrency == -1 || var.lambda.reserved_concurrency >= 1
    error_message = "lambda.reserved_concurrency must be -1 (no reservation) or at least 1."
  }
}

variable "service" {
  description = "The service's settings (the function's environment). Durations are whole seconds: rate_window_seconds = 60."
  type = object({
    rate_limit               = optional(number, 30)
    rate_window_seconds      = optional(number, 60)
    rate_per_profile         = optional(bool, false)
    retention_seconds        = optional(number, 7776000) # 90 days
    approval_ttl_seconds     = optional(number, 86400)
    approval_window_seconds  = optional(number, 3600)
    policy_cache_ttl_seconds = optional(number, 60)
    version                  = optional(string)
  })
  default = {}

  validation {
    condition     = var.service.rate_limit >= 1 && var.service.rate_limit <= 100000 && floor(var.service.rate_limit) == var.service.rate_limit
    error_message = "service.rate_limit must be a whole number of requests per window from 1 to 100000."
  }
  validation {
    condition = alltrue([for k, r in {
      rate_window_seconds      = [1, 86400]
      retention_seconds        = [3600, 315360000]
      approval_ttl_seconds     = [60, 604800]
      approval_window_seconds  = [60, 86400]
      policy_cache_ttl_seconds = [1, 900]
    } : floor(var.service[k]) == var.service[k] && var.service[k] >= r[0] && var.service[k] <= r[1]])
    error_message = "Service durations are whole seconds: rate_window_seconds from 1 to 86400, retention_seconds from 3600 to 315360000 (10 years), approval_ttl_seconds from 60 to 604800 (7 days), approval_window_seconds from 60 to 86400, policy_cache_ttl_seconds from 1 to 900."
  }
}

variable "ssm_high_throughput" {
  description = "Turn on Parameter Store's higher throughput for the account and region (an account-wide setting that AWS bills per API interaction; the module sets it and resets it on destroy). Cold-start bursts read the policy parameter once per new instance; without it Parameter Store throttles GetParameter at about 40 requests per second, which the function retries with jittered backoff within its deadline (docs/benchmarks.md)."
  type        = bool
  default     = false
}

variable "vpc" {
  description = "Run both functions in these VPC subnets with these security groups. They then need VPC endpoints (or NAT) for STS, DynamoDB, SSM, KMS, CloudWatch Logs, Lambda and SNS; the revoker reaches IAM, which has no VPC endpoint, only through a NAT gateway (see the README)."
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null

  validation {
    condition     = var.vpc == null || (length(try(var.vpc.subnet_ids, [])) > 0 && length(try(var.vpc.security_group_ids, [])) > 0)
    error_message = "vpc needs at least one subnet ID and one security group ID."
  }
  validation {
    condition     = var.vpc == null || alltrue(concat([for s in try(var.vpc.subnet_ids, []) : can(regex("^subnet-[0-9a-f]{8,17}$", s))], [for g in try(var.vpc.security_group_ids, []) : can(regex("^sg-[0-9a-f]{8,17}$", g))]))
    error_message = "vpc.subnet_ids must hold subnet IDs (subnet-...) and vpc.security_group_ids security group IDs (sg-...)."
  }
}

# --- API Gateway ---------------------------------------------------------------

variable "api" {
  description = "The REST API: its stage's name, throttling (steady requests per second and burst), execution logging level, X-Ray tracing, an optional WAFv2 web ACL (regional) to associate, and the endpoint type (REGIONAL, or PRIVATE reachable only through vpc_endpoint_ids, enforced with aws:SourceVpce in the resource policy)."
  type = object({
    stage_name              = optional(string, "api")
    throttling_rate_limit   = optional(number, 50)
    throttling_burst_limit  = optional(number, 100)
    execution_logging_level = optional(string, "ERROR")
    xray_tracing            = optional(bool, false)
    waf_web_acl_arn         = optional(string)
    endpoint_type           = optional(string, "REGIONAL")
    vpc_endpoint_ids        = optional(list(string), [])
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
    condition     = contains(["REGIONAL", "PRIVATE"], var.api.endpoint_type) && (var.api.endpoint_type == "PRIVATE") == (length(var.api.vpc_endpoint_ids) > 0)
    error_message = "api.endpoint_type must be REGIONAL, or PRIVATE with api.vpc_endpoint_ids (the execute-api VPC endpoints that may reach it, and only those); vpc_endpoint_ids need PRIVATE."
  }
  validation {
    condition     = alltrue([for id in var.api.vpc_endpoint_ids : can(regex("^vpce-[0-9a-f]{8,17}$", id))])
    error_message = "api.vpc_endpoint_ids must hold VPC endpoint IDs (vpce-...)."
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

variable "api_gateway_account" {
  description = <<-EOT
    The account's API Gateway CloudWatch Logs role, an account-wide setting per region that access and execution logging need:
    "existing" (the account has one, e.g. from a landing zone: logging on; apply fails where there is none),
    "create" (this module sets it: it replaces the role of every API of the account in the region, and destroy removes it),
    "none" (no role and none to set: logging off, and every plan warns).
  EOT
  type        = string
  default     = "existing"

  validation {
    condition     = contains(["existing", "create", "none"], var.api_gateway_account)
    error_message = "api_gateway_account must be \"existing\", \"create\" or \"none\"."
  }
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

variable "key_administrators" {
  description = "IAM principals (ARNs) that administer the created KMS key (no use, no grants). Empty: the account, so IAM policies in it decide. Whoever applies this module must be one of them or be allowed kms:PutKeyPolicy by IAM."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.key_administrators : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(root|role/.+|user/.+)$", a))])
    error_message = "key_administrators must hold IAM role, user or account root ARNs (arn:aws:iam::ACCOUNT:role/NAME)."
  }
}

variable "key_users" {
  description = "IAM principals (ARNs) that may use the created KMS key directly (Encrypt, Decrypt, GenerateDataKey), e.g. to read encrypted logs outside CloudWatch. Every principal of the account may already use it through SSM, DynamoDB and Lambda, where those services' own permissions decide."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.key_users : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", a))])
    error_message = "key_users must hold IAM role or user ARNs (arn:aws:iam::ACCOUNT:role/NAME)."
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
    create_topic        = optional(bool, false)
    topic_arn           = optional(string)
    email_subscriptions = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = contains([60, 300, 900, 3600], var.alarms.period_seconds)
    error_message = "alarms.period_seconds must be 60, 300, 900 or 3600."
  }
  validation {
    condition     = var.alarms.topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarms.topic_arn))
    error_message = "alarms.topic_arn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)."
  }
  validation {
    condition     = !(var.alarms.create_topic && var.alarms.topic_arn != null)
    error_message = "Set alarms.topic_arn or alarms.create_topic, not both."
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

variable "create_dashboard" {
  description = "Create a CloudWatch dashboard (named like the deployment) of the handler's metrics and its latest refusals; see docs/reporting.md."
  type        = bool
  default     = true
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
