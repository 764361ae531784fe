###############################################################################
# Export: on RDS-EVENT-0042 (manual sql-to-parquet snapshot created) the
# export-trigger Lambda starts an RDS snapshot export to Parquet in the
# export bucket, encrypted with the export key and written by the export role.
###############################################################################

#------------------------------------------------------------------------------
# RDS export role (assumed by the RDS export service, passed by the trigger)
#------------------------------------------------------------------------------

data "aws_iam_policy_document" "rds_export_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["export.rds.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "rds_export" {
  name               = "${var.name_prefix}-rds-export"
  description        = "Assumed by RDS to write snapshot exports (Parquet) into the export bucket"
  assume_role_policy = data.aws_iam_policy_document.rds_export_assume.json
}

data "aws_iam_policy_document" "rds_export" {
  # The action set is the one the RDS User Guide / StartExportTask API
  # reference require for the export role; scoped to the export bucket and,
  # when set, the export prefix.
  statement {
    sid       = "ExportBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.export_bucket_arn]
  }

  statement {
    sid = "ExportObjects"
    actions = [
      "s3:PutObject*",
      "s3:GetObject*",
      "s3:DeleteObject*",
    ]
    resources = ["${local.export_bucket_arn}/${local.export_object_pattern}"]
  }
}

resource "aws_iam_role_policy" "rds_export" {
  name   = "rds-export"
  role   = aws_iam_role.rds_export.id
  policy = data.aws_iam_policy_document.rds_export.json
}

#------------------------------------------------------------------------------
# export-trigger Lambda
#------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "trigger" {
  name              = "/aws/lambda/${local.trigger_function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.pipeline.arn
}

# Receives RDS-EVENT-0042 events EventBridge could not deliver and
# asynchronous invocations that failed after Lambda's retries.
resource "aws_sqs_queue" "trigger_dlq" {
  name                              = "${local.trigger_function_name}-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.pipeline.arn
  kms_data_key_reuse_period_seconds = 300
}

# Lambda does not document confused-deputy condition keys for assuming an
# execution role, so this trust policy is the plain one.
data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "trigger" {
  name               = local.trigger_function_name
  description        = "export-trigger Lambda: start the RDS export of a sql-to-parquet snapshot"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "trigger" {
  statement {
    sid       = "StartExportOfPipelineSnapshots"
    actions   = ["rds:StartExportTask"]
    resources = ["${local.snapshot_arn_prefix}*"]
  }

  statement {
    sid       = "DescribePipelineSnapshots"
    actions   = ["rds:DescribeDBSnapshots"]
    resources = [local.db_instance_arn, "${local.snapshot_arn_prefix}*"]
  }

  statement {
    sid = "DescribeExportsOfPipelineSnapshots"
    # Authorised against the source snapshot (call it with SourceArn).
    actions   = ["rds:DescribeExportTasks"]
    resources = ["${local.snapshot_arn_prefix}*"]
  }

  statement {
    sid       = "PassOnlyTheExportRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.rds_export.arn]
  }

  # The StartExportTask caller must be allowed these operations on the export
  # key (RDS creates grants for them on the caller's behalf).
  statement {
    sid = "UseExportKey"
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
      "kms:RetireGrant",
    ]
    resources = [aws_kms_key.export.arn]
  }

  statement {
    sid       = "GrantExportKeyToRds"
    actions   = ["kms:CreateGrant"]
    resources = [aws_kms_key.export.arn]
    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }

  statement {
    sid       = "DeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.trigger_dlq.arn]
  }

  # The DLQ and the function's environment are encrypted with the pipeline key.
  statement {
    sid       = "PipelineKeyForDeadLettersAndEnvironment"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.pipeline.arn]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.trigger.arn}:*"]
  }

  statement {
    sid = "XRayTracing"
    # X-Ray segment APIs support no resource-level permissions.
    actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "trigger" {
  name   = "export-trigger"
  role   = aws_iam_role.trigger.id
  policy = data.aws_iam_policy_document.trigger.json
}

resource "aws_lambda_function" "trigger" {
  #checkov:skip=CKV_AWS_117:The function only calls AWS APIs (RDS, KMS, IAM PassRole, SQS); it reaches nothing inside a VPC, and a VPC attachment would need a NAT gateway or interface endpoints for no isolation gain.
  #checkov:skip=CKV_AWS_272:The zip is built from this repository by make lambdas and uploaded directly by Terraform; the deployment has no AWS Signer profile/S3 signing step to sign it with.
  function_name = local.trigger_function_name
  description   = "On RDS-EVENT-0042 for a ${var.snapshot_prefix} snapshot, start its export to Parquet"
  role          = aws_iam_role.trigger.arn

  filename         = local.trigger_zip
  source_code_hash = filebase64sha256(local.trigger_zip)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = ["arm64"]
  memory_size      = var.trigger_memory_mb
  timeout          = var.trigger_timeout_seconds

  reserved_concurrent_executions = var.trigger_reserved_concurrency
  kms_key_arn                    = aws_kms_key.pipeline.arn

  environment {
    variables = merge(
      {
        BUCKET_NAME     = var.export_bucket_name
        IAM_ROLE_ARN    = aws_iam_role.rds_export.arn
        KMS_KEY_ID      = aws_kms_key.export.arn
        RDS_INSTANCE_ID = aws_db_instance.ingestion.identifier
        SNAPSHOT_PREFIX = var.snapshot_prefix
      },
      var.export_s3_prefix == "" ? {} : { EXPORT_S3_PREFIX = var.export_s3_prefix },
    )
  }

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.trigger_dlq.arn
  }

  depends_on = [
    aws_cloudwatch_log_group.trigger,
    aws_iam_role_policy.trigger,
  ]
}

resource "aws_lambda_function_event_invoke_config" "trigger" {
  function_name                = aws_lambda_function.trigger.function_name
  maximum_retry_attempts       = var.lambda_async_retry_attempts
  maximum_event_age_in_seconds = 21600
}

resource "aws_lambda_permission" "trigger_from_eventbridge" {
  statement_id   = "AllowRdsSnapshotCreatedRule"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.trigger.function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.snapshot_created.arn
  source_account = local.account_id
}
