//! `engine backfill --via batch-operations`: the same backfill, run by S3 Batch Operations.
//!
//! One machine copies a few thousand objects a second at best and must stay up for the
//! whole backfill; a Batch Operations job invokes the deployed copier on every object, with
//! S3's own retries and a completion report, whatever the size. This command
//!
//! 1. selects the exports as `engine backfill` does and plans them with the engine
//!    ([`plan`]: listing, collision checks, what already landed is left out);
//! 2. streams the CSV manifest of the objects still to land to `--manifest-location`
//!    ([`manifest`]);
//! 3. creates the job ([`job`]: `LambdaInvoke` on `--function-arn`, schema 2.0, report of
//!    all tasks, `ClientRequestToken` from the selection) and records its id next to the
//!    manifest, so a re-submitted backfill follows that job instead of starting another;
//! 4. follows it with `DescribeJob` ([`follow`]);
//! 5. reads the completion report ([`report`]) and, per export, accounts for every file,
//!    runs the completeness check and starts the Glue workflow exactly once through the
//!    copier's marker ([`conclude`]).
//!
//! Failed tasks are listed with their key and reason; the exit code is 1 when anything
//! failed. `--dry-run` plans and prints, writing nothing; `--job-id` follows an existing
//! job (and concludes it).

pub mod conclude;
pub mod follow;
pub mod job;
pub mod manifest;
pub mod plan;
pub mod record;
pub mod report;
mod submit;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use liberator_aws::ClientFactory;
use liberator_engine::backfill::{BackfillFilter, discover};
use liberator_engine::export_id::parse_date;
use liberator_engine::{AwsOptions, Engine, ExportId, Location, Report};
use liberator_glue::GlueStart;
use liberator_glue::marker::DEFAULT_MARKER_PREFIX;
use liberator_glue::marker_store::MarkerStore;
use liberator_telemetry::errln;
use serde::Serialize;

use self::job::{JobService, S3ControlJobs, account_of, request_token};
use self::record::Record;
use super::backfill::Backfill;
use crate::output::{location, write_json};

/// Flags of `--via batch-operations`.
#[derive(Args, Debug, Clone)]
pub struct BatchArgs {
    /// Where the job's manifest and the record of its jobs go (s3://BUCKET/PREFIX/).
    #[arg(long, value_name = "S3_URI")]
    pub manifest_location: Option<String>,
    /// Where S3 writes the completion reports (s3://BUCKET/PREFIX/). Default: the manifest
    /// location.
    #[arg(long, value_name = "S3_URI")]
    pub report_location: Option<String>,
    /// The deployed export-copier Lambda the job invokes on every object.
    #[arg(long, env = "COPIER_FUNCTION_ARN")]
    pub function_arn: Option<String>,
    /// The role S3 Batch Operations assumes (Terraform output `batch_operations_role_arn`).
    #[arg(long, env = "BATCH_OPERATIONS_ROLE_ARN")]
    pub role_arn: Option<String>,
    /// The account the job runs in. Default: the role's.
    #[arg(long)]
    pub account_id: Option<String>,
    /// The job's priority (higher runs first among the account's jobs).
    #[arg(long, default_value_t = 10)]
    pub priority: i32,
    /// Follow (and conclude) this existing job instead of planning a new one.
    #[arg(long)]
    pub job_id: Option<String>,
    /// Glue workflow started for each export that landed whole (the copier's WORKFLOW_NAME).
    #[arg(long, env = "WORKFLOW_NAME")]
    pub workflow: Option<String>,
    /// Glue workflow for `-backdated` exports (the copier's BACKDATED_WORKFLOW_NAME).
    #[arg(long, env = "BACKDATED_WORKFLOW_NAME")]
    pub backdated_workflow: Option<String>,
    /// Where the exactly-once markers are, in the landing bucket (the copier's MARKER_PREFIX).
    #[arg(long, default_value = DEFAULT_MARKER_PREFIX)]
    pub marker_prefix: String,
    /// Seconds between DescribeJob calls.
    #[arg(long, default_value_t = 10.0)]
    pub poll_seconds: f64,
}

/// Everything a batch backfill needs, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub source: Location,
    pub target: Location,
    pub exports: Vec<String>,
    /// Where manifests and the record go: bucket, prefix (ending in `/` or empty).
    pub manifests: (String, String),
    pub reports: (String, String),
    pub function_arn: String,
    pub role_arn: String,
    pub priority: i32,
    pub job_id: Option<String>,
    pub workflow: String,
    pub backdated_workflow: Option<String>,
    pub marker_prefix: String,
    pub poll: Duration,
    pub dry_run: bool,
}

/// The clients a batch backfill talks to.
#[derive(Clone)]
pub struct Clients {
    /// Manifests, records and completion reports (SDK retries on).
    pub s3: aws_sdk_s3::Client,
    pub glue: aws_sdk_glue::Client,
    pub jobs: Arc<dyn JobService>,
}

