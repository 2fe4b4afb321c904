terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
    sentinel = {
      source  = "sentinel-tvm/sentinel"
      version = ">= 0.1"
    }
  }
}
