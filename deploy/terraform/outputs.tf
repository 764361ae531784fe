output "ecr_repository_url" {
  description = "Push the restore image here: make push-ecr ECR_REPO=<name> AWS_REGION=... AWS_ACCOUNT_ID=..."
  value       = aws_ecr_repository.restore.repository_url
}

output "restore_image" {
  description = "Image the restore task definition runs."
  value       = "${aws_ecr_repository.restore.repository_url}:${var.restore_image_tag}"
}

output "restore_cluster_arn" {
  description = "ECS cluster the restore task runs on."
  value       = aws_ecs_cluster.restore.arn
}

output "restore_task_definition_arn" {
  description = "Current revision of the restore task definition."
  value       = aws_ecs_task_definition.restore.arn
}

output "restore_security_group_id" {
  description = "Security group of the restore task (for aws ecs run-task by hand)."
  value       = aws_security_group.restore.id
}

output "db_instance_identifier" {
  description = "Ingestion RDS instance (RDS_INSTANCE_ID)."
  value       = aws_db_instance.ingestion.identifier
}

output "db_address" {
  description = "Ingestion RDS endpoint host (MYSQL_HOST)."
  value       = aws_db_instance.ingestion.address
}

output "db_master_secret_arn" {
  description = "Secrets Manager secret (managed and rotated by RDS) holding the MySQL username and password."
  value       = aws_db_instance.ingestion.master_user_secret[0].secret_arn
}

output "export_trigger_function_name" {
  description = "export-trigger Lambda."
  value       = aws_lambda_function.trigger.function_name
}

output "export_copier_function_name" {
  description = "export-copier Lambda."
  value       = aws_lambda_function.copier.function_name
}

output "rds_export_role_arn" {
  description = "Role RDS assumes to write the export (IAM_ROLE_ARN)."
  value       = aws_iam_role.rds_export.arn
}

output "rds_export_kms_key_arn" {
  description = "Key the RDS export is encrypted with (KMS_KEY_ID)."
  value       = aws_kms_key.export.arn
}

output "pipeline_kms_key_arn" {
  description = "Key encrypting logs, queues, the alarm topic, the DB secret and RDS storage."
  value       = aws_kms_key.pipeline.arn
}

output "dead_letter_queue_urls" {
  description = "Dead-letter queues per stage."
  value = {
    restore        = aws_sqs_queue.restore_dlq.id
    export_trigger = aws_sqs_queue.trigger_dlq.id
    export_copier  = aws_sqs_queue.copier_dlq.id
  }
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm and restore failure is sent to (subscribe on-call here)."
  value       = aws_sns_topic.alarms.arn
}

output "cloudtrail_bucket" {
  description = "Bucket holding the parking-prefix CloudTrail data-event logs."
  value       = aws_s3_bucket.trail.id
}

output "batch_operations_role_arn" {
  description = "Role of S3 Batch Operations backfill jobs (engine backfill --via batch-operations --role-arn, or BATCH_OPERATIONS_ROLE_ARN)."
  value       = aws_iam_role.batch_operations.arn
}

output "batch_operations_location" {
  description = "Where backfill manifests, job records and completion reports go (--manifest-location)."
  value       = local.batch_location
}

output "batch_operations_operator_policy_arn" {
  description = "Attach to whoever runs batch backfills: create and describe jobs, pass the job role, write manifests and read reports."
  value       = aws_iam_policy.batch_operations_operator.arn
}

output "copier_function_arn" {
  description = "The export-copier Lambda (engine backfill --via batch-operations --function-arn, or COPIER_FUNCTION_ARN)."
  value       = aws_lambda_function.copier.arn
}
