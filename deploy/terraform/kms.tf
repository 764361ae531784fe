###############################################################################
# KMS keys created by this stack.
#
# * pipeline: everything operational (log groups, DLQs, alarm topic, Lambda
#   environment, ECR, RDS storage and Performance Insights, the RDS-managed
#   master secret, the CloudTrail bucket and trail).
# * export:   the key RDS encrypts the Parquet snapshot export with
#   (KMS_KEY_ID of the export-trigger Lambda).
#
# The landing-zone key belongs to the data platform and comes in as
# var.landing_kms_key_arn.
#
# Key policies never use kms:* : the account statement lists the
# administrative and cryptographic actions explicitly so that IAM policies
# (which are least-privilege, see restore.tf, export.tf, copier.tf) can delegate them; AWS services
# that encrypt on our behalf get only the actions they need, scoped by
# encryption context or source account.
###############################################################################

locals {
  kms_admin_actions = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
  ]

  kms_usage_actions = [
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
  ]

  account_root_arn = "arn:${local.partition}:iam::${local.account_id}:root"

  kms_account_statement = {
    Sid       = "AccountAdministrationAndIamDelegation"
    Effect    = "Allow"
    Principal = { AWS = local.account_root_arn }
    Action    = concat(local.kms_admin_actions, local.kms_usage_actions)
    Resource  = "*" # in a key policy "*" is this key
  }
}

resource "aws_kms_key" "pipeline" {
  description             = "${var.name_prefix}: logs, queues, topic, secrets, RDS storage and CloudTrail of the sql-to-parquet pipeline"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      local.kms_account_statement,
      {
        Sid       = "CloudWatchLogsOfThisAccount"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action = [
          "kms:Decrypt",
          "kms:DescribeKey",
          "kms:Encrypt",
          "kms:GenerateDataKey",
          "kms:GenerateDataKeyWithoutPlaintext",
          "kms:ReEncryptFrom",
          "kms:ReEncryptTo",
        ]
        Resource = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"
          }
        }
      },
      {
        # EventBridge writes undeliverable events to the SSE-KMS DLQs and
        # publishes restore failures to the encrypted alarm topic.
        Sid       = "EventBridgeToEncryptedQueuesAndTopic"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
      {
        # CloudWatch alarms publish to the encrypted alarm topic.
        Sid       = "CloudWatchAlarmsToEncryptedTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
        }
      },
      {
        Sid       = "CloudTrailEncryptLogs"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "kms:GenerateDataKey"
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceArn" = local.trail_arn }
          StringLike = {
            "kms:EncryptionContext:aws:cloudtrail:arn" = "arn:${local.partition}:cloudtrail:*:${local.account_id}:trail/*"
          }
        }
      },
      {
        Sid       = "CloudTrailDescribeKey"
        Effect    = "Allow"
        Principal = { Service = "cloudtrail.amazonaws.com" }
        Action    = "kms:DescribeKey"
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceArn" = local.trail_arn }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "pipeline" {
  name          = "alias/${var.name_prefix}-pipeline"
  target_key_id = aws_kms_key.pipeline.key_id
}

resource "aws_kms_key" "export" {
  description             = "${var.name_prefix}: encrypts the RDS snapshot export (Parquet) in the export bucket"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days

  # RDS export creates grants on behalf of the StartExportTask caller (the
  # export-trigger role); readers such as the copier are allowed through IAM.
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [local.kms_account_statement]
  })
}

resource "aws_kms_alias" "export" {
  name          = "alias/${var.name_prefix}-rds-export"
  target_key_id = aws_kms_key.export.key_id
}
