output "arn" {
  description = "ARN of the writer role."
  value       = aws_iam_role.this.arn
}

output "name" {
  description = "Name of the writer role: the root module's revoker_role_name."
  value       = aws_iam_role.this.name
}

output "trust_policy" {
  description = "The writer role's trust policy (JSON)."
  value       = data.aws_iam_policy_document.trust.json
}

output "policy" {
  description = "The writer role's permissions (JSON)."
  value       = data.aws_iam_policy_document.write.json
}
