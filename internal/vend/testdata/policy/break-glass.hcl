break_glass "prod-emergency" {
  profiles     = ["prod-*"]
  principals   = ["arn:aws:iam::111122223333:role/engineer-*"]
  max_duration = "1h"
  reason_codes = ["incident"]
}
