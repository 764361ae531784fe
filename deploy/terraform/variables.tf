###############################################################################
# General
###############################################################################

variable "aws_region" {
  description = "AWS region to deploy into (the region of the parking, export and landing buckets)."
  type        = string
  default     = "eu-west-2"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like eu-west-2."
  }
}

variable "name_prefix" {
  description = "Prefix for every named resource (roles, functions, queues, cluster, ...). Use one per environment, e.g. liberator-stg."
  type        = string
  default     = "liberator"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 characters of lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Extra tags applied to every resource (merged into the provider's default_tags)."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Retention of every CloudWatch log group this stack creates (Lambdas, restore task, RDS exports)."
  type        = number
  default     = 365

  validation {
    condition     = contains([365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value of at least one year (365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a KMS key this stack created is deleted after terraform destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "alarm_email" {
  description = "Optional e-mail address subscribed to the alarm topic (the subscription must be confirmed from the mailbox). Empty: no subscription."
  type        = string
  default     = ""

  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be empty or an e-mail address."
  }
}

###############################################################################
# Network
###############################################################################

variable "vpc_id" {
  description = "VPC holding the ingestion RDS instance and the restore task."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC id (vpc-...)."
  }
}

variable "db_subnet_ids" {
  description = "Private subnets (at least two, in different AZs) for the RDS DB subnet group."
  type        = list(string)

  validation {
    condition     = length(var.db_subnet_ids) >= 2 && alltrue([for s in var.db_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "db_subnet_ids needs at least two subnet ids (subnet-...)."
  }
}

variable "restore_subnet_ids" {
  description = "Subnets the restore Fargate task runs in. They need a route to S3, RDS, ECR, Secrets Manager and CloudWatch Logs (NAT gateway or VPC endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.restore_subnet_ids) >= 1 && alltrue([for s in var.restore_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "restore_subnet_ids needs at least one subnet id (subnet-...)."
  }
}

variable "restore_assign_public_ip" {
  description = "Give the restore task a public IP. Only for subnets without NAT whose route to AWS APIs is an internet gateway; keep false otherwise."
  type        = bool
  default     = false
}

###############################################################################
# Buckets (owned by the data platform; referenced, not created)
###############################################################################

variable "parking_bucket_name" {
  description = "Bucket the company drops liberator_dump_<YYMMDD>.zip into (under parking_prefix)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.parking_bucket_name))
    error_message = "parking_bucket_name must be a valid S3 bucket name."
  }
}

variable "parking_prefix" {
  description = "Key prefix of the dumps in the parking bucket (with trailing slash)."
  type        = string
  default     = "parking/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*/$", var.parking_prefix))
    error_message = "parking_prefix must be a non-empty key prefix ending with '/'."
  }
}

variable "manifest_prefix" {
  description = "Key prefix in the parking bucket for restore manifests (<prefix><snapshot-id>.json: exact rows per table after each load), with trailing slash. Keep it outside parking_prefix and every export and table folder."
  type        = string
  default     = "liberator-manifests/"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*/$", var.manifest_prefix))
    error_message = "manifest_prefix must be a non-empty key prefix ending with '/'."
  }
}

variable "dump_file_prefix" {
  description = "File name prefix of a dump inside parking_prefix; only objects starting with parking_prefix + this start a restore."
  type        = string
  default     = "liberator_dump_"
}

variable "parking_kms_key_arn" {
  description = "KMS key ARN the parking bucket encrypts objects with (SSE-KMS). Empty when the bucket uses SSE-S3."
  type        = string
  default     = ""

  validation {
    condition     = var.parking_kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.parking_kms_key_arn))
    error_message = "parking_kms_key_arn must be empty or a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

variable "export_bucket_name" {
  description = "Bucket RDS writes the Parquet snapshot export into (the copier's SOURCE_BUCKET)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.export_bucket_name))
    error_message = "export_bucket_name must be a valid S3 bucket name."
  }
}

variable "export_s3_prefix" {
  description = "Optional key prefix inside the export bucket for RDS exports (EXPORT_S3_PREFIX of the trigger). Empty: bucket root."
  type        = string
  default     = ""

  validation {
    condition     = var.export_s3_prefix == "" || can(regex("^[^/].*[^/]$|^[^/]$", var.export_s3_prefix))
    error_message = "export_s3_prefix must not start or end with '/'."
  }
}

variable "landing_bucket_name" {
  description = "Landing-zone bucket the copier copies the export into (TARGET_BUCKET)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.landing_bucket_name))
    error_message = "landing_bucket_name must be a valid S3 bucket name."
  }
}

