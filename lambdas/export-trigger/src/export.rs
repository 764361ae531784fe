//! Starting the export, and telling a re-delivered event from a re-created snapshot.
//!
//! RDS refuses an export task identifier that was used before (`ExportTaskAlreadyExists`,
//! even for a finished task), and a snapshot's ARN is made from its name. So when a date is
//! re-backdated, the new snapshot has the old one's name *and* ARN, and its first export
//! identifier is taken. What tells the two apart is time: an export task reports
//! `SnapshotTime` ("the time when the snapshot was created") and `TaskStartTime`
//! (<https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ExportTask.html>), and
//! this snapshot's `SnapshotCreateTime` comes from DescribeDBSnapshots. An export of this
//! snapshot was taken from it, so it reports this snapshot's time and cannot have started
//! before it was taken.
//!
//! The trigger tries the identifiers of the snapshot name in order, `<id>`, `<id>-r2` …
//! `<id>-r9` (`liberator-export-id`: every one parses to the same import date): the first
//! that RDS accepts is this snapshot's export; one already taken by an export of this
//! snapshot means the event was delivered again (nothing to do); one taken by an export of
//! an earlier snapshot of the name is skipped. When all are taken, the invocation fails
//! saying what to do.

use std::time::Duration;

use aws_sdk_rds::error::DisplayErrorContext;
use aws_sdk_rds::primitives::DateTime;
use aws_sdk_rds::types::ExportTask;
use liberator_export_id::{MAX_EXPORT_NUMBER, check_export_task_identifier, nth_export_id};

use crate::snapshots::Snapshot;
use crate::{Answer, EXPORT_TASKS_STARTED, Error, Trigger};

/// How far apart a task's `SnapshotTime` and a snapshot's `SnapshotCreateTime` may be and
/// still name the same snapshot: RDS may round them differently, and a snapshot taken
/// again under the same name is minutes apart (the old one is deleted first, and taking a
/// snapshot takes minutes).
pub const SAME_SNAPSHOT_TOLERANCE: Duration = Duration::from_secs(1);

/// How long to wait before looking again for an export task RDS said exists but did not
/// list: long enough for a task a concurrent invocation just started to be listed, short
/// against the function's timeout.
pub const RELOOK_DELAY: Duration = Duration::from_secs(2);

/// Which snapshot an existing export task exported, as far as RDS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// This snapshot: the event was delivered again.
    This,
    /// Another snapshot (of the same name, or another name): the reason says how we know.
    Other(String),
    /// RDS reported neither `SnapshotTime` nor `TaskStartTime` (moto reports neither), or
    /// the snapshot's own time is unknown: taken for this snapshot, as before re-exports
    /// existed, and logged as a warning naming the identifier to export by hand.
    Unknown,
}

/// Which snapshot `task` exported, compared with the snapshot `arn` taken at `created`.
pub fn provenance(task: &ExportTask, arn: &str, created: Option<&DateTime>) -> Provenance {
    match task.source_arn() {
        Some(source) if source != arn => {
            return Provenance::Other(format!("it exported {source}"));
        }
        _ => {}
    }
    let Some(created) = created else {
        return Provenance::Unknown;
    };
    let nanos = |t: &DateTime| t.as_nanos();
    if let Some(taken) = task.snapshot_time() {
        let apart = nanos(taken).abs_diff(nanos(created));
        return if apart <= SAME_SNAPSHOT_TOLERANCE.as_nanos() {
            Provenance::This
        } else {
            Provenance::Other(format!(
                "it exported a snapshot taken at {taken}; this one was taken at {created}"
            ))
        };
    }
    match task.task_start_time() {
        Some(started) if nanos(started) < nanos(created) => Provenance::Other(format!(
            "it started at {started}, before this snapshot was taken at {created}"
        )),
        Some(_) => Provenance::This,
        None => Provenance::Unknown,
    }
}

/// What StartExportTask answered.
enum Start {
    Started { status: Option<String> },
    Taken,
}

