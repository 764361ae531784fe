###############################################################################
# Restore: ECS Fargate task that loads the day's dump into the ingestion
# instance and takes the sql-to-parquet-YY-MM-DD-HHMMSS snapshot.
# Started by the EventBridge rule in eventbridge.tf.
###############################################################################

resource "aws_ecr_repository" "restore" {
  name                 = var.ecr_repository_name
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.pipeline.arn
  }
}

resource "aws_ecr_lifecycle_policy" "restore" {
  repository = aws_ecr_repository.restore.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the 20 most recent restore images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = 20
      }
      action = { type = "expire" }
    }]
  })
}

resource "aws_cloudwatch_log_group" "restore" {
  name              = "/ecs/${local.restore_family}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.pipeline.arn
}

resource "aws_cloudwatch_log_group" "restore_exec" {
  name              = "/ecs/${local.cluster_name}/execute-command"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.pipeline.arn
}

resource "aws_ecs_cluster" "restore" {
  name = local.cluster_name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  configuration {
    execute_command_configuration {
      kms_key_id = aws_kms_key.pipeline.arn
      logging    = "OVERRIDE"

      log_configuration {
        cloud_watch_encryption_enabled = true
        cloud_watch_log_group_name     = aws_cloudwatch_log_group.restore_exec.name
      }
    }
  }
}

