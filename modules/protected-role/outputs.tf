output "arn" {
  description = "ARN of the role: use it as a profile's role_arn in the policy."
  value       = aws_iam_role.this.arn
}

output "name" {
  description = "Name of the role."
  value       = aws_iam_role.this.name
}

output "trust_policy" {
  description = "The role's trust policy (JSON)."
  value       = data.aws_iam_policy_document.trust.json
}

output "guard_policy" {
  description = "The guard inline policy (JSON): what the role's own sessions may not change."
  value       = data.aws_iam_policy_document.guard.json
}