variable "landing_prefix" {
  description = "Key prefix in the landing bucket the copier writes under (TARGET_PREFIX), with trailing slash. The platform's Glue crawler reads s3://<landing>/parking/<db>, so keys land as parking/<db>/<db.table>/import_year=…/."
  type        = string
  default     = "parking/"

  validation {
    condition     = can(regex("^[^/].*/$", var.landing_prefix))
    error_message = "landing_prefix must be a non-empty prefix ending with '/' (and not starting with '/')."
  }
}

variable "landing_kms_key_arn" {
  description = "ARN of the landing zone's KMS key (owned by the data platform); the copier encrypts copies with it (TARGET_KMS_KEY_ID)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.landing_kms_key_arn))
    error_message = "landing_kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)."
  }
}

###############################################################################
# Glue workflows (owned by the data platform; referenced by name)
###############################################################################

variable "glue_workflow_name" {
  description = "Glue workflow started after a regular export has been copied (WORKFLOW_NAME)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.glue_workflow_name))
    error_message = "glue_workflow_name must be a Glue workflow name."
  }
}

variable "glue_backdated_workflow_name" {
  description = "Glue workflow updated and started for backdated exports (BACKDATED_WORKFLOW_NAME). The only workflow the copier may glue:UpdateWorkflow."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,255}$", var.glue_backdated_workflow_name))
    error_message = "glue_backdated_workflow_name must be a Glue workflow name."
  }
}

###############################################################################
# Ingestion RDS MySQL instance
###############################################################################

variable "snapshot_prefix" {
  description = "Prefix of the manual snapshots the restore creates and the EventBridge rules match (SNAPSHOT_PREFIX)."
  type        = string
  default     = "sql-to-parquet"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,40}$", var.snapshot_prefix))
    error_message = "snapshot_prefix must be lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "db_instance_identifier" {
  description = "Identifier of the ingestion RDS instance. Empty: <name_prefix>-ingestion."
  type        = string
  default     = ""

  validation {
    condition     = var.db_instance_identifier == "" || can(regex("^[a-z][a-z0-9-]{0,61}[a-z0-9]$", var.db_instance_identifier))
    error_message = "db_instance_identifier must be empty or a valid RDS identifier."
  }
}

variable "db_name" {
  description = "Database the restore drops, recreates and loads the dump into (DB_NAME)."
  type        = string
  default     = "liberator"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{0,63}$", var.db_name))
    error_message = "db_name must start with a letter and contain only letters, digits and underscores."
  }
}

variable "db_engine_version" {
  description = "MySQL engine version of the ingestion instance (major.minor or a full RDS version such as 8.0.39)."
  type        = string
  default     = "8.0"

  validation {
    condition     = can(regex("^(5\\.7|8\\.[0-9])(\\.[0-9]+)?$", var.db_engine_version))
    error_message = "db_engine_version must be a MySQL version such as 8.0, 8.0.39 or 8.4."
  }
}

variable "db_instance_class" {
  description = "Instance class of the ingestion instance (Performance Insights needs a class that supports it, e.g. not db.t3.micro)."
  type        = string
  default     = "db.m6g.large"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.db_instance_class))
    error_message = "db_instance_class must look like db.m6g.large."
  }
}

variable "db_allocated_storage_gib" {
  description = "Initial gp3 storage of the ingestion instance, GiB. Size it for the inflated dump plus indexes."
  type        = number
  default     = 100

  validation {
    condition     = var.db_allocated_storage_gib >= 20 && var.db_allocated_storage_gib <= 65536
    error_message = "db_allocated_storage_gib must be between 20 and 65536."
  }
}

variable "db_max_allocated_storage_gib" {
  description = "Upper bound for storage autoscaling, GiB (0 disables autoscaling)."
  type        = number
  default     = 500

  validation {
    condition     = var.db_max_allocated_storage_gib == 0 || (var.db_max_allocated_storage_gib >= 20 && var.db_max_allocated_storage_gib <= 65536)
    error_message = "db_max_allocated_storage_gib must be 0 or between 20 and 65536."
  }
}

variable "db_master_username" {
  description = "Master user of the ingestion instance; its password is generated and kept in Secrets Manager by RDS (manage_master_user_password)."
  type        = string
  default     = "liberator_admin"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_]{0,15}$", var.db_master_username)) && !contains(["admin", "root", "rdsadmin"], lower(var.db_master_username))
    error_message = "db_master_username must be 1-16 letters, digits or underscores starting with a letter, and not a reserved name."
  }
}

variable "db_multi_az" {
  description = "Run the ingestion instance Multi-AZ. Off by default: it is a staging copy rebuilt from every dump."
  type        = bool
  default     = false
}

