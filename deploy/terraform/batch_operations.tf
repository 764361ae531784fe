###############################################################################
# Backfills on S3 Batch Operations (engine backfill --via batch-operations):
# the operator's CLI writes a CSV manifest of the objects still to land and
# creates a job that invokes the export-copier on every one of them; S3 writes
# a completion report the CLI reads before it starts Glue.
#
# - The job's role, assumed by S3 Batch Operations: reads the manifest, writes
#   the completion report, invokes the copier. Nothing else (the copier's own
#   role does the copying).
# - The operator's policy (attach it to whoever runs backfills): create jobs
#   that invoke a Lambda, describe them, pass the job's role to S3, and read and
#   write the manifests, job records and reports.
###############################################################################

locals {
  batch_bucket_name = var.batch_operations_bucket_name != "" ? var.batch_operations_bucket_name : var.parking_bucket_name
  batch_bucket_arn  = "arn:${local.partition}:s3:::${local.batch_bucket_name}"
  batch_objects_arn = "${local.batch_bucket_arn}/${var.batch_operations_prefix}*"
  batch_kms_key_arn = var.batch_operations_kms_key_arn != "" ? var.batch_operations_kms_key_arn : (
    var.batch_operations_bucket_name == "" ? var.parking_kms_key_arn : ""
  )
  batch_location = "s3://${local.batch_bucket_name}/${var.batch_operations_prefix}"
  batch_job_arns = "arn:${local.partition}:s3:${local.region}:${local.account_id}:job/*"
}

data "aws_iam_policy_document" "batch_operations_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["batchoperations.s3.amazonaws.com"]
    }
    # Only jobs of this account may assume it (confused-deputy protection).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "batch_operations" {
  name               = "${var.name_prefix}-batch-operations"
  description        = "S3 Batch Operations backfill jobs: read the manifest, write the report, invoke the export-copier"
  assume_role_policy = data.aws_iam_policy_document.batch_operations_assume.json
}

data "aws_iam_policy_document" "batch_operations" {
  statement {
    sid       = "ReadManifest"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [local.batch_objects_arn]
  }

  statement {
    sid       = "WriteReport"
    actions   = ["s3:PutObject"]
    resources = [local.batch_objects_arn]
  }

  statement {
    sid       = "LocateReportBucket"
    actions   = ["s3:GetBucketLocation"]
    resources = [local.batch_bucket_arn]
  }

  statement {
    sid       = "InvokeCopier"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.copier_function_arn, "${local.copier_function_arn}:*"]
  }

  dynamic "statement" {
    for_each = local.batch_kms_key_arn == "" ? [] : [local.batch_kms_key_arn]
    content {
      sid       = "DecryptManifest"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "batch_operations" {
  name   = "batch-operations"
  role   = aws_iam_role.batch_operations.id
  policy = data.aws_iam_policy_document.batch_operations.json
}

data "aws_iam_policy_document" "batch_operations_operator" {
  statement {
    sid = "CreateLambdaJobs"
    # CreateJob has no resource type: it is scoped by its operation instead.
    actions   = ["s3:CreateJob"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "s3:RequestJobOperation"
      values   = ["LambdaInvoke"]
    }
  }

  statement {
    sid       = "FollowJobs"
    actions   = ["s3:DescribeJob"]
    resources = [local.batch_job_arns]
  }

  statement {
    sid       = "PassJobRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.batch_operations.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["s3.amazonaws.com"]
    }
  }

  statement {
    sid       = "ListBatchPrefix"
    actions   = ["s3:ListBucket"]
    resources = [local.batch_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.batch_operations_prefix}*"]
    }
  }

  statement {
    sid       = "ManifestsRecordsReports"
    actions   = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
    resources = [local.batch_objects_arn]
  }

  dynamic "statement" {
    for_each = local.batch_kms_key_arn == "" ? [] : [local.batch_kms_key_arn]
    content {
      sid       = "EncryptBatchObjects"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_policy" "batch_operations_operator" {
  name        = "${var.name_prefix}-batch-operations-operator"
  description = "Run engine backfill --via batch-operations: create and follow jobs invoking the export-copier (attach with the backfill's S3 and Glue permissions)"
  policy      = data.aws_iam_policy_document.batch_operations_operator.json
}
