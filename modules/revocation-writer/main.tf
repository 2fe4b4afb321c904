# The writer role the Sentinel TVM's revoker assumes in an account other
# than its own to write revocations there. IAM's role-policy calls take a
# role name, so they act in the account of the caller's credentials: the
# revoker can only write a deny onto a role of another account from inside
# that account. Create one in every account with protected roles other than
# the TVM's own, with the same name in each, and give that name to the root
# module's revoker_role_name.
#
# It trusts only the revoker's role (and only under the session name the
# revoker uses), and may only read, list and write the inline policies of
# the roles under protected_role_path. The revoker writes only
# sentinel-tvm-revocations (IAM has no condition key for an inline policy's
# name); iam:ListRolePolicies lets it count the role's other inline
# policies toward IAM's size limit. It never deletes a policy.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "RevokerOnly"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [var.revoker_role_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "sts:RoleSessionName"
      values   = ["sentinel-tvm-revoker"]
    }
  }
}

data "aws_iam_policy_document" "write" {
  statement {
    sid       = "RevocationPolicy"
    actions   = ["iam:GetRolePolicy", "iam:ListRolePolicies", "iam:PutRolePolicy"]
    resources = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role${var.protected_role_path}*"]
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  path                 = var.path
  description          = "Writes Sentinel TVM revocations (sentinel-tvm-revocations) onto the roles under ${var.protected_role_path}"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = 3600
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_role_policy" "write" {
  name   = "sentinel-tvm-revocation-writer"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.write.json
}
