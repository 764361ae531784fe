data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  db_instance_identifier = var.db_instance_identifier != "" ? var.db_instance_identifier : "${var.name_prefix}-ingestion"
  # mysql8.0 for 8.0 / 8.0.39, mysql8.4 for 8.4.x, mysql5.7 for 5.7.x
  db_parameter_family = "mysql${join(".", slice(split(".", var.db_engine_version), 0, 2))}"

  lambda_artifacts_dir = var.lambda_artifacts_dir != "" ? var.lambda_artifacts_dir : "${path.module}/../../target/lambda"
  trigger_zip          = "${local.lambda_artifacts_dir}/export-trigger/bootstrap.zip"
  copier_zip           = "${local.lambda_artifacts_dir}/export-copier/bootstrap.zip"

  trigger_function_name = "${var.name_prefix}-export-trigger"
  copier_function_name  = "${var.name_prefix}-export-copier"
  restore_family        = "${var.name_prefix}-restore"
  cluster_name          = "${var.name_prefix}-restore"
  trail_name            = "${var.name_prefix}-parking-data-events"

  # ARNs built from names, so policies do not depend on the resources they protect.
  parking_bucket_arn = "arn:${local.partition}:s3:::${var.parking_bucket_name}"
  export_bucket_arn  = "arn:${local.partition}:s3:::${var.export_bucket_name}"
  landing_bucket_arn = "arn:${local.partition}:s3:::${var.landing_bucket_name}"

  db_instance_arn         = "arn:${local.partition}:rds:${local.region}:${local.account_id}:db:${local.db_instance_identifier}"
  snapshot_arn_prefix     = "arn:${local.partition}:rds:${local.region}:${local.account_id}:snapshot:${var.snapshot_prefix}"
  glue_workflow_arn       = "arn:${local.partition}:glue:${local.region}:${local.account_id}:workflow/${var.glue_workflow_name}"
  glue_backdated_workflow = "arn:${local.partition}:glue:${local.region}:${local.account_id}:workflow/${var.glue_backdated_workflow_name}"
  copier_function_arn     = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.copier_function_name}"
  trail_arn               = "arn:${local.partition}:cloudtrail:${local.region}:${local.account_id}:trail/${local.trail_name}"

  # Object-key patterns the copier may touch in the export and landing buckets.
  export_object_pattern = "${var.export_s3_prefix == "" ? "" : "${var.export_s3_prefix}/"}*"
  landing_marker_prefix = "_liberator/"

  # Restore manifests (exact rows per table, keyed by snapshot id): written by the restore
  # task, read by the copier's completeness check. MANIFEST_LOCATION of both.
  manifest_location   = "s3://${var.parking_bucket_name}/${var.manifest_prefix}"
  manifest_object_arn = "${local.parking_bucket_arn}/${var.manifest_prefix}*"
}
