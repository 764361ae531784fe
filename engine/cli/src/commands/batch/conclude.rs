//! After the job: each export's landing, read back from the completion report, checked
//! whole and handed to Glue once.
//!
//! Every Parquet file of the export is accounted for: a task of the report gives its rows
//! and target (the copier's `resultString`, [`TaskResult`]); a file no task names must
//! already be at its target (HEAD, same size and ETag), and its rows come from its footer,
//! as a skipped file's do in a local run. The engine then runs the same completeness check
//! (and removal of other exports' files of the date) as at the end of a local landing
//! ([`Engine::conclude_export`]); only a passing export starts its workflow, through the
//! copier's exactly-once marker ([`liberator_glue::GlueStart`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use futures::StreamExt;
use liberator_engine::batch::TaskResult;
use liberator_engine::copy::is_same;
use liberator_engine::layout::{Layout, Mapped};
use liberator_engine::store::ObjectInfo;
use liberator_engine::verify::verify_object;
use liberator_engine::{Engine, ExportId, ExportRequest, Failure, Location, ObjectStore, Report};

use super::report::TaskRow;

/// HEADs and footer reads in flight for files no task names.
const CHECKS_IN_FLIGHT: usize = 64;

/// Tasks of the job's report, by (bucket, decoded key).
pub type Tasks = HashMap<(String, String), TaskRow>;

/// A file no task named: already landed (its rows), or why not.
async fn check_untasked(
    engine: &Engine,
    src_bucket: &str,
    dst_bucket: &str,
    obj: &ObjectInfo,
    target_key: &str,
) -> std::result::Result<u64, String> {
    let store = engine.store();
    match store.head(dst_bucket, target_key).await {
        Ok(Some(head)) if is_same(obj, &head) => {}
        Ok(Some(_)) => {
            return Err(format!(
                "not in the job's manifest, and s3://{dst_bucket}/{target_key} differs from it"
            ));
        }
        Ok(None) => {
            return Err(format!(
                "not in the job's manifest and not at s3://{dst_bucket}/{target_key}"
            ));
        }
        Err(e) => return Err(e.to_string()),
    }
    let read = engine.config().footer_read_size;
    verify_object(store, src_bucket, &obj.key, obj.size, read)
        .await
        .map(|f| f.rows)
        .map_err(|e| e.to_string())
}

/// One export's report, from a listing of the export and the job's tasks.
pub async fn account(
    engine: &Arc<Engine>,
    source: &Location,
    target: &Location,
    export_id: &ExportId,
    tasks: &Tasks,
) -> Report {
    let started = Instant::now();
    let date = export_id.date();
    let layout = Layout::new(source.prefix(), export_id.as_str(), target.prefix(), date);
    let (src_bucket, dst_bucket) = (source.bucket(), target.bucket());
    let mut report = Report {
        export_id: export_id.to_string(),
        import_date: date.format("%Y-%m-%d").to_string(),
        source: source.join(export_id.as_str()).to_string(),
        target: target.to_string(),
        verify: engine.config().verify,
        complete: true,
        ..Default::default()
    };
    let fail = |report: &mut Report, key: &str, reason: String| {
        report.failed += 1;
        report.failures.push(Failure {
            key: key.to_string(),
            reason,
        });
    };
    let mut untasked = Vec::new();
    let mut pages = engine.store().list(&src_bucket, layout.export_root());
    while let Some(page) = pages.next().await {
        let objects = match page {
            Ok(objects) => objects,
            Err(e) => {
                report.complete = false;
                report.failures.push(Failure {
                    key: layout.export_root().to_string(),
                    reason: format!("listing failed: {e}"),
                });
                break;
            }
        };
        for obj in objects {
            report.listed += 1;
            report.bytes_listed += obj.size;
            let pk = match layout.map(&obj.key) {
                Ok(Mapped::Parquet(pk)) => pk,
                Ok(Mapped::Other) => {
                    report.non_parquet += 1;
                    continue;
                }
                Err(e) => {
                    fail(&mut report, &obj.key, e.to_string());
                    continue;
                }
            };
            let expected = format!("s3://{dst_bucket}/{}", pk.target_key);
            let Some(task) = tasks.get(&(src_bucket.clone(), obj.key.clone())) else {
                untasked.push((obj, pk));
                continue;
            };
            if !task.succeeded {
                let reason = format!("task failed ({}): {}", task.codes, task.message);
                fail(&mut report, &obj.key, reason);
                continue;
            }
            let landed = match TaskResult::parse(&task.message) {
                Some(r) if r.target != expected => Err(format!(
                    "the copier landed it at {}, expected {expected}: is its TARGET_BUCKET/TARGET_PREFIX the --target?",
                    r.target
                )),
                Some(TaskResult {
                    rows: Some(rows),
                    copied,
                    ..
                }) => Ok((rows, copied)),
                Some(_) => Err("the task's answer carries no row count (footer not read)".into()),
                None => Err(format!(
                    "the task's answer {:?} is not a copier result (rows=… copied to …)",
                    task.message
                )),
            };
            match landed {
                Ok((rows, copied)) => {
                    let t = report.tables.entry(pk.table.clone()).or_default();
                    t.files += 1;
                    t.bytes += obj.size;
                    t.rows += rows;
                    if copied {
                        report.copied += 1;
                        report.bytes_copied += obj.size;
                    } else {
                        report.skipped += 1;
                        report.bytes_skipped += obj.size;
                    }
                }
                Err(reason) => fail(&mut report, &obj.key, reason),
            }
        }
    }
    let checked: Vec<_> = futures::stream::iter(untasked)
        .map(|(obj, pk)| {
            let (engine, src, dst) = (engine.clone(), src_bucket.clone(), dst_bucket.clone());
            async move {
                let r = check_untasked(&engine, &src, &dst, &obj, &pk.target_key).await;
                (obj, pk, r)
            }
        })
        .buffer_unordered(CHECKS_IN_FLIGHT)
        .collect()
        .await;
    for (obj, pk, r) in checked {
        match r {
            Ok(rows) => {
                let t = report.tables.entry(pk.table).or_default();
                t.files += 1;
                t.bytes += obj.size;
                t.rows += rows;
                report.skipped += 1;
                report.bytes_skipped += obj.size;
            }
            Err(reason) => fail(&mut report, &obj.key, reason),
        }
    }
    if report.complete && report.listed == 0 {
        report.failures.push(Failure {
            key: layout.export_root().to_string(),
            reason: "no objects under the export folder: wrong export id or source?".into(),
        });
    }
    if report.failures.is_empty() {
        let request = ExportRequest {
            export_id: export_id.clone(),
            import_date: None,
            task: None,
            source: source.clone(),
            target: target.clone(),
        };
        engine.conclude_export(&request, &mut report).await;
    }
    report.duration_secs = started.elapsed().as_secs_f64();
    report
}

/// Starts `report`'s export's workflow once (through the shared marker) when it passed.
pub async fn start_glue(
    glue: &liberator_glue::GlueStart,
    report: &Report,
) -> Result<Option<liberator_glue::Outcome>> {
    if !report.passed() {
        return Ok(None);
    }
    let id = ExportId::parse(&report.export_id)?;
    Ok(Some(glue.start_once(&id, report).await?))
}
