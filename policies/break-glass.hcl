break_glass "prod-emergency" {
  profiles                 = ["prod-*"]
  principals               = ["arn:aws:iam::111122223333:role/sre-oncall-*"]
  max_duration             = "1h"
  reason_codes             = ["incident", "security", "recovery"]
  min_justification_length = 20
}
