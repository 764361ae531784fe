###############################################################################
# Alarms: every failure path of the pipeline ends on one encrypted SNS topic.
#   * Lambda errors (both functions)
#   * messages in any dead-letter queue
#   * EventBridge failing to invoke a target
#   * the restore task stopping with a non-zero exit code or failing to start
###############################################################################

resource "aws_sns_topic" "alarms" {
  name              = "${var.name_prefix}-pipeline-alarms"
  kms_master_key_id = aws_kms_key.pipeline.arn
}

data "aws_iam_policy_document" "alarms_topic" {
  statement {
    sid       = "CloudWatchAlarms"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "RestoreFailureRule"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.restore_failed.arn]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms_topic.json
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == "" ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

#------------------------------------------------------------------------------
# Lambda errors
#------------------------------------------------------------------------------

locals {
  alarm_functions = {
    export-trigger = aws_lambda_function.trigger.function_name
    export-copier  = aws_lambda_function.copier.function_name
  }

  alarm_queues = {
    restore-events = aws_sqs_queue.restore_dlq.name
    export-trigger = aws_sqs_queue.trigger_dlq.name
    export-copier  = aws_sqs_queue.copier_dlq.name
  }

  alarm_rules = {
    dump-dropped     = aws_cloudwatch_event_rule.dump_dropped.name
    restore-failed   = aws_cloudwatch_event_rule.restore_failed.name
    snapshot-created = aws_cloudwatch_event_rule.snapshot_created.name
    export-completed = aws_cloudwatch_event_rule.export_completed.name
  }
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each = local.alarm_functions

  alarm_name          = "${var.name_prefix}-${each.key}-errors"
  alarm_description   = "The ${each.value} Lambda reported errors; see its log group and dead-letter queue."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# A partial day: the copier landed an export whose completeness check failed (a table the
# export skipped or failed, or landed rows short of the restore manifest) and started no
# Glue run. The engine's gauge reaches CloudWatch as Embedded Metric Format from the
# copier's logs (namespace "Liberator", dimension Function = export-copier).
resource "aws_cloudwatch_metric_alarm" "export_incomplete" {
  alarm_name          = "${var.name_prefix}-export-incomplete"
  alarm_description   = "An export did not land whole: the copier's log names each table with expected and landed rows; no Glue run was started."
  namespace           = "Liberator"
  metric_name         = "liberator_tables_incomplete"
  dimensions          = { Function = "export-copier" }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

#------------------------------------------------------------------------------
# Dead-letter queues
#------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "dlq_messages" {
  for_each = local.alarm_queues

  alarm_name          = "${var.name_prefix}-${each.key}-dlq-not-empty"
  alarm_description   = "Events or invocations landed in ${each.value}: they were not processed. Inspect, fix, then redrive or delete."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

#------------------------------------------------------------------------------
# EventBridge delivery failures
#------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "rule_failed_invocations" {
  for_each = local.alarm_rules

  alarm_name          = "${var.name_prefix}-${each.key}-failed-invocations"
  alarm_description   = "EventBridge rule ${each.value} failed to invoke its target (events go to the target's DLQ after retries)."
  namespace           = "AWS/Events"
  metric_name         = "FailedInvocations"
  dimensions          = { RuleName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  actions_enabled     = true
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

#------------------------------------------------------------------------------
# Restore task failures (ECS task state change -> SNS)
#------------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "restore_failed" {
  name        = "${var.name_prefix}-restore-failed"
  description = "The restore task stopped with a non-zero exit code or could not start"

  event_pattern = jsonencode({
    source        = ["aws.ecs"]
    "detail-type" = ["ECS Task State Change"]
    detail = {
      clusterArn        = [aws_ecs_cluster.restore.arn]
      lastStatus        = ["STOPPED"]
      taskDefinitionArn = [{ prefix = "${aws_ecs_task_definition.restore.arn_without_revision}:" }]
      "$or" = [
        { containers = { exitCode = [{ "anything-but" = 0 }] } },
        { stopCode = ["TaskFailedToStart"] },
      ]
    }
  })
}

resource "aws_cloudwatch_event_target" "restore_failed" {
  rule      = aws_cloudwatch_event_rule.restore_failed.name
  target_id = "alarm-topic"
  arn       = aws_sns_topic.alarms.arn

  retry_policy {
    maximum_retry_attempts       = var.eventbridge_retry_attempts
    maximum_event_age_in_seconds = var.eventbridge_max_event_age_seconds
  }

  dead_letter_config {
    arn = aws_sqs_queue.restore_dlq.arn
  }
}
