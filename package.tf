# The handler zip comes from one of three places:
# - by default, the sentinel provider's sentinel_lambda_package data source:
#   the zip embedded in the provider (the same version's bootstrap, built
#   reproducibly), written under .terraform/sentinel-tvm in the working
#   directory. Its filename is relative and its hash the same on every OS and
#   checkout path, so no plan shows a diff for where it runs;
# - var.lambda_zip_path: a prebuilt zip (e.g. from a release), for pipelines
#   that plan and apply on different machines and keep the file with the plan;
# - var.lambda_package_s3: a zip already in S3 (e.g. a release's zip uploaded
#   once), with its source_code_hash.

locals {
  handler_source = var.lambda_package_s3 != null ? "s3" : var.lambda_zip_path != null ? "file" : "provider"
  goarch         = var.lambda.architecture == "arm64" ? "arm64" : "amd64"

  handler_zip_path = {
    provider = one(data.sentinel_lambda_package.handler[*].filename)
    file     = var.lambda_zip_path
    s3       = null
  }[local.handler_source]
  handler_zip_hash = {
    provider = one(data.sentinel_lambda_package.handler[*].source_code_hash)
    file     = var.create && local.handler_source == "file" ? filebase64sha256(coalesce(var.lambda_zip_path, "-")) : null
    s3       = try(var.lambda_package_s3.source_code_hash, null)
  }[local.handler_source]
  handler_s3_bucket         = try(var.lambda_package_s3.bucket, null)
  handler_s3_key            = try(var.lambda_package_s3.key, null)
  handler_s3_object_version = try(var.lambda_package_s3.object_version, null)
}

data "sentinel_lambda_package" "handler" {
  count = var.create && local.handler_source == "provider" ? 1 : 0

  architecture = local.goarch

  lifecycle {
    precondition {
      condition     = var.lambda_zip_path == null || var.lambda_package_s3 == null
      error_message = "Give at most one of lambda_zip_path and lambda_package_s3."
    }
  }
}
