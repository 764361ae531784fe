//! `engine status`: one view of a day's pipeline, read from AWS itself. The dump object,
//! the restore (snapshot and manifest), the RDS export task, the landing (the copier's
//! marker and its report) and the Glue workflow run; a table on a terminal, JSON otherwise
//! or with `--json`. Exit code 0 when the day is complete, 1 when a stage failed,
//! [`EXIT_IN_PROGRESS`] (3) while it is in progress, 2 on bad input (no such bucket or
//! workflow, nothing at all for a past date, a malformed date or id).
//!
//! Reading is split from judging: the stage modules read (`dump` inline, [`restore`],
//! [`export`], [`landing`], [`glue`]), [`assess`] decides with no I/O, [`render`] prints.

pub mod assess;
pub mod aws;
pub mod export;
pub mod find;
pub mod glue;
pub mod landing;
pub mod model;
pub mod render;
pub mod restore;
pub mod survey;

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Result, bail};
use chrono::{NaiveDate, Utc};
use clap::Args;
use liberator_engine::export_id::parse_date;
use liberator_engine::{AwsOptions, ClientFactory, ExportId};
use liberator_telemetry::outln;

pub use aws::Clients;
pub use model::{DayStatus, EXIT_IN_PROGRESS, Verdict};

use assess::{Raw, Rules, assess};
use model::Dump;

/// The copier's default marker folder (its `MARKER_PREFIX`), from the shared Glue start.
pub use liberator_glue::marker::DEFAULT_MARKER_PREFIX;
/// The restore task's default manifest folder in the dump bucket.
pub const DEFAULT_MANIFEST_PREFIX: &str = "liberator-manifests/";
/// Where dumps are dropped in the dump bucket (restore/src/dump.rs).
pub const DUMP_PREFIX: &str = "parking/liberator_dump_";

/// A day that is still in progress: [`crate::run`] exits with [`EXIT_IN_PROGRESS`].
#[derive(Debug)]
pub struct InProgress;

impl std::fmt::Display for InProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the day is still in progress")
    }
}

impl std::error::Error for InProgress {}

#[derive(Args, Debug)]
pub struct Status {
    /// Import date (YYYY-MM-DD); default today (UTC). The date's latest export is shown.
    #[arg(long, conflicts_with = "export")]
    pub date: Option<String>,
    /// One export id instead, e.g. sql-to-parquet-24-06-04-101500 (or …-r2).
    #[arg(long)]
    pub export: Option<String>,
    /// Bucket the dumps are dropped in (`parking/liberator_dump_<YYMMDD|YYYYMMDD>.zip`):
    /// the restore task's BUCKET_NAME.
    #[arg(long, env = "DUMP_BUCKET")]
    pub dump_bucket: String,
    /// Bucket RDS exports to (the copier's SOURCE_BUCKET).
    #[arg(long, env = "SOURCE_BUCKET")]
    pub export_bucket: String,
    /// Prefix of the export folders in it (the copier's SOURCE_PREFIX). Default: the root.
    #[arg(long, env = "SOURCE_PREFIX", default_value = "")]
    pub export_prefix: String,
    /// Landing bucket (the copier's TARGET_BUCKET), which holds the markers.
    #[arg(long, env = "TARGET_BUCKET")]
    pub landing_bucket: String,
    /// Landing prefix (the copier's TARGET_PREFIX): where a landing without a marker is
    /// surveyed, and what `engine copy` hints name.
    #[arg(long, env = "TARGET_PREFIX", default_value = "parking")]
    pub landing_prefix: String,
    /// Folder of the copier's markers in the landing bucket (its MARKER_PREFIX).
    #[arg(long, env = "MARKER_PREFIX", default_value = DEFAULT_MARKER_PREFIX)]
    pub marker_prefix: String,
    /// Where the restore task writes its manifests, s3://BUCKET/PREFIX/ (MANIFEST_LOCATION).
    /// Default: s3://<dump bucket>/liberator-manifests/.
    #[arg(long, env = "MANIFEST_LOCATION")]
    pub manifests: Option<String>,
    /// Glue workflow of daily exports (the copier's WORKFLOW_NAME).
    #[arg(long, env = "WORKFLOW_NAME")]
    pub workflow: String,
    /// Glue workflow of backdated exports (BACKDATED_WORKFLOW_NAME).
    #[arg(long, env = "BACKDATED_WORKFLOW_NAME")]
    pub backdated_workflow: Option<String>,
    /// Only this instance's snapshots (RDS_INSTANCE_ID). Default: every manual snapshot.
    #[arg(long, env = "RDS_INSTANCE_ID")]
    pub rds_instance_id: Option<String>,
    /// A stage that has not begun this long after the stage before it finished is reported
    /// failed (nothing in AWS records that a task or Lambda gave up). Default 180 minutes.
    #[arg(long, default_value_t = 180)]
    pub stuck_after_minutes: u64,
    /// JSON on stdout even on a terminal (it is the default when stdout is not one).
    #[arg(long)]
    pub json: bool,
}