/// What the backfill did: the JSON output.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// The jobs followed (none when nothing was left to land, or on a dry run).
    pub job_id: Option<String>,
    pub reports: Vec<Report>,
    /// Per export that passed: the workflow run started (or already started).
    pub glue: Vec<GlueRun>,
    /// Failed tasks and other failures, `(key, reason)`.
    pub failures: Vec<(String, String)>,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct GlueRun {
    pub export_id: String,
    pub workflow: String,
    pub run_id: String,
    /// False when the run had been started before (a re-run, or the copier).
    pub started_now: bool,
}

fn s3_location(flag: &str, value: Option<&str>) -> Result<(String, String)> {
    let value =
        value.ok_or_else(|| anyhow!("--via batch-operations needs {flag} s3://BUCKET/PREFIX/"))?;
    match Location::parse(value).with_context(|| format!("{flag} {value:?}"))? {
        Location::S3 { bucket, prefix } => Ok((bucket, prefix)),
        Location::Local { .. } => bail!("{flag} {value:?}: must be an s3:// location"),
    }
}

impl Settings {
    pub fn new(
        args: &BatchArgs,
        source: Location,
        target: Location,
        exports: Vec<String>,
        dry_run: bool,
    ) -> Result<Self> {
        if !(source.is_s3() && target.is_s3()) {
            bail!("--via batch-operations lands from s3:// to s3:// (the copier runs in AWS)");
        }
        let manifests = s3_location("--manifest-location", args.manifest_location.as_deref())?;
        let reports = match &args.report_location {
            Some(r) => s3_location("--report-location", Some(r))?,
            None => manifests.clone(),
        };
        let need = |flag: &str, v: &Option<String>| {
            v.clone()
                .ok_or_else(|| anyhow!("--via batch-operations needs {flag}"))
        };
        Ok(Settings {
            source,
            target,
            exports,
            manifests,
            reports,
            function_arn: need(
                "--function-arn (or COPIER_FUNCTION_ARN)",
                &args.function_arn,
            )?,
            role_arn: need("--role-arn (or BATCH_OPERATIONS_ROLE_ARN)", &args.role_arn)?,
            priority: args.priority,
            job_id: args.job_id.clone(),
            workflow: need("--workflow (or WORKFLOW_NAME)", &args.workflow)?,
            backdated_workflow: args.backdated_workflow.clone(),
            marker_prefix: args.marker_prefix.clone(),
            poll: Duration::from_secs_f64(args.poll_seconds.max(0.01)),
            dry_run,
        })
    }

    /// `backfill-<first 16 hex of the selection's token>`: this selection's folder under
    /// the manifest and report locations.
    pub fn folder(&self) -> String {
        let token = request_token(
            &self.source.to_string(),
            &self.target.to_string(),
            &self.function_arn,
            &self.exports,
            0,
        );
        format!("backfill-{}", &token[..16])
    }

    fn token(&self, generation: usize) -> String {
        request_token(
            &self.source.to_string(),
            &self.target.to_string(),
            &self.function_arn,
            &self.exports,
            generation,
        )
    }
}

/// The real clients: S3 (with the SDK's retries), Glue and S3 Control from one factory.
pub async fn clients(factory_options: &AwsOptions, args: &BatchArgs) -> Result<Clients> {
    let factory = ClientFactory::load(AwsOptions {
        s3_sdk_retries: true,
        ..factory_options.clone()
    })
    .await;
    let account = match &args.account_id {
        Some(a) => a.clone(),
        None => args
            .role_arn
            .as_deref()
            .and_then(account_of)
            .ok_or_else(|| anyhow!("--account-id is needed when --role-arn names no account"))?,
    };
    Ok(Clients {
        s3: factory.s3(),
        glue: factory.glue(),
        jobs: Arc::new(S3ControlJobs::new(factory.s3control(), account)),
    })
}

/// `engine backfill --via batch-operations`: selects the exports as `engine backfill` does,
/// runs [`execute`] on the real clients, prints the failed tasks and writes the JSON
/// outcome (`--report FILE` or stdout). `Ok(false)` when anything failed.
pub async fn run(b: &Backfill, aws: &AwsOptions) -> Result<bool> {
    let filter = BackfillFilter {
        since: b.since.as_deref().map(parse_date).transpose()?,
        until: b.until.as_deref().map(parse_date).transpose()?,
        only: b.only.clone(),
    };
    let (source, target) = (
        location(&b.locations.source)?,
        location(&b.locations.target)?,
    );
    // Flags first: a missing one fails before any listing.
    Settings::new(
        &b.batch,
        source.clone(),
        target.clone(),
        Vec::new(),
        b.copy.dry_run,
    )?;
    let engine = Engine::connect(&source, &target, aws, b.copy.config()?).await?;
    let discovery = discover(&engine, &source, &filter).await?;
    errln!(
        "{} export(s) to land through S3 Batch Operations: {}",
        discovery.exports.len(),
        discovery.exports.join(", ")
    );
    for (name, reason) in &discovery.ignored {
        errln!("ignored folder {name}: {reason}");
    }
    let settings = Settings::new(&b.batch, source, target, discovery.exports, b.copy.dry_run)?;
    let clients = clients(aws, &b.batch).await?;
    let outcome = execute(&settings, &engine, &clients).await?;
    print_summary(&outcome);
    if !settings.dry_run {
        write_json(b.copy.report.as_deref(), b.copy.json, &outcome)?;
    }
    Ok(outcome.passed)
}

