# The policy is compiled at plan time by the sentinel provider's
# sentinel_policy data source (the compiler the CLI uses; no Go needed): a
# compile error or a failed policy test fails `plan`, naming FILE:LINE:COL
# and the block, and warnings show in the plan. The bundle goes to an SSM
# SecureString (gzipped and base64-encoded: the function accepts both forms
# and checks the bundle's sha256 against SENTINEL_POLICY_SHA256), and the
# compiled role ARNs scope the function's sts:AssumeRole grant.
#
# With create = false nothing is deployed and nothing is compiled: a
# switched-off environment needs no policy files (docs/deploying.md).

locals {
  policy_bundle    = one(data.sentinel_policy.this[*].bundle)
  policy_sha256    = one(data.sentinel_policy.this[*].sha256)
  policy_role_arns = var.create ? data.sentinel_policy.this[0].role_arns : []
  policy_profiles  = var.create ? data.sentinel_policy.this[0].profiles : []
  policy_value     = var.create ? base64gzip(local.policy_bundle) : null
}

data "sentinel_policy" "this" {
  count = var.create ? 1 : 0

  dir       = var.policies_dir
  files     = length(var.policy_files) > 0 ? var.policy_files : null
  run_tests = !var.policy_skip_tests

  lifecycle {
    precondition {
      condition     = (var.policies_dir != null) != (length(var.policy_files) > 0)
      error_message = "Give the policy as exactly one of policies_dir (a directory) or policy_files (file name => content)."
    }
  }
}

resource "aws_ssm_parameter" "policy" {
  count = var.create ? 1 : 0

  name        = local.policy_parameter_name
  description = "Sentinel TVM ${var.name}: compiled policy bundle (base64 of gzip), sha256 ${local.policy_sha256}"
  type        = "SecureString"
  key_id      = local.kms_key_arn
  value       = local.policy_value
  # Standard parameters hold 4 KB, advanced ones 8 KB (and cost money).
  # Intelligent-Tiering lets SSM choose, and only ever upgrades: a bundle
  # that shrinks below 4 KB again never forces the Advanced -> Standard
  # replacement (a delete, then a create: a window without a parameter).
  tier = "Intelligent-Tiering"
  tags = local.tags

  lifecycle {
    precondition {
      condition     = length(local.policy_value) <= 8192
      error_message = "The compiled policy is ${length(local.policy_value)} bytes gzipped and base64-encoded; an SSM parameter holds at most 8192. Split or simplify the policy."
    }
  }
}
