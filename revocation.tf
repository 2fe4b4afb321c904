# Revocations must reach every role the policy can vend. IAM's role-policy
# calls take a role name, so the revoker writes only in its own account
# with its own role, and in any other account through the writer role
# var.revoker_role_name (modules/revocation-writer) there; without that
# role it refuses a revocation in another account rather than report one
# it did not write. Catch the gap at plan time, not at the first incident.

locals {
  # Compiled role ARNs (arn:PARTITION:iam::ACCOUNT:role/...) of accounts
  # other than the module's.
  revocation_remote_role_arns = sort([for a in local.policy_role_arns : a if split(":", a)[4] != local.account_id])
}

resource "terraform_data" "revocation_reach" {
  count = var.create ? 1 : 0

  input = local.revocation_remote_role_arns

  lifecycle {
    precondition {
      condition     = length(local.revocation_remote_role_arns) == 0 || var.revoker_role_name != null
      error_message = "The policy names roles in other accounts (${join(", ", local.revocation_remote_role_arns)}), and revoker_role_name is not set: the revoker could not revoke their sessions. Create a writer role in each of those accounts (modules/revocation-writer, trusting the revoker_role_arn output) and set revoker_role_name to its name."
    }
  }
}
