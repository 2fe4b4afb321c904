settings {
  max_duration = "2h"
}
