###############################################################################
# CloudTrail data events for writes under the parking prefix. EventBridge only
# sees S3 object-level API calls ("AWS API Call via CloudTrail") when a trail
# logs them; this trail logs nothing else.
###############################################################################

resource "aws_s3_bucket" "trail" {
  #checkov:skip=CKV_AWS_18:This bucket only receives CloudTrail log files; access-logging it would need yet another log bucket (which would need one in turn). Tampering is covered by CloudTrail log-file validation, versioning and the TLS-only bucket policy instead.
  #checkov:skip=CKV_AWS_144:Cross-region replication of the data-event log of one pipeline prefix is not required; the files are an audit copy of events EventBridge already acted on, and expire after var.trail_log_retention_days.
  #checkov:skip=CKV2_AWS_62:Nothing consumes notifications of new CloudTrail log files; the pipeline is driven by EventBridge, not by this bucket.
  bucket_prefix = "${var.name_prefix}-trail-"
  force_destroy = false
}

resource "aws_s3_bucket_public_access_block" "trail" {
  bucket                  = aws_s3_bucket.trail.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "trail" {
  bucket = aws_s3_bucket.trail.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "trail" {
  bucket = aws_s3_bucket.trail.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "trail" {
  bucket = aws_s3_bucket.trail.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.pipeline.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "trail" {
  bucket = aws_s3_bucket.trail.id

  rule {
    id     = "expire-trail-logs"
    status = "Enabled"
    filter {}

    expiration {
      days = var.trail_log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "trail_bucket" {
  statement {
    sid       = "CloudTrailAclCheck"
    actions   = ["s3:GetBucketAcl"]
    resources = [aws_s3_bucket.trail.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }

  statement {
    sid       = "CloudTrailWrite"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.trail.arn}/AWSLogs/${local.account_id}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]
    resources = [aws_s3_bucket.trail.arn, "${aws_s3_bucket.trail.arn}/*"]
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

resource "aws_s3_bucket_policy" "trail" {
  bucket = aws_s3_bucket.trail.id
  policy = data.aws_iam_policy_document.trail_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.trail]
}

resource "aws_cloudtrail" "parking" {
  #checkov:skip=CKV_AWS_252:No SNS delivery notifications are wanted; EventBridge receives the data events directly and the log files are only an audit copy.
  #checkov:skip=CKV2_AWS_10:The trail logs only the parking-prefix writes, which EventBridge already receives and acts on; copying them to CloudWatch Logs as well adds cost and no signal.
  name                          = local.trail_name
  s3_bucket_name                = aws_s3_bucket.trail.id
  kms_key_id                    = aws_kms_key.pipeline.arn
  enable_log_file_validation    = true
  include_global_service_events = true
  is_multi_region_trail         = true

  advanced_event_selector {
    name = "Writes under s3://${var.parking_bucket_name}/${var.parking_prefix}"

    field_selector {
      field  = "eventCategory"
      equals = ["Data"]
    }

    field_selector {
      field  = "resources.type"
      equals = ["AWS::S3::Object"]
    }

    field_selector {
      field       = "resources.ARN"
      starts_with = ["${local.parking_bucket_arn}/${var.parking_prefix}"]
    }

    field_selector {
      field  = "eventName"
      equals = ["PutObject", "CompleteMultipartUpload", "CopyObject"]
    }
  }

  depends_on = [
    aws_s3_bucket_policy.trail,
    aws_s3_bucket_server_side_encryption_configuration.trail,
  ]
}
