###############################################################################
# EventBridge wiring of the three stages, each target with a retry policy and
# an SSE-KMS dead-letter queue:
#   dump written under parking/ (CloudTrail)  -> restore ECS task
#   RDS-EVENT-0042 on sql-to-parquet*         -> export-trigger Lambda
#   RDS-EVENT-0161 on sql-to-parquet*         -> export-copier Lambda
###############################################################################

#------------------------------------------------------------------------------
# Dump drop -> restore
#------------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "dump_dropped" {
  name        = "${var.name_prefix}-dump-dropped"
  description = "A liberator dump was written under s3://${var.parking_bucket_name}/${var.parking_prefix}: run the restore task"

  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["AWS API Call via CloudTrail"]
    detail = {
      eventSource = ["s3.amazonaws.com"]
      eventName   = ["PutObject", "CompleteMultipartUpload", "CopyObject"]
      errorCode   = [{ exists = false }]
      requestParameters = {
        bucketName = [var.parking_bucket_name]
        key        = [{ prefix = "${var.parking_prefix}${var.dump_file_prefix}" }]
      }
    }
  })
}

resource "aws_sqs_queue" "restore_dlq" {
  name                              = "${local.restore_family}-events-dlq"
  message_retention_seconds         = 1209600
  kms_master_key_id                 = aws_kms_key.pipeline.arn
  kms_data_key_reuse_period_seconds = 300
}

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "events_run_restore" {
  name               = "${local.restore_family}-events"
  description        = "Lets EventBridge run the restore task on the restore cluster"
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
}

data "aws_iam_policy_document" "events_run_restore" {
  statement {
    sid       = "RunRestoreTask"
    actions   = ["ecs:RunTask"]
    resources = ["${aws_ecs_task_definition.restore.arn_without_revision}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.restore.arn]
    }
  }

  statement {
    sid       = "TagRestoreTask"
    actions   = ["ecs:TagResource"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task/${local.cluster_name}/*"]
    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }

  statement {
    sid       = "PassRestoreRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.restore_execution.arn, aws_iam_role.restore_task.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "events_run_restore" {
  name   = "run-restore-task"
  role   = aws_iam_role.events_run_restore.id
  policy = data.aws_iam_policy_document.events_run_restore.json
}

resource "aws_cloudwatch_event_target" "restore" {
  rule      = aws_cloudwatch_event_rule.dump_dropped.name
  target_id = "restore-task"
  arn       = aws_ecs_cluster.restore.arn
  role_arn  = aws_iam_role.events_run_restore.arn

  ecs_target {
    # Family ARN without revision: always the latest ACTIVE revision.
    task_definition_arn = aws_ecs_task_definition.restore.arn_without_revision
    task_count          = 1
    launch_type         = "FARGATE"
    platform_version    = "LATEST"
    propagate_tags      = "TASK_DEFINITION"

    network_configuration {
      subnets          = var.restore_subnet_ids
      security_groups  = [aws_security_group.restore.id]
      assign_public_ip = var.restore_assign_public_ip
    }
  }

  retry_policy {
    maximum_retry_attempts       = var.eventbridge_retry_attempts
    maximum_event_age_in_seconds = var.eventbridge_max_event_age_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.restore_dlq.arn
  }
}

#------------------------------------------------------------------------------
# Snapshot created -> export-trigger
#------------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "snapshot_created" {
  name        = "${var.name_prefix}-snapshot-created"
  description = "RDS-EVENT-0042 for a ${var.snapshot_prefix} manual snapshot: start its export"

  event_pattern = jsonencode({
    source        = ["aws.rds"]
    "detail-type" = ["RDS DB Snapshot Event"]
    detail = {
      EventID   = ["RDS-EVENT-0042"]
      SourceArn = [{ prefix = local.snapshot_arn_prefix }]
    }
  })
}

resource "aws_cloudwatch_event_target" "trigger" {
  rule      = aws_cloudwatch_event_rule.snapshot_created.name
  target_id = "export-trigger"
  arn       = aws_lambda_function.trigger.arn

  retry_policy {
    maximum_retry_attempts       = var.eventbridge_retry_attempts
    maximum_event_age_in_seconds = var.eventbridge_max_event_age_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.trigger_dlq.arn
  }
}

#------------------------------------------------------------------------------
# Export completed -> export-copier
#------------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "export_completed" {
  name        = "${var.name_prefix}-export-completed"
  description = "RDS-EVENT-0161 for a ${var.snapshot_prefix} snapshot export: copy it to the landing zone"

  event_pattern = jsonencode({
    source        = ["aws.rds"]
    "detail-type" = ["RDS DB Snapshot Event"]
    detail = {
      EventID   = ["RDS-EVENT-0161"]
      SourceArn = [{ prefix = local.snapshot_arn_prefix }]
    }
  })
}

resource "aws_cloudwatch_event_target" "copier" {
  rule      = aws_cloudwatch_event_rule.export_completed.name
  target_id = "export-copier"
  arn       = aws_lambda_function.copier.arn

  retry_policy {
    maximum_retry_attempts       = var.eventbridge_retry_attempts
    maximum_event_age_in_seconds = var.eventbridge_max_event_age_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.copier_dlq.arn
  }
}

#------------------------------------------------------------------------------
# DLQ policies: EventBridge may send only the events of the rules that use
# the queue; nothing may use the queues without TLS.
#------------------------------------------------------------------------------

locals {
  dlq_sources = {
    restore = {
      queue = aws_sqs_queue.restore_dlq
      rules = [aws_cloudwatch_event_rule.dump_dropped.arn, aws_cloudwatch_event_rule.restore_failed.arn]
    }
    trigger = {
      queue = aws_sqs_queue.trigger_dlq
      rules = [aws_cloudwatch_event_rule.snapshot_created.arn]
    }
    copier = {
      queue = aws_sqs_queue.copier_dlq
      rules = [aws_cloudwatch_event_rule.export_completed.arn]
    }
  }
}

data "aws_iam_policy_document" "dlq" {
  for_each = local.dlq_sources

  statement {
    sid       = "EventBridgeDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [each.value.queue.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = each.value.rules
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"]
    resources = [each.value.queue.arn]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "dlq" {
  for_each = local.dlq_sources

  queue_url = each.value.queue.id
  policy    = data.aws_iam_policy_document.dlq[each.key].json
}
