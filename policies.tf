# The policy is compiled at plan time: a compile error or a failed policy
# test fails `plan` with the compiler's diagnostics. The bundle goes to an
# SSM SecureString (gzipped and base64-encoded: the function accepts both
# forms and checks the bundle's sha256 against SENTINEL_POLICY_SHA256), and
# the compiled role ARNs scope the function's sts:AssumeRole grant.

locals {
  module_dir = abspath(path.module)
  cli        = var.sentinel_cli_path != null ? [abspath(var.sentinel_cli_path)] : ["go", "run", "./cmd/sentinel-tvm"]

  # policy_files (contents, e.g. rendered from templates) are written to a
  # temporary directory and compiled by tools/tfpolicy.
  policy_program = length(var.policy_files) > 0 ? concat(
    ["go", "run", "./tools/tfpolicy"], local.cli
  ) : concat(local.cli, ["policy", "compile", "--terraform-external"])
  policy_query = length(var.policy_files) > 0 ? {
    files      = jsonencode(var.policy_files)
    skip_tests = tostring(var.policy_skip_tests)
    } : {
    dir        = abspath(coalesce(var.policies_dir, "-"))
    skip_tests = tostring(var.policy_skip_tests)
  }

  policy_bundle    = data.external.policy.result.bundle
  policy_sha256    = data.external.policy.result.sha256
  policy_role_arns = jsondecode(data.external.policy.result.role_arns)
  policy_profiles  = jsondecode(data.external.policy.result.profiles)
  policy_value     = base64gzip(local.policy_bundle)
}

data "external" "policy" {
  program     = local.policy_program
  working_dir = local.module_dir
  query       = local.policy_query

  lifecycle {
    precondition {
      condition     = (var.policies_dir != null) != (length(var.policy_files) > 0)
      error_message = "Give the policy as exactly one of policies_dir (a directory) or policy_files (file name => content)."
    }
  }
}

resource "aws_ssm_parameter" "policy" {
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