/// Where each stage is read from.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub dump_bucket: String,
    pub export_bucket: String,
    /// Empty or ending in `/`.
    pub export_prefix: String,
    pub landing_bucket: String,
    /// Empty or ending in `/`.
    pub landing_prefix: String,
    /// Empty or ending in `/`.
    pub marker_prefix: String,
    pub manifest_bucket: String,
    /// Empty or ending in `/`.
    pub manifest_prefix: String,
    pub workflow: String,
    pub backdated_workflow: Option<String>,
    pub rds_instance_id: Option<String>,
    pub stuck_after: chrono::Duration,
}

/// What one look needs: the clients, the settings and the time the rules apply at.
pub struct Ctx<'a> {
    pub clients: &'a Clients,
    pub settings: &'a Settings,
    pub now: chrono::DateTime<Utc>,
}

/// Which day or export to look at.
#[derive(Debug, Clone)]
pub enum Which {
    Date(NaiveDate),
    Export(ExportId),
}

impl Status {
    /// The settings and the day these flags name.
    pub fn settings(&self) -> Result<(Settings, Which)> {
        let which = match (&self.export, &self.date) {
            (Some(id), _) => Which::Export(ExportId::parse(id)?),
            (None, Some(d)) => Which::Date(parse_date(d)?),
            (None, None) => Which::Date(Utc::now().date_naive()),
        };
        let (manifest_bucket, manifest_prefix) = match &self.manifests {
            Some(m) => {
                let rest = m.strip_prefix("s3://").ok_or_else(|| {
                    anyhow::anyhow!("--manifests {m:?} is not s3://BUCKET/PREFIX/")
                })?;
                let (b, p) = rest.split_once('/').unwrap_or((rest, ""));
                (b.to_string(), aws::folder(p))
            }
            None => (
                self.dump_bucket.clone(),
                DEFAULT_MANIFEST_PREFIX.to_string(),
            ),
        };
        let settings = Settings {
            dump_bucket: self.dump_bucket.clone(),
            export_bucket: self.export_bucket.clone(),
            export_prefix: aws::folder(&self.export_prefix),
            landing_bucket: self.landing_bucket.clone(),
            landing_prefix: aws::folder(&self.landing_prefix),
            marker_prefix: aws::folder(&self.marker_prefix),
            manifest_bucket,
            manifest_prefix,
            workflow: self.workflow.clone(),
            backdated_workflow: self.backdated_workflow.clone(),
            rds_instance_id: self.rds_instance_id.clone(),
            stuck_after: chrono::Duration::minutes(self.stuck_after_minutes as i64),
        };
        Ok((settings, which))
    }

    /// Reads, judges and prints; `Ok(true)` complete, `Ok(false)` failed, the
    /// [`InProgress`] error in progress.
    pub async fn run(self, aws_options: &AwsOptions) -> Result<bool> {
        let (settings, which) = self.settings()?;
        let options = AwsOptions {
            // A handful of small reads: the SDK's own retries, and nothing waits long.
            s3_sdk_retries: true,
            read_timeout: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(30),
            operation_timeout: Duration::from_secs(90),
            ..aws_options.clone()
        };
        let clients = Clients::new(&ClientFactory::load(options).await);
        let status = look(&clients, &settings, &which, Utc::now()).await?;
        if self.json || !std::io::stdout().is_terminal() {
            outln!("{}", serde_json::to_string_pretty(&status)?);
        } else {
            outln!("{}", render::table(&status));
        }
        match status.verdict {
            Verdict::Complete => Ok(true),
            Verdict::Failed => Ok(false),
            Verdict::InProgress => Err(InProgress.into()),
        }
    }
}

