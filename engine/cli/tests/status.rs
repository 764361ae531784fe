//! `engine status` against moto (S3, RDS and Glue in one server): a complete day, a day
//! stuck at the export, a day whose landing failed, each read by the real `engine` binary
//! (JSON and exit code asserted). moto's Glue runs stay `RUNNING` for ever, so the run that
//! completes is answered by `aws-smithy-mocks` through the library's `look`, named so below.
//!
//! Each test uses its own random past date (snapshot and export ids are unique per moto
//! server, which other test binaries share) and its own buckets, instance and workflow.

use std::process::{Command, Output};
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use chrono::{NaiveDate, Utc};
use liberator_cli::commands::status::{Clients, Settings, Which, look};
use liberator_engine::{EngineConfig, ExportId, ExportRequest, Location, NoProgress, Report};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use liberator_tests::aws::{
    create_instance, create_snapshot, create_workflow, glue_client, rds_client, start_export,
    unique_instance,
};
use liberator_tests::{
    ACCESS_KEY, SECRET_KEY, create_bucket, engine, moto, s3_client, unique_bucket,
};
use serde_json::{Value, json};

/// One day's pipeline state in moto, built stage by stage as the real stages leave it.
struct Day {
    ep: String,
    s3: aws_sdk_s3::Client,
    date: NaiveDate,
    id: String,
    instance: String,
    dump: String,
    exports: String,
    landing: String,
    workflow: String,
}

impl Day {
    async fn new() -> Day {
        let ep = moto().endpoint.clone();
        let s3 = s3_client(&ep);
        let (dump, exports, landing) = (
            unique_bucket("st-dump"),
            unique_bucket("st-exp"),
            unique_bucket("st-land"),
        );
        for b in [&dump, &exports, &landing] {
            create_bucket(&s3, b).await;
        }
        // A random past date and time: ids are unique per moto server.
        let r = uuid::Uuid::new_v4().as_u128();
        let date = NaiveDate::from_ymd_opt(
            2010 + (r % 10) as i32,
            1 + (r >> 8) as u32 % 12,
            1 + (r >> 16) as u32 % 28,
        )
        .unwrap();
        let at = date
            .and_hms_opt(
                (r >> 24) as u32 % 24,
                (r >> 32) as u32 % 60,
                (r >> 40) as u32 % 60,
            )
            .unwrap();
        let id = ExportId::daily(at).unwrap().to_string();
        let instance = unique_instance("st");
        create_instance(&rds_client(&ep), &instance).await;
        let workflow = unique_bucket("st-wf");
        create_workflow(&glue_client(&ep), &workflow).await;
        Day {
            ep,
            s3,
            date,
            id,
            instance,
            dump,
            exports,
            landing,
            workflow,
        }
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {bucket}/{key}: {e:?}"));
    }

    fn dump_key(&self) -> String {
        format!("parking/liberator_dump_{}.zip", self.date.format("%y%m%d"))
    }

    /// The dump, the restore's manifest and snapshot; `rows` per `<db>.<table>`.
    async fn restored(&self, rows: &[(String, u64)]) {
        self.put(&self.dump, &self.dump_key(), vec![b'z'; 2048])
            .await;
        let tables: Vec<Value> = rows
            .iter()
            .map(|(t, n)| {
                let (db, table) = t.split_once('.').unwrap();
                json!({"database": db, "table": table, "rows": n})
            })
            .collect();
        let manifest = json!({"version": 1, "snapshot_id": self.id, "import_date": self.date.to_string(),
            "created_at": format!("{}T10:14:00Z", self.date),
            "dump": {"bucket": self.dump, "key": self.dump_key(), "size": 2048, "entries": ["liberator.sql"]},
            "tables": tables});
        self.put(
            &self.dump,
            &format!("liberator-manifests/{}.json", self.id),
            manifest.to_string().into_bytes(),
        )
        .await;
        create_snapshot(&rds_client(&self.ep), &self.instance, &self.id).await;
    }