variable "db_backup_retention_days" {
  description = "Automated backup retention of the ingestion instance (manual sql-to-parquet snapshots are managed by the restore task)."
  type        = number
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be between 1 and 35."
  }
}

variable "db_monitoring_interval" {
  description = "Enhanced Monitoring interval in seconds."
  type        = number
  default     = 60

  validation {
    condition     = contains([1, 5, 10, 15, 30, 60], var.db_monitoring_interval)
    error_message = "db_monitoring_interval must be one of 1, 5, 10, 15, 30, 60."
  }
}

variable "db_performance_insights_retention_days" {
  description = "Performance Insights retention (7 is free; otherwise a multiple of 31 up to 731)."
  type        = number
  default     = 7

  validation {
    condition     = var.db_performance_insights_retention_days == 7 || var.db_performance_insights_retention_days == 731 || (var.db_performance_insights_retention_days % 31 == 0 && var.db_performance_insights_retention_days <= 713)
    error_message = "db_performance_insights_retention_days must be 7, 731 or a multiple of 31 up to 713."
  }
}

variable "db_require_tls" {
  description = "Set require_secure_transport on the ingestion instance, so every client (the restore task included) must connect over TLS."
  type        = bool
  default     = true
}

variable "db_ca_cert_identifier" {
  description = "Certificate authority of the instance's TLS certificate."
  type        = string
  default     = "rds-ca-rsa2048-g1"
}

variable "db_deletion_protection" {
  description = "Protect the ingestion instance from deletion. Set false (and apply) before terraform destroy."
  type        = bool
  default     = true
}

###############################################################################
# Restore task (ECS Fargate)
###############################################################################

variable "ecr_repository_name" {
  description = "ECR repository for the restore image (make push-ecr ECR_REPO=...)."
  type        = string
  default     = "liberator-restore"

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.ecr_repository_name))
    error_message = "ecr_repository_name must be a valid ECR repository name."
  }
}

variable "restore_image_tag" {
  description = "Tag of the restore image in the ECR repository (printed by make push-ecr; tags are immutable)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.restore_image_tag)) && var.restore_image_tag != "latest"
    error_message = "restore_image_tag must be a valid image tag other than 'latest' (the repository's tags are immutable)."
  }
}

variable "restore_cpu_architecture" {
  description = "CPU architecture of the restore image (X86_64 or ARM64); must match make push-ecr RESTORE_PLATFORM."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.restore_cpu_architecture)
    error_message = "restore_cpu_architecture must be X86_64 or ARM64."
  }
}

variable "restore_cpu" {
  description = "Fargate CPU units of the restore task."
  type        = number
  default     = 2048

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.restore_cpu)
    error_message = "restore_cpu must be a Fargate CPU value (256 ... 16384)."
  }
}

variable "restore_memory" {
  description = "Fargate memory (MiB) of the restore task; must be valid for restore_cpu."
  type        = number
  default     = 4096

  validation {
    condition     = var.restore_memory >= 512 && var.restore_memory <= 122880
    error_message = "restore_memory must be between 512 and 122880 MiB."
  }
}

variable "restore_ephemeral_storage_gib" {
  description = "Fargate ephemeral storage (GiB) backing the task's writable /tmp (the root filesystem is read-only)."
  type        = number
  default     = 21

  validation {
    condition     = var.restore_ephemeral_storage_gib >= 21 && var.restore_ephemeral_storage_gib <= 200
    error_message = "restore_ephemeral_storage_gib must be between 21 and 200."
  }
}

###############################################################################
# Lambdas
###############################################################################

variable "lambda_artifacts_dir" {
  description = "Directory holding <package>/bootstrap.zip from make lambdas. Empty: <repo>/target/lambda."
  type        = string
  default     = ""
}

variable "trigger_memory_mb" {
  description = "Memory of the export-trigger Lambda."
  type        = number
  default     = 256

  validation {
    condition     = var.trigger_memory_mb >= 128 && var.trigger_memory_mb <= 10240
    error_message = "trigger_memory_mb must be between 128 and 10240."
  }
}

variable "trigger_timeout_seconds" {
  description = "Timeout of the export-trigger Lambda. At least 60: each RDS call may take up to 20 s (the trigger's CALL_BUDGET) and a manual invocation makes several (snapshots, export tasks, the start)."
  type        = number
  default     = 120

  validation {
    condition     = var.trigger_timeout_seconds >= 60 && var.trigger_timeout_seconds <= 900
    error_message = "trigger_timeout_seconds must be between 60 and 900: each RDS call of the trigger may take up to 20 s."
  }
}

