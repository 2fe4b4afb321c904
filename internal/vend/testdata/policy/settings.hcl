# The handler tests' policy: one engineering account (111122223333), a
# production account (444455556666), and a profile for each decision path.

settings {
  default_duration = "15m"
  max_duration     = "1h"
  operators        = ["arn:aws:iam::111122223333:role/security-*"]
}