    /// The export task of the snapshot (moto completes it at once).
    async fn export_task(&self) {
        let rds = rds_client(&self.ep);
        let arn = rds
            .describe_db_snapshots()
            .db_snapshot_identifier(&self.id)
            .send()
            .await
            .unwrap()
            .db_snapshots()[0]
            .db_snapshot_arn()
            .unwrap()
            .to_string();
        start_export(&rds, &self.id, &arn, &self.exports).await;
    }

    /// The sample export in the export bucket, its `export_info` ended at 11:00 on the day;
    /// rows per `<db>.<table>`.
    async fn exported(&self) -> Vec<(String, u64)> {
        let e = engine(&self.ep, EngineConfig::default());
        let loc = Location::parse(&format!("s3://{}", self.exports)).unwrap();
        let summary = write_sample_export(e.store(), &loc, &SampleSpec::liberator(&self.id))
            .await
            .unwrap();
        let info = json!({"exportTaskIdentifier": self.id, "status": "COMPLETE", "percentProgress": 100,
            "taskStartTime": format!("{}T10:30:00Z", self.date), "taskEndTime": format!("{}T11:00:00Z", self.date)});
        self.put(
            &self.exports,
            &format!("{0}/export_info_{0}.json", self.id),
            info.to_string().into_bytes(),
        )
        .await;
        summary
            .rows
            .iter()
            .map(|(k, n)| (k.split_once('/').unwrap().1.to_string(), *n))
            .collect()
    }

    /// Lands the export with the engine, as the copier does (manifest check on).
    async fn land(&self) -> Report {
        let config = EngineConfig {
            manifests: Some(
                Location::parse(&format!("s3://{}/liberator-manifests/", self.dump)).unwrap(),
            ),
            ..EngineConfig::default()
        };
        let e = engine(&self.ep, config);
        let request = ExportRequest {
            export_id: ExportId::parse(&self.id).unwrap(),
            import_date: None,
            task: None,
            source: Location::parse(&format!("s3://{}", self.exports)).unwrap(),
            target: Location::parse(&format!("s3://{}/parking", self.landing)).unwrap(),
        };
        e.land_export(request, Arc::new(NoProgress)).await.unwrap()
    }

    /// The Glue run the copier starts, and its marker (the copier's shape) recording it.
    async fn glue_started(&self, report: &Report) -> String {
        let run_id = glue_client(&self.ep)
            .start_workflow_run()
            .name(&self.workflow)
            .run_properties("liberator_export_id", &self.id)
            .send()
            .await
            .unwrap()
            .run_id()
            .unwrap()
            .to_string();
        let now = Utc::now();
        let marker = json!({"export_id": self.id, "token": "t", "workflow": self.workflow,
            "import_date": null, "state": "started", "claimed_at": now.to_rfc3339(),
            "lease_until": (now + chrono::Duration::minutes(20)).to_rfc3339(),
            "run_id": run_id, "report": report});
        self.put(
            &self.landing,
            &format!("_liberator/glue-runs/{}.json", self.id),
            marker.to_string().into_bytes(),
        )
        .await;
        run_id
    }

    fn flags(&self) -> Vec<String> {
        [
            "--dump-bucket",
            &self.dump,
            "--export-bucket",
            &self.exports,
            "--landing-bucket",
            &self.landing,
            "--workflow",
            &self.workflow,
            "--rds-instance-id",
            &self.instance,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// `engine status --date <day> …`: the JSON it printed and its exit code.
    fn status(&self, extra: &[&str]) -> (Value, i32, Output) {
        let date = self.date.to_string();
        let mut args = vec!["status".to_string(), "--date".into(), date];
        args.extend(self.flags());
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = engine_bin(&self.ep)
            .args(&args)
            .output()
            .expect("running engine");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {err}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        (json, out.status.code().unwrap_or(-1), out)
    }

    fn settings(&self) -> Settings {
        Settings {
            dump_bucket: self.dump.clone(),
            export_bucket: self.exports.clone(),
            landing_bucket: self.landing.clone(),
            landing_prefix: "parking/".into(),
            marker_prefix: "_liberator/glue-runs/".into(),
            manifest_bucket: self.dump.clone(),
            manifest_prefix: "liberator-manifests/".into(),
            workflow: self.workflow.clone(),
            rds_instance_id: Some(self.instance.clone()),
            stuck_after: chrono::Duration::minutes(180),
            ..Settings::default()
        }
    }
}

/// moto's endpoint and credentials, nothing from the caller's AWS set-up.
fn aws_env<'a>(cmd: &'a mut Command, endpoint: &str) -> &'a mut Command {
    cmd.env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("RUST_LOG")
}