impl Trigger {
    /// Exports `snapshot` under the first of its identifiers that is free or already
    /// holds an export of it (see the module documentation).
    pub(crate) async fn start_export(&self, mut snapshot: Snapshot) -> Result<Answer, Error> {
        for number in 1..=MAX_EXPORT_NUMBER {
            let task = nth_export_id(&snapshot.id, number);
            check_export_task_identifier(&task).map_err(|source| Error::ExportId {
                snapshot: snapshot.id.clone(),
                source,
            })?;
            let status = match self.try_start(&task, &snapshot).await? {
                Start::Started { status } => status,
                Start::Taken => {
                    match self.taken_by(&task, &mut snapshot).await? {
                        Provenance::This => {
                            tracing::info!(
                                snapshot = snapshot.id,
                                export_task = task,
                                "export task already exists for this snapshot (re-delivered event): nothing to do"
                            );
                        }
                        Provenance::Unknown => {
                            let next = if number < MAX_EXPORT_NUMBER {
                                nth_export_id(&snapshot.id, number + 1)
                            } else {
                                "a new identifier of the same import date".to_string()
                            };
                            tracing::warn!(
                                snapshot = snapshot.id,
                                export_task = task,
                                "export task already exists, and RDS does not say when its snapshot was taken: \
                                 taken for a re-delivered event. If this snapshot was taken again under the \
                                 same name, export it by hand as {next}"
                            );
                        }
                        Provenance::Other(why) => {
                            tracing::warn!(
                                snapshot = snapshot.id,
                                export_task = task,
                                reason = why,
                                "export identifier taken by an export of an earlier snapshot of this name: trying the next"
                            );
                            continue;
                        }
                    }
                    return Ok(Answer::AlreadyExported {
                        snapshot: snapshot.id,
                        export_task: task,
                    });
                }
            };
            metrics::counter!(EXPORT_TASKS_STARTED).increment(1);
            tracing::info!(snapshot = snapshot.id, export_task = task, bucket = %self.config.bucket_name,
                status = ?status, export_number = number, "export task started");
            return Ok(Answer::Started {
                snapshot: snapshot.id,
                export_task: task,
                status,
            });
        }
        Err(Error::NoFreeExportId {
            first: nth_export_id(&snapshot.id, 1),
            last: nth_export_id(&snapshot.id, MAX_EXPORT_NUMBER),
            snapshot: snapshot.id,
            arn: snapshot.arn,
        })
    }

    /// StartExportTask of `snapshot` named `task`.
    async fn try_start(&self, task: &str, snapshot: &Snapshot) -> Result<Start, Error> {
        let c = &self.config;
        let result = self
            .rds
            .start_export_task()
            .export_task_identifier(task)
            .source_arn(&snapshot.arn)
            .s3_bucket_name(&c.bucket_name)
            .iam_role_arn(&c.iam_role_arn)
            .kms_key_id(&c.kms_key_id)
            .set_s3_prefix(c.export_s3_prefix.clone())
            .send()
            .await;
        match result {
            Ok(out) => Ok(Start::Started {
                status: out.status().map(str::to_string),
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_export_task_already_exists_fault()) =>
            {
                Ok(Start::Taken)
            }
            Err(e) => Err(Error::StartExport {
                snapshot: snapshot.id.clone(),
                detail: format!("export task {task}: {}", DisplayErrorContext(&e)),
            }),
        }
    }

    /// Which snapshot the existing export task `task` exported. DescribeExportTasks is
    /// asked with the snapshot's ARN too (the trigger's IAM policy allows it only for the
    /// pipeline's snapshots), so no task found means the name was taken from elsewhere, or
    /// that a concurrent delivery of this event started it a moment ago and it is not
    /// listed yet: it is looked for once more after [`RELOOK_DELAY`].
    async fn taken_by(&self, task: &str, snapshot: &mut Snapshot) -> Result<Provenance, Error> {
        let mut existing = self.existing(task, snapshot).await?;
        if existing.is_none() {
            tokio::time::sleep(RELOOK_DELAY).await;
            existing = self.existing(task, snapshot).await?;
        }
        let Some(existing) = existing else {
            return Ok(Provenance::Other(format!(
                "no export task of that name has source {}",
                snapshot.arn
            )));
        };
        // Another source ARN settles it without the snapshot's time.
        if let other @ Provenance::Other(_) = provenance(&existing, &snapshot.arn, None) {
            return Ok(other);
        }
        if snapshot.created.is_none() {
            snapshot.created = self.snapshot_created(&snapshot.id).await?;
        }
        Ok(provenance(
            &existing,
            &snapshot.arn,
            snapshot.created.as_ref(),
        ))
    }

    /// DescribeExportTasks of `task` with the snapshot's ARN.
    async fn existing(&self, task: &str, snapshot: &Snapshot) -> Result<Option<ExportTask>, Error> {
        let out = self
            .rds
            .describe_export_tasks()
            .export_task_identifier(task)
            .source_arn(&snapshot.arn)
            .send()
            .await;
        match out {
            Ok(out) => Ok(out
                .export_tasks()
                .iter()
                .find(|t| t.export_task_identifier() == Some(task))
                .cloned()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_export_task_not_found_fault()) =>
            {
                Ok(None)
            }
            Err(e) => Err(Error::DescribeExport {
                snapshot: snapshot.id.clone(),
                export_task: task.to_string(),
                detail: DisplayErrorContext(&e).to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
