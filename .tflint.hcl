# tflint for the module, modules/* and examples/* (make test runs it with
# --recursive). Only the bundled terraform ruleset: the AWS plugin is not
# installed offline; tfcheck covers provider schemas during development.
config {
  call_module_type = "none"
}

plugin "terraform" {
  enabled = true
  preset  = "recommended"
}

rule "terraform_documented_variables" {
  enabled = true
}

rule "terraform_documented_outputs" {
  enabled = true
}

rule "terraform_typed_variables" {
  enabled = true
}

rule "terraform_standard_module_structure" {
  enabled = true
}

rule "terraform_naming_convention" {
  enabled = true
}
