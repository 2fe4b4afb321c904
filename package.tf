# The handler zip is built at plan time from lambda/ by tools/package:
# a reproducible build (CGO_ENABLED=0, -trimpath, -buildvcs=false, fixed
# zip timestamps and modes), so source_code_hash changes only when the code
# does. CI can bring a prebuilt zip with var.lambda_zip_path instead.

locals {
  build_handler = var.lambda_zip_path == null
  goarch        = var.lambda.architecture == "arm64" ? "arm64" : "amd64"

  handler_zip_path = local.build_handler ? data.external.handler[0].result.path : abspath(var.lambda_zip_path)
  handler_zip_hash = local.build_handler ? data.external.handler[0].result.sha256_base64 : filebase64sha256(var.lambda_zip_path)
}

data "external" "handler" {
  count = local.build_handler ? 1 : 0

  program     = ["go", "run", "./tools/package"]
  working_dir = local.module_dir
  query = {
    arch = local.goarch
    # Under the root module's .terraform, one file per architecture.
    out = abspath("${path.root}/.terraform/sentinel-tvm/handler-${local.goarch}.zip")
  }
}
