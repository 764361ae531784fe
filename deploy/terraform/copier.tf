###############################################################################
# Copy: on RDS-EVENT-0161 (export completed) the export-copier Lambda copies
# the export server-side from the export bucket into the landing zone, writes
# a marker under _liberator/, and starts the Glue workflow (the backdated one,
# after updating it, for backdated exports). It re-invokes itself
# asynchronously to continue past the 15 minute limit.
###############################################################################

resource "aws_cloudwatch_log_group" "copier" {
  name              = "/aws/lambda/${local.copier_function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.pipeline.arn
}

# Receives RDS-EVENT-0161 events EventBridge could not deliver and
# asynchronous invocations (including self re-invocations) that failed after
# Lambda's retries.
resource "aws_sqs_queue" "copier_dlq" {
  name                              = "${local.copier_function_name}-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.pipeline.arn
  kms_data_key_reuse_period_seconds = 300
}

resource "aws_iam_role" "copier" {
  name               = local.copier_function_name
  description        = "export-copier Lambda: copy the RDS export to the landing zone and start Glue"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "copier" {
  statement {
    sid = "DescribeExportsOfPipelineSnapshots"
    # Authorised against the source snapshot (call it with SourceArn).
    actions   = ["rds:DescribeExportTasks"]
    resources = ["${local.snapshot_arn_prefix}*"]
  }

  # --- source: the export bucket (read only) --------------------------------
  statement {
    sid       = "ListExport"
    actions   = ["s3:ListBucket"]
    resources = [local.export_bucket_arn]
    dynamic "condition" {
      for_each = var.export_s3_prefix == "" ? [] : [local.export_object_pattern]
      content {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = [condition.value]
      }
    }
  }

  statement {
    sid       = "ReadExport"
    actions   = ["s3:GetObject"]
    resources = ["${local.export_bucket_arn}/${local.export_object_pattern}"]
  }

  statement {
    sid       = "DecryptExport"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.export.arn]
  }

  # --- restore manifests (read only): rows per table the landing must match ----
  # ListBucket on the prefix lets a missing manifest (a historic export) answer 404, not 403.
  statement {
    sid       = "ListRestoreManifests"
    actions   = ["s3:ListBucket"]
    resources = [local.parking_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.manifest_prefix}*"]
    }
  }

  statement {
    sid       = "ReadRestoreManifests"
    actions   = ["s3:GetObject"]
    resources = [local.manifest_object_arn]
  }

  dynamic "statement" {
    for_each = var.parking_kms_key_arn == "" ? [] : [var.parking_kms_key_arn]
    content {
      sid       = "DecryptRestoreManifests"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
  }

  # --- target: the landing prefix and the _liberator/ marker prefix ----------
  statement {
    sid       = "ListLanding"
    actions   = ["s3:ListBucket"]
    resources = [local.landing_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.landing_prefix}*", "${local.landing_marker_prefix}*"]
    }
  }

  # Open multipart uploads left by an invocation that died are found and aborted before
  # their keys are landed again. A bucket-level action; the listing shows upload ids and
  # keys only, no object data.
  statement {
    sid       = "FindOpenUploads"
    actions   = ["s3:ListBucketMultipartUploads"]
    resources = [local.landing_bucket_arn]
  }

  statement {
    sid = "WriteLanding"
    actions = [
      "s3:AbortMultipartUpload",
      "s3:GetObject",
      "s3:ListMultipartUploadParts",
      "s3:PutObject",
      "s3:PutObjectAcl",
    ]
    resources = [
      "${local.landing_bucket_arn}/${var.landing_prefix}*",
      "${local.landing_bucket_arn}/${local.landing_marker_prefix}*",
    ]
  }

  statement {
    sid       = "EncryptLanding"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [var.landing_kms_key_arn]
  }

  # --- Glue -------------------------------------------------------------------
  statement {
    sid       = "RunWorkflows"
    actions   = ["glue:GetWorkflowRuns", "glue:StartWorkflowRun"]
    resources = [local.glue_workflow_arn, local.glue_backdated_workflow]
  }

  statement {
    sid       = "UpdateOnlyTheBackdatedWorkflow"
    actions   = ["glue:UpdateWorkflow"]
    resources = [local.glue_backdated_workflow]
  }

  # --- continuation past the 15 minute limit -----------------------------------
  statement {
    sid       = "ReinvokeSelf"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.copier_function_arn, "${local.copier_function_arn}:*"]
  }

  # --- plumbing ---------------------------------------------------------------
  statement {
    sid       = "DeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.copier_dlq.arn]
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
    resources = ["${aws_cloudwatch_log_group.copier.arn}:*"]
  }

  statement {
    sid = "XRayTracing"
    # X-Ray segment APIs support no resource-level permissions.
    actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "copier" {
  name   = "export-copier"
  role   = aws_iam_role.copier.id
  policy = data.aws_iam_policy_document.copier.json
}

resource "aws_lambda_function" "copier" {
  #checkov:skip=CKV_AWS_117:The function only calls AWS APIs (RDS, S3, KMS, Glue, Lambda, SQS); it reaches nothing inside a VPC, and a VPC attachment would route every copied byte through a NAT gateway or need interface endpoints for no isolation gain.
  #checkov:skip=CKV_AWS_272:The zip is built from this repository by make lambdas and uploaded directly by Terraform; the deployment has no AWS Signer profile/S3 signing step to sign it with.
  function_name = local.copier_function_name
  description   = "On RDS-EVENT-0161 copy the finished export to the landing zone and start the Glue workflow"
  role          = aws_iam_role.copier.arn

  filename         = local.copier_zip
  source_code_hash = filebase64sha256(local.copier_zip)
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = ["arm64"]
  memory_size      = var.copier_memory_mb
  timeout          = var.copier_timeout_seconds

  reserved_concurrent_executions = var.copier_reserved_concurrency
  kms_key_arn                    = aws_kms_key.pipeline.arn

  environment {
    variables = {
      SOURCE_BUCKET           = var.export_bucket_name
      SOURCE_PREFIX           = var.export_s3_prefix
      TARGET_BUCKET           = var.landing_bucket_name
      TARGET_PREFIX           = var.landing_prefix
      TARGET_KMS_KEY_ID       = var.landing_kms_key_arn
      WORKFLOW_NAME           = var.glue_workflow_name
      BACKDATED_WORKFLOW_NAME = var.glue_backdated_workflow_name
      CONCURRENCY             = tostring(var.copier_concurrency)
      MAX_INVOCATION_SECONDS  = tostring(var.copier_timeout_seconds)
      MANIFEST_LOCATION       = local.manifest_location
      FAIL_ON_SCHEMA_CHANGE   = tostring(var.copier_fail_on_schema_change)
    }
  }

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.copier_dlq.arn
  }

  depends_on = [
    aws_cloudwatch_log_group.copier,
    aws_iam_role_policy.copier,
  ]
}

resource "aws_lambda_function_event_invoke_config" "copier" {
  function_name                = aws_lambda_function.copier.function_name
  maximum_retry_attempts       = var.lambda_async_retry_attempts
  maximum_event_age_in_seconds = 21600
}

resource "aws_lambda_permission" "copier_from_eventbridge" {
  statement_id   = "AllowRdsExportCompletedRule"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.copier.function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.export_completed.arn
  source_account = local.account_id
}