resource "aws_ecs_cluster_capacity_providers" "restore" {
  cluster_name       = aws_ecs_cluster.restore.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

#------------------------------------------------------------------------------
# Network: outbound HTTPS to AWS APIs (S3, RDS, ECR, Secrets Manager, Logs)
# and MySQL to the ingestion instance only.
#------------------------------------------------------------------------------

resource "aws_security_group" "restore" {
  name        = "${local.restore_family}-task"
  description = "Restore Fargate task: HTTPS to AWS APIs and MySQL to the ingestion instance"
  vpc_id      = var.vpc_id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "restore_https" {
  security_group_id = aws_security_group.restore.id
  description       = "HTTPS to AWS service endpoints (S3, RDS, ECR, Secrets Manager, CloudWatch Logs)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "restore_mysql" {
  security_group_id            = aws_security_group.restore.id
  description                  = "MySQL to the ingestion instance"
  ip_protocol                  = "tcp"
  from_port                    = 3306
  to_port                      = 3306
  referenced_security_group_id = aws_security_group.db.id
}

#------------------------------------------------------------------------------
# IAM: execution role (pull image, write logs, read the DB secret) and task
# role (what the restore binary itself calls).
#------------------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "restore_execution" {
  name               = "${local.restore_family}-execution"
  description        = "ECS execution role of the restore task: image pull, logs, DB secret"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "restore_execution" {
  statement {
    sid = "EcrAuthToken"
    # GetAuthorizationToken has no resource-level permissions.
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PullRestoreImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.restore.arn]
  }

  statement {
    sid       = "WriteTaskLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.restore.arn}:*"]
  }

  statement {
    sid       = "ReadDatabaseSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.ingestion.master_user_secret[0].secret_arn]
  }

  statement {
    sid       = "DecryptDatabaseSecret"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.pipeline.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "restore_execution" {
  name   = "restore-execution"
  role   = aws_iam_role.restore_execution.id
  policy = data.aws_iam_policy_document.restore_execution.json
}

resource "aws_iam_role" "restore_task" {
  name               = "${local.restore_family}-task"
  description        = "Task role of the restore binary: read the dump, write its manifest, manage sql-to-parquet snapshots"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "restore_task" {
  statement {
    sid       = "ListParkingPrefix"
    actions   = ["s3:ListBucket"]
    resources = [local.parking_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.parking_prefix}*"]
    }
  }

  statement {
    sid       = "ReadDumps"
    actions   = ["s3:GetObject"]
    resources = ["${local.parking_bucket_arn}/${var.parking_prefix}*"]
  }

  # The restore manifest (exact rows per table) of each load, keyed by snapshot id; written
  # once per run, never read back by the task.
  statement {
    sid       = "WriteRestoreManifests"
    actions   = ["s3:PutObject"]
    resources = [local.manifest_object_arn]
  }

  dynamic "statement" {
    for_each = var.parking_kms_key_arn == "" ? [] : [var.parking_kms_key_arn]
    content {
      sid = "DecryptDumpsEncryptManifests"
      # Decrypt to read dumps; GenerateDataKey for the manifest's PutObject under SSE-KMS
      # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#require-sse-kms).
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
  }

  statement {
    sid     = "DescribeSnapshotsOfTheInstance"
    actions = ["rds:DescribeDBSnapshots"]
    resources = [
      local.db_instance_arn,
      "arn:${local.partition}:rds:${local.region}:${local.account_id}:snapshot:*",
    ]
  }

  # The task deletes every previous manual snapshot of the (dedicated) ingestion instance, as
  # the replaced task did, whatever its name; only AWS Backup's are kept (denied below). IAM
  # cannot scope DeleteDBSnapshot to one instance's snapshots, so the resource is the
  # account's snapshots in this region; the task itself lists only its instance's.
  statement {
    sid       = "DeleteOldManualSnapshots"
    actions   = ["rds:DeleteDBSnapshot"]
    resources = ["arn:${local.partition}:rds:${local.region}:${local.account_id}:snapshot:*"]
  }

  statement {
    sid     = "CreatePipelineSnapshot"
    actions = ["rds:CreateDBSnapshot", "rds:AddTagsToResource"]
    resources = [
      local.db_instance_arn,
      "${local.snapshot_arn_prefix}*",
    ]
  }

  # Belt and braces: snapshots taken by AWS Backup are never the restore's to delete.
  statement {
    sid       = "NeverDeleteAwsBackupSnapshots"
    effect    = "Deny"
    actions   = ["rds:DeleteDBSnapshot"]
    resources = ["arn:${local.partition}:rds:${local.region}:${local.account_id}:snapshot:awsbackup*"]
  }
}

resource "aws_iam_role_policy" "restore_task" {
  name   = "restore-task"
  role   = aws_iam_role.restore_task.id
  policy = data.aws_iam_policy_document.restore_task.json
}

#------------------------------------------------------------------------------
# Task definition
#------------------------------------------------------------------------------

locals {
  restore_secret_arn = aws_db_instance.ingestion.master_user_secret[0].secret_arn

  # IMPORT_DATE_OVERRIDE is deliberately absent: backdating is a per-run override
  # (aws ecs run-task --overrides, see deploy/README.md), never a setting of every run.
  restore_environment = [
    { name = "MYSQL_HOST", value = aws_db_instance.ingestion.address },
    { name = "RDS_INSTANCE_ID", value = aws_db_instance.ingestion.identifier },
    { name = "BUCKET_NAME", value = var.parking_bucket_name },
    { name = "DB_NAME", value = var.db_name },
    { name = "MANIFEST_LOCATION", value = local.manifest_location },
    { name = "AWS_REGION", value = local.region },
    { name = "TMPDIR", value = "/tmp" },
  ]
}

resource "aws_ecs_task_definition" "restore" {
  family                   = local.restore_family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.restore_cpu
  memory                   = var.restore_memory
  execution_role_arn       = aws_iam_role.restore_execution.arn
  task_role_arn            = aws_iam_role.restore_task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.restore_cpu_architecture
  }

  ephemeral_storage {
    size_in_gib = var.restore_ephemeral_storage_gib
  }

  # Writable scratch space; the container's root filesystem is read-only.
  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name                   = "restore"
      image                  = "${aws_ecr_repository.restore.repository_url}:${var.restore_image_tag}"
      essential              = true
      readonlyRootFilesystem = true
      privileged             = false
      environment            = local.restore_environment
      # The MySQL credentials come from the RDS-managed secret, never from plain environment.
      secrets = [
        { name = "MYSQL_USER", valueFrom = "${local.restore_secret_arn}:username::" },
        { name = "MYSQL_PASS", valueFrom = "${local.restore_secret_arn}:password::" },
      ]
      mountPoints = [
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.restore.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "restore"
        }
      }
    },
  ])
}