/// The human summary on stderr: each export's report, its Glue run, every failure.
pub fn print_summary(outcome: &Outcome) {
    for r in &outcome.reports {
        liberator_telemetry::pipe::eprint(format_args!("{r}"));
    }
    for g in &outcome.glue {
        let how = if g.started_now {
            "started"
        } else {
            "already started"
        };
        errln!(
            "{}: Glue workflow {} run {} {how}",
            g.export_id,
            g.workflow,
            g.run_id
        );
    }
    for (key, reason) in &outcome.failures {
        errln!("failed: {key}: {reason}");
    }
}

/// Runs the backfill: plan, manifest, job, follow, conclude. `engine` lands and checks
/// (its configuration is the backfill's); `Ok` also when tasks failed (`passed: false`).
pub async fn execute(
    settings: &Settings,
    engine: &Arc<Engine>,
    clients: &Clients,
) -> Result<Outcome> {
    let folder = settings.folder();
    let record_key = format!("{}{folder}/jobs.json", settings.manifests.1);
    let mut record = if settings.dry_run {
        Record::default()
    } else {
        record::read(&clients.s3, &settings.manifests.0, &record_key).await?
    };
    let mut outcome = Outcome::default();

    // The job to follow: the one named, a running one of this selection, or a new one.
    let follow_id = match &settings.job_id {
        Some(id) => Some(id.clone()),
        None => match record.jobs.last() {
            Some(last) if !settings.dry_run => {
                let state = clients.jobs.describe(&last.job_id).await?;
                (!state.is_terminal()).then(|| {
                    errln!(
                        "job {} of this selection is {}: following it",
                        last.job_id,
                        state.status
                    );
                    last.job_id.clone()
                })
            }
            _ => None,
        },
    };
    let job_id = match follow_id {
        Some(id) => Some(id),
        None => {
            submit::submit(settings, engine, clients, &mut record, &record_key, &folder).await?
        }
    };
    if settings.dry_run {
        outcome.passed = true;
        return Ok(outcome);
    }
    let mut complete = true;
    if let Some(id) = &job_id {
        let state = follow::follow(clients.jobs.as_ref(), id, settings.poll).await?;
        complete = state.status == "Complete";
        if !complete {
            outcome.failures.push((
                format!("job {id}"),
                format!("ended {}: {}", state.status, state.reasons.join("; ")),
            ));
        }
    }
    outcome.job_id = job_id.clone();

    // Every task of this selection's jobs (later jobs win), and of the job named.
    let mut tasks = conclude::Tasks::new();
    let mut ids: Vec<(String, Option<(String, String)>)> = record
        .jobs
        .iter()
        .map(|j| (j.job_id.clone(), None))
        .collect();
    if let Some(id) = &job_id
        && !ids.iter().any(|(j, _)| j == id)
    {
        ids.push((id.clone(), clients.jobs.describe(id).await?.report));
    }
    for (id, report_at) in ids {
        let (bucket, prefix) = report_at.unwrap_or_else(|| {
            (
                settings.reports.0.clone(),
                format!("{}{folder}", settings.reports.1),
            )
        });
        match report::read(&clients.s3, &bucket, &prefix, &id).await {
            Ok(t) => tasks.extend(t),
            // A job that ended before any task ran writes no report.
            Err(e) if !complete || Some(&id) != job_id.as_ref() => {
                tracing::warn!(
                    job_id = id,
                    error = format!("{e:#}"),
                    "no completion report"
                )
            }
            Err(e) => return Err(e),
        }
    }
    for row in tasks.values().filter(|r| !r.succeeded) {
        outcome.failures.push((
            format!("s3://{}/{}", row.bucket, row.key),
            format!("({}) {}", row.codes, row.message),
        ));
    }

    let markers = MarkerStore::new(
        engine.store().clone(),
        settings.target.bucket(),
        settings.marker_prefix.clone(),
    );
    let glue = GlueStart::new(
        clients.glue.clone(),
        markers,
        settings.workflow.clone(),
        settings.backdated_workflow.clone(),
    );
    for id in &settings.exports {
        let export_id = ExportId::parse(id)?;
        let report = conclude::account(
            engine,
            &settings.source,
            &settings.target,
            &export_id,
            &tasks,
        )
        .await;
        match conclude::start_glue(&glue, &report).await {
            Ok(Some(o)) => outcome.glue.push(GlueRun {
                export_id: id.clone(),
                workflow: o.workflow().to_string(),
                run_id: o.run_id().to_string(),
                started_now: matches!(o, liberator_glue::Outcome::Started { .. }),
            }),
            Ok(None) => {}
            Err(e) => outcome.failures.push((id.clone(), format!("{e:#}"))),
        }
        outcome.reports.push(report);
    }
    outcome.passed = outcome.failures.is_empty()
        && outcome.reports.iter().all(Report::passed)
        && outcome.glue.len() == settings.exports.len();
    Ok(outcome)
}
