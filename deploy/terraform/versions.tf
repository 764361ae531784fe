terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }

  # State backend is chosen by the operator: copy backend.tf.example to backend.tf
  # (S3 + DynamoDB locking, as the data platform does) or keep local state for a trial.
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = merge(
      {
        Project   = "liberator"
        ManagedBy = "terraform"
        Component = "sql-to-parquet"
      },
      var.tags,
    )
  }
}
