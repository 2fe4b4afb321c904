# A role only the Sentinel TVM can assume: the trust policy names the TVM's
# vending function role and requires what that function always sends (a
# SourceIdentity starting with "stvm" and the sentinel:session-id session
# tag), so even that role cannot use it outside the TVM's code path, and
# every session is traceable in CloudTrail. Attach your permissions to it.
#
# One statement per action, each with only the condition keys AWS's Service
# Authorization Reference lists for that action (a key an action does not
# have makes its condition false, and then AssumeRole is denied):
#   sts:AssumeRole        sts:SourceIdentity, aws:RequestTag/${TagKey}, aws:TagKeys, ...
#   sts:SetSourceIdentity sts:SourceIdentity
#   sts:TagSession        aws:RequestTag/${TagKey}, aws:TagKeys, sts:TransitiveTagKeys

data "aws_partition" "current" {}

locals {
  # The session tags the TVM itself stamps on every session.
  service_tag_keys = ["sentinel:session-id", "sentinel:principal", "sentinel:profile", "sentinel:via"]
}

data "aws_iam_policy_document" "trust" {
  # AssumeRole only with a TVM SourceIdentity and the session-ID tag: a
  # session without the tag could not be revoked.
  statement {
    sid     = "AssumeRoleFromTheTVM"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = [var.tvm_execution_role_arn]
    }
    # Every vended session's SourceIdentity starts with "stvm" (stvm.,
    # stvm-ap. for approvals, stvm-bg. for break-glass).
    condition {
      test     = "StringLike"
      variable = "sts:SourceIdentity"
      values   = ["stvm*"]
    }
    condition {
      test     = "Null"
      variable = "aws:RequestTag/sentinel:session-id"
      values   = ["false"]
    }
  }

  statement {
    sid     = "SetSourceIdentityFromTheTVM"
    actions = ["sts:SetSourceIdentity"]
    principals {
      type        = "AWS"
      identifiers = [var.tvm_execution_role_arn]
    }
    condition {
      test     = "StringLike"
      variable = "sts:SourceIdentity"
      values   = ["stvm*"]
    }
  }

  statement {
    sid     = "TagSessionFromTheTVM"
    actions = ["sts:TagSession"]
    principals {
      type        = "AWS"
      identifiers = [var.tvm_execution_role_arn]
    }
    # The session ID tag the revocation policy matches on must be present.
    condition {
      test     = "Null"
      variable = "aws:RequestTag/sentinel:session-id"
      values   = ["false"]
    }
    # Only the session ID is transitive (it survives role chaining, so a
    # revocation's deny still matches a chained session).
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "sts:TransitiveTagKeys"
      values   = ["sentinel:session-id"]
    }
    # With session_tag_keys set, only the service's tags and those keys.
    dynamic "condition" {
      for_each = var.session_tag_keys != null ? [1] : []
      content {
        test     = "ForAllValues:StringEquals"
        variable = "aws:TagKeys"
        values   = distinct(concat(local.service_tag_keys, var.session_tag_keys))
      }
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  path                 = var.path
  description          = var.description
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_duration
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

# The guard: the role's own sessions may not change its inline policies
# (among them sentinel-tvm-revocations: a revoked session must not delete
# its own deny), its managed policies, its permissions boundary or its
# trust policy, nor those of the other roles under its path (the other
# protected roles, when they share a path). An identity policy on this
# role binds only this role's sessions; for every other principal use the
# SCP docs/scp/protect-revocation-policy.json, which exempts the revoker and
# writer roles.
data "aws_iam_policy_document" "guard" {
  statement {
    sid    = "NoChangesToProtectedRoles"
    effect = "Deny"
    actions = [
      "iam:AttachRolePolicy", "iam:DeleteRolePermissionsBoundary", "iam:DeleteRolePolicy", "iam:DetachRolePolicy",
      "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy",
    ]
    resources = distinct(compact([
      aws_iam_role.this.arn,
      var.path != "/" ? "arn:${data.aws_partition.current.partition}:iam::${split(":", aws_iam_role.this.arn)[4]}:role${var.path}*" : "",
    ]))
  }
}

resource "aws_iam_role_policy" "guard" {
  count = var.guard ? 1 : 0

  name   = "sentinel-tvm-guard"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.guard.json
}

resource "aws_iam_role_policy_attachment" "this" {
  for_each = toset(var.policy_arns)

  role       = aws_iam_role.this.name
  policy_arn = each.value
}

resource "aws_iam_role_policy" "this" {
  count = var.inline_policy != null ? 1 : 0

  name   = "permissions"
  role   = aws_iam_role.this.id
  policy = var.inline_policy
}
