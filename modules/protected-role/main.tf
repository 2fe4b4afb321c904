# A role only the Sentinel TVM can assume: the trust policy names the TVM's
# vending function role and requires what that function always sends (a
# SourceIdentity starting with "stvm" and the sentinel:session-id session
# tag), so even that role cannot use it outside the TVM's code path, and
# every session is traceable in CloudTrail. Attach your permissions to it.

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "SentinelTVMOnly"
    actions = ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]
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
    # The session ID tag the revocation policy matches on must be present.
    condition {
      test     = "Null"
      variable = "aws:RequestTag/sentinel:session-id"
      values   = ["false"]
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
