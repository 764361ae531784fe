//! Submitting a backfill: plan the selection, stream the manifest (or find the one a
//! submission whose record was lost already wrote), create the job and record it; on a
//! dry run, plan and print only.

use std::sync::Arc;

use anyhow::{Context, Result};
use liberator_engine::Engine;
use liberator_telemetry::errln;
use tokio::sync::mpsc;

use super::job::JobSpec;
use super::manifest::{self, ManifestWriter};
use super::plan;
use super::record::{self, Record, RecordedJob};
use super::{Clients, Settings};

/// Plans, writes the manifest and creates the job (none when nothing is left to land);
/// on a dry run only plans and prints.
pub(super) async fn submit(
    settings: &Settings,
    engine: &Arc<Engine>,
    clients: &Clients,
    record: &mut Record,
    record_key: &str,
    folder: &str,
) -> Result<Option<String>> {
    let generation = record.jobs.len();
    let token = settings.token(generation);
    let manifest_key = format!(
        "{}{folder}/{}/manifest.csv",
        settings.manifests.1,
        &token[..16]
    );
    let planner = Engine::with_store(engine.store().clone(), plan::plan_config(engine.config()));
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let existing = if settings.dry_run {
        None
    } else {
        manifest::existing(&clients.s3, &settings.manifests.0, &manifest_key).await?
    };
    let writer = (!settings.dry_run && existing.is_none())
        .then(|| ManifestWriter::new(clients.s3.clone(), &settings.manifests.0, &manifest_key));
    let write = tokio::spawn(async move {
        let mut writer = writer;
        let mut lines = 0u64;
        while let Some(line) = rx.recv().await {
            lines += 1;
            if let Some(w) = writer.as_mut() {
                w.write_line(&line).await?;
            }
        }
        match writer {
            Some(w) => w.finish().await.map(|m| (m, lines)),
            None => Ok((None, lines)),
        }
    });
    let plans = plan::plan(
        &planner,
        &settings.source,
        &settings.target,
        &settings.exports,
        tx,
        settings.dry_run,
    )
    .await;
    let (written, lines) = write
        .await
        .context("the manifest writer ended abnormally")??;
    let plans = plans?;
    for p in &plans {
        let r = &p.report;
        errln!(
            "{}: {} object(s) to land, {} already landed{}",
            r.export_id,
            r.planned,
            r.skipped,
            if r.failures.is_empty() {
                String::new()
            } else {
                format!(", {} failure(s)", r.failures.len())
            }
        );
        for f in &r.failures {
            errln!("  {}: {}", f.key, f.reason);
        }
    }
    let manifest_uri = format!("s3://{}/{manifest_key}", settings.manifests.0);
    if settings.dry_run {
        errln!(
            "dry run: would write {lines} line(s) to {manifest_uri} and create a job invoking {} \
             (role {}, priority {}, token {token}); nothing written",
            settings.function_arn,
            settings.role_arn,
            settings.priority
        );
        return Ok(None);
    }
    let Some(manifest) = existing.or(written) else {
        errln!("nothing left to land: no job needed");
        return Ok(None);
    };
    let spec = JobSpec {
        manifest,
        function_arn: settings.function_arn.clone(),
        role_arn: settings.role_arn.clone(),
        report_bucket: settings.reports.0.clone(),
        report_prefix: format!("{}{folder}", settings.reports.1),
        priority: settings.priority,
        token: token.clone(),
        description: format!(
            "liberator backfill of {} export(s) to {}",
            settings.exports.len(),
            settings.target
        ),
    };
    let job_id = clients.jobs.create(&spec).await?;
    errln!("job {job_id}: {lines} task(s), manifest {manifest_uri}");
    if !record.jobs.iter().any(|j| j.job_id == job_id) {
        record.jobs.push(RecordedJob {
            job_id: job_id.clone(),
            token,
            manifest: manifest_uri,
            created_at: chrono::Utc::now().to_rfc3339(),
        });
        record::write(&clients.s3, &settings.manifests.0, record_key, record).await?;
    }
    Ok(Some(job_id))
}