fn engine_bin(endpoint: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_engine"));
    aws_env(&mut cmd, endpoint);
    cmd
}

fn state(v: &Value, stage: &str) -> String {
    v["stages"][stage]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_day_reads_every_stage_and_exits_0_once_glue_completed() {
    let day = Day::new().await;
    let rows = day.exported().await;
    day.restored(&rows).await;
    day.export_task().await;
    let report = day.land().await;
    assert!(report.passed(), "{report}");
    let run_id = day.glue_started(&report).await;

    // moto's run stays RUNNING: every stage but Glue done, the day in progress (exit 3).
    let (v, code, _) = day.status(&["--json"]);
    assert_eq!(
        (code, v["verdict"].as_str(), v["stage"].as_str()),
        (3, Some("in_progress"), Some("glue")),
        "{v:#}"
    );
    assert_eq!(v["export_id"], json!(day.id));
    for stage in ["dump", "restore", "export", "landing"] {
        assert_eq!(state(&v, stage), "done", "{stage}: {v:#}");
    }
    let s = &v["stages"];
    assert_eq!(s["dump"]["key"], json!(day.dump_key()));
    assert_eq!(s["dump"]["size"], json!(2048));
    assert_eq!(s["restore"]["snapshot_status"], json!("available"));
    assert_eq!(s["restore"]["manifest"]["tables"], json!(5));
    assert_eq!(s["restore"]["manifest"]["rows"], json!(20_900));
    assert_eq!(s["export"]["status"], json!("complete"));
    assert_eq!(s["landing"]["copied"], json!(14));
    assert_eq!(s["landing"]["rows"], json!(20_900));
    assert_eq!(s["landing"]["completeness"], json!("passed"));
    assert_eq!(
        s["landing"]["tables"]["liberator/liberator.pcn"],
        json!(12_000)
    );
    assert_eq!(
        (s["glue"]["run_id"].as_str(), s["glue"]["status"].as_str()),
        (Some(run_id.as_str()), Some("RUNNING"))
    );
    assert!(v["next"].as_str().unwrap().contains("RUNNING"), "{v:#}");

    // The same day once Glue reports the run COMPLETED (aws-smithy-mocks: moto never
    // completes a workflow run): complete, exit 0.
    use aws_sdk_glue::operation::get_workflow_run::GetWorkflowRunOutput;
    use aws_sdk_glue::primitives::DateTime;
    use aws_sdk_glue::types::{WorkflowRun, WorkflowRunStatistics, WorkflowRunStatus};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    let (wf, rid) = (day.workflow.clone(), run_id.clone());
    let rule = mock!(aws_sdk_glue::Client::get_workflow_run)
        .match_requests(move |r| r.run_id() == Some(rid.as_str()))
        .then_output(move || {
            GetWorkflowRunOutput::builder()
                .run(
                    WorkflowRun::builder()
                        .name(&wf)
                        .workflow_run_id(&run_id)
                        .status(WorkflowRunStatus::Completed)
                        .started_on(DateTime::from_secs(1_700_000_000))
                        .completed_on(DateTime::from_secs(1_700_000_600))
                        .statistics(
                            WorkflowRunStatistics::builder()
                                .total_actions(3)
                                .succeeded_actions(3)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let clients = Clients {
        s3: s3_client(&day.ep),
        rds: rds_client(&day.ep),
        glue: mock_client!(aws_sdk_glue, RuleMode::MatchAny, [&rule]),
    };
    let status = look(
        &clients,
        &day.settings(),
        &Which::Date(day.date),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!((status.exit_code, status.stage), (0, "glue"), "{status:#?}");
    let table = liberator_cli::commands::status::render::table(&status);
    assert!(
        table.contains("COMPLETE (exit 0)") && table.contains("12,000 rows"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_stuck_at_the_export_names_the_trigger_and_exits_3() {
    let day = Day::new().await;
    let rows = [("liberator.pcn".to_string(), 12_000)];
    day.restored(&rows).await;
    // The snapshot is available (moto: at once) and no export task was started.
    let (v, code, _) = day.status(&[]);
    assert_eq!(
        (code, v["verdict"].as_str(), v["stage"].as_str()),
        (3, Some("in_progress"), Some("export")),
        "{v:#}"
    );
    assert_eq!(state(&v, "restore"), "done");
    assert_eq!(v["stages"]["restore"]["manifest"]["rows"], json!(12_000));
    for later in ["landing", "glue"] {
        assert_eq!(state(&v, later), "waiting", "{later}: {v:#}");
    }
    let next = v["next"].as_str().unwrap();
    assert!(
        next.contains("export-trigger") && next.contains(&day.id),
        "{next}"
    );

    // On a terminal: the table, no JSON (util-linux `script` gives stdout a terminal).
    let mut line = format!(
        "{} status --date {}",
        env!("CARGO_BIN_EXE_engine"),
        day.date
    );
    for f in day.flags() {
        line = format!("{line} {f}");
    }
    let mut script = Command::new("script");
    script.args(["-qec", &format!("{line} 2>/dev/null"), "/dev/null"]);
    let out = aws_env(&mut script, &day.ep)
        .output()
        .expect("script (util-linux)");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{shown}");
    assert!(
        !shown.contains('{') && shown.contains("IN PROGRESS at export (exit 3)"),
        "{shown}"
    );
    assert!(shown.contains("manifest: 1 tables, 12,000 rows"), "{shown}");

    // Overdue (the snapshot was taken longer ago than --stuck-after-minutes): failed.
    let (v, code, _) = day.status(&["--stuck-after-minutes", "0"]);
    assert_eq!(
        (code, v["verdict"].as_str(), v["stage"].as_str()),
        (1, Some("failed"), Some("export")),
        "{v:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_whose_landing_failed_names_the_copier_and_exits_1() {
    let day = Day::new().await;
    let rows = day.exported().await;
    day.restored(&rows).await;
    day.export_task().await;
    // One corrupt file: the engine (as the copier) fails it, so no marker is written.
    let bad = format!(
        "{}/liberator/liberator.vrm/1/part-00009-bad.gz.parquet",
        day.id
    );
    day.put(&day.exports, &bad, b"not parquet at all".to_vec())
        .await;
    let report = day.land().await;
    assert!(!report.passed(), "{report}");

    // The export ended at 11:00 on the day, long before now: the landing is overdue.
    let (v, code, out) = day.status(&[]);
    assert_eq!(
        (code, v["verdict"].as_str(), v["stage"].as_str()),
        (1, Some("failed"), Some("landing")),
        "{v:#}"
    );
    assert_eq!(state(&v, "export"), "done");
    assert_eq!(
        v["stages"]["export"]["ended_at"],
        json!(format!("{}T11:00:00Z", day.date))
    );
    assert_eq!(state(&v, "glue"), "waiting");
    // The corrupt file was not landed; the survey says how far the landing got.
    assert_eq!(
        v["stages"]["landing"]["notes"],
        json!([
            "so far 14 of 15 Parquet files of 5 tables are in the landing partition; short: liberator.vrm 1 of 2"
        ]),
        "{v:#}"
    );
    let next = v["next"].as_str().unwrap();
    assert!(
        next.contains("export-copier")
            && next.contains(&format!("_liberator/glue-runs/{}.json", day.id)),
        "{next}"
    );
    assert!(
        out.stderr.is_empty(),
        "JSON on stdout, nothing else: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
