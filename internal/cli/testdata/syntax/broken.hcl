rule "devs-write" {
  effect = "allow"
  profiles = ["dev-*"
}