variable "copier_memory_mb" {
  description = "Memory of the export-copier Lambda (more memory also buys more CPU and network)."
  type        = number
  default     = 2048

  validation {
    condition     = var.copier_memory_mb >= 512 && var.copier_memory_mb <= 10240
    error_message = "copier_memory_mb must be between 512 and 10240."
  }
}

variable "copier_timeout_seconds" {
  description = "Timeout of the export-copier Lambda (it re-invokes itself to continue past this)."
  type        = number
  default     = 900

  validation {
    condition     = var.copier_timeout_seconds >= 60 && var.copier_timeout_seconds <= 900
    error_message = "copier_timeout_seconds must be between 60 and 900."
  }
}

variable "copier_concurrency" {
  description = "Parallel server-side copies inside one copier invocation (CONCURRENCY)."
  type        = number
  default     = 32

  validation {
    condition     = var.copier_concurrency >= 1 && var.copier_concurrency <= 512
    error_message = "copier_concurrency must be between 1 and 512."
  }
}

variable "copier_fail_on_schema_change" {
  description = "Start no Glue workflow when a column was removed or retyped since the previous import date landed (FAIL_ON_SCHEMA_CHANGE); false only logs and reports schema changes."
  type        = bool
  default     = false
}

variable "trigger_reserved_concurrency" {
  description = "Reserved concurrency of the export-trigger Lambda (caps parallel exports started)."
  type        = number
  default     = 2

  validation {
    condition     = var.trigger_reserved_concurrency >= 1 && var.trigger_reserved_concurrency <= 100
    error_message = "trigger_reserved_concurrency must be between 1 and 100."
  }
}

variable "copier_reserved_concurrency" {
  description = "Reserved concurrency of the export-copier Lambda (its self re-invocations count too)."
  type        = number
  default     = 4

  validation {
    condition     = var.copier_reserved_concurrency >= 1 && var.copier_reserved_concurrency <= 100
    error_message = "copier_reserved_concurrency must be between 1 and 100."
  }
}

variable "lambda_async_retry_attempts" {
  description = "Retries Lambda makes of a failed asynchronous invocation before sending it to the function's DLQ."
  type        = number
  default     = 2

  validation {
    condition     = var.lambda_async_retry_attempts >= 0 && var.lambda_async_retry_attempts <= 2
    error_message = "lambda_async_retry_attempts must be 0, 1 or 2."
  }
}

###############################################################################
# EventBridge delivery
###############################################################################

variable "eventbridge_retry_attempts" {
  description = "Retries EventBridge makes when it cannot deliver an event to a target, before sending it to the target's DLQ."
  type        = number
  default     = 8

  validation {
    condition     = var.eventbridge_retry_attempts >= 0 && var.eventbridge_retry_attempts <= 185
    error_message = "eventbridge_retry_attempts must be between 0 and 185."
  }
}

variable "eventbridge_max_event_age_seconds" {
  description = "How long EventBridge keeps retrying delivery of an event to a target."
  type        = number
  default     = 3600

  validation {
    condition     = var.eventbridge_max_event_age_seconds >= 60 && var.eventbridge_max_event_age_seconds <= 86400
    error_message = "eventbridge_max_event_age_seconds must be between 60 and 86400."
  }
}

###############################################################################
# CloudTrail (data events on the parking prefix feed the restore rule)
###############################################################################

variable "trail_log_retention_days" {
  description = "Days the CloudTrail bucket keeps the parking-prefix data-event log files."
  type        = number
  default     = 365

  validation {
    condition     = var.trail_log_retention_days >= 30
    error_message = "trail_log_retention_days must be at least 30."
  }
}

# --- S3 Batch Operations backfills (engine backfill --via batch-operations) -----
variable "batch_operations_bucket_name" {
  description = "Bucket for Batch Operations manifests, job records and completion reports (the CLI's --manifest-location and --report-location). Empty: the parking bucket."
  type        = string
  default     = ""
}

variable "batch_operations_prefix" {
  description = "Prefix in that bucket for manifests, job records and completion reports."
  type        = string
  default     = "liberator-batch/"

  validation {
    condition     = can(regex("^[^/].*/$", var.batch_operations_prefix))
    error_message = "batch_operations_prefix must not start with / and must end with /."
  }
}

variable "batch_operations_kms_key_arn" {
  description = "KMS key of that bucket's default encryption, which the job's role needs to read a manifest written under it. Empty: parking_kms_key_arn when the bucket is the parking bucket, else none (SSE-S3)."
  type        = string
  default     = ""

  validation {
    condition     = var.batch_operations_kms_key_arn == "" || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.batch_operations_kms_key_arn))
    error_message = "batch_operations_kms_key_arn must be empty or a KMS key ARN."
  }
}