/// Reads every stage of the day (or export) and judges it at `now`.
pub async fn look(
    clients: &Clients,
    settings: &Settings,
    which: &Which,
    now: chrono::DateTime<Utc>,
) -> Result<DayStatus> {
    let ctx = Ctx {
        clients,
        settings,
        now,
    };
    for (bucket, flag) in [
        (&settings.dump_bucket, "--dump-bucket / DUMP_BUCKET"),
        (&settings.export_bucket, "--export-bucket / SOURCE_BUCKET"),
        (&settings.landing_bucket, "--landing-bucket / TARGET_BUCKET"),
        (&settings.manifest_bucket, "--manifests / MANIFEST_LOCATION"),
    ] {
        aws::require_bucket(&clients.s3, bucket, flag).await?;
    }
    let (date, id, others) = match which {
        Which::Export(id) => (id.date(), Some(id.clone()), Vec::new()),
        Which::Date(d) => match find::pick(find::ids_for(&ctx, *d).await?) {
            Some((id, others)) => (*d, Some(id), others),
            None => (*d, None, Vec::new()),
        },
    };
    let mut raw = Raw {
        date: Some(date),
        export_id: id.as_ref().map(|i| i.to_string()),
        copy_hint: format!(
            "--source s3://{}/{} --target s3://{}/{} --manifests s3://{}/{}",
            settings.export_bucket,
            settings.export_prefix,
            settings.landing_bucket,
            settings.landing_prefix,
            settings.manifest_bucket,
            settings.manifest_prefix
        ),
        ..Raw::default()
    };
    let mut dump_hint = None;
    if let Some(id) = &id {
        let sid = id.snapshot_id();
        raw.snapshot_id = Some(sid.to_string());
        raw.snapshot = restore::snapshot(&ctx, sid).await?;
        raw.manifest_url = Some(restore::manifest_url(&ctx, sid));
        raw.manifest = restore::manifest(&ctx, sid).await?.map(|m| {
            m.map(|(summary, dump)| {
                dump_hint = Some(dump);
                summary
            })
        });
        raw.export = export::export(&ctx, id.as_str()).await?;
        raw.marker_url = Some(landing::marker_url(&ctx, id.as_str()));
        raw.marker = landing::read_marker(&ctx, id.as_str()).await?;
        if raw.marker.is_none() && raw.export.is_some() {
            raw.survey = survey::survey(&ctx, id).await?;
        }
        raw.workflow = raw
            .marker
            .as_ref()
            .and_then(|m| m.workflow.clone())
            .or_else(|| match id.is_backdated() {
                true => settings.backdated_workflow.clone(),
                false => Some(settings.workflow.clone()),
            });
        if let Some(wf) = &raw.workflow {
            let run_id = raw.marker.as_ref().and_then(|m| m.run_id.as_deref());
            raw.run = glue::run(&ctx, wf, id.as_str(), run_id).await?;
        }
    }
    (raw.dump, raw.dump_tried) = dump(&ctx, date, dump_hint).await?;
    if !raw.anything() && date < now.date_naive() {
        bail!(
            "nothing found for {date}: no dump at {}, and no sql-to-parquet-* snapshot, restore manifest (s3://{}/{}), export task, export folder (s3://{}/{}) or marker (s3://{}/{}) for that date{}",
            raw.dump_tried.join(" or "),
            settings.manifest_bucket,
            settings.manifest_prefix,
            settings.export_bucket,
            settings.export_prefix,
            settings.landing_bucket,
            settings.marker_prefix,
            raw.export_id
                .as_ref()
                .map(|i| format!(" (export {i})"))
                .unwrap_or_default()
        );
    }
    let rules = Rules {
        now,
        stuck_after: settings.stuck_after,
    };
    let stages = assess(&raw, &rules);
    Ok(DayStatus::new(
        date,
        raw.export_id.clone(),
        others,
        now,
        stages,
    ))
}

/// The dump object: the key the manifest names (when in the dump bucket), else
/// `parking/liberator_dump_<YYMMDD>.zip`, then `<YYYYMMDD>` (the restore task's order).
async fn dump(
    ctx: &Ctx<'_>,
    date: NaiveDate,
    from_manifest: Option<(String, String)>,
) -> Result<(Option<Dump>, Vec<String>)> {
    let bucket = &ctx.settings.dump_bucket;
    let mut keys: Vec<String> = from_manifest
        .filter(|(b, _)| b == bucket)
        .map(|(_, k)| k)
        .into_iter()
        .collect();
    for k in [
        format!("{DUMP_PREFIX}{}.zip", date.format("%y%m%d")),
        format!("{DUMP_PREFIX}{}.zip", date.format("%Y%m%d")),
    ] {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for key in &keys {
        if let Some((size, uploaded_at)) = aws::head(&ctx.clients.s3, bucket, key).await? {
            let found = Dump {
                bucket: bucket.clone(),
                key: key.clone(),
                size,
                uploaded_at,
            };
            return Ok((Some(found), Vec::new()));
        }
    }
    Ok((
        None,
        keys.iter().map(|k| format!("s3://{bucket}/{k}")).collect(),
    ))
}
