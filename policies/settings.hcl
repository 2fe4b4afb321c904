# Example policy for Sentinel TVM: a company with an engineering account
# (111122223333), SSO users, a security team and an on-call rotation.

settings {
  default_duration = "15m"
  max_duration     = "1h"

  # Security may list and revoke any session.
  operators = ["arn:aws:iam::111122223333:role/security-*"]

  # IAM Identity Center sets the session name of these roles to the user's
  # name, so for them (and only them) principal.user is an identity.
  trusted_session_roles = ["arn:aws:iam::111122223333:role/AWSReservedSSO_*"]
  # In a real deployment also pin them by role unique ID, so that a role
  # someone else creates under such a name is not trusted (see
  # docs/policy-language.md, "Trusted session roles"):
  # trusted_session_role_ids = ["AROA3XFRBF535PLBIFPI4"]
}
