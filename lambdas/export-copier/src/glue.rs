//! Starting the Glue workflow exactly once per export: claim the marker with a conditional
//! write, start the run tagged with the export id, record the run id; a re-delivery finds
//! the marker (or the run) and answers without starting another.

use liberator_engine::{ExportId, Report};

use crate::marker::{Marker, MarkerState, RUN_PROPERTY_EXPORT_ID};
use crate::marker_store::{MarkerStore, PutOutcome};
use crate::{Answer, Error};

/// Pages of `GetWorkflowRuns` searched for a run carrying the export id: the run was
/// started moments after the claim, so the newest few pages are enough.
const RUN_SEARCH_PAGES: usize = 5;

/// The workflows an export may start and the markers guarding them.
#[derive(Debug, Clone)]
pub struct GlueStart {
    glue: aws_sdk_glue::Client,
    markers: MarkerStore,
    workflow_name: String,
    backdated_workflow_name: Option<String>,
}

impl GlueStart {
    pub fn new(
        glue: aws_sdk_glue::Client,
        markers: MarkerStore,
        workflow_name: String,
        backdated_workflow_name: Option<String>,
    ) -> Self {
        GlueStart {
            glue,
            markers,
            workflow_name,
            backdated_workflow_name,
        }
    }

    /// The marker store.
    pub fn markers(&self) -> &MarkerStore {
        &self.markers
    }

    /// For a re-delivered event: the answer when a start was already claimed (and not
    /// released) for `id`, so nothing is copied again; `None` to go on.
    pub async fn already_claimed(&self, id: &str) -> Result<Option<Answer>, Error> {
        match self.markers.read(id).await? {
            Some(stored) if stored.marker.state != MarkerState::Released => {
                self.resolve_existing(id, stored.marker).await.map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Which workflow an export starts, and the `import_date` it sets (backdated only).
    fn workflow_for(&self, export_id: &ExportId) -> Result<(String, Option<String>), Error> {
        if export_id.is_backdated() {
            let wf =
                self.backdated_workflow_name
                    .clone()
                    .ok_or_else(|| Error::NoBackdatedWorkflow {
                        export_id: export_id.to_string(),
                    })?;
            Ok((wf, Some(export_id.date().format("%Y%m%d").to_string())))
        } else {
            Ok((self.workflow_name.clone(), None))
        }
    }

    /// Claims the marker, starts the workflow, records the run id. Only the invocation
    /// whose conditional write succeeds starts a run.
    pub async fn start_once(&self, export_id: &ExportId, report: &Report) -> Result<Answer, Error> {
        let id = export_id.as_str();
        let (workflow, import_date) = self.workflow_for(export_id)?;
        let mut marker = Marker {
            export_id: id.into(),
            workflow: workflow.clone(),
            import_date: import_date.clone(),
            state: MarkerState::Claimed,
            claimed_at: chrono::Utc::now().to_rfc3339(),
            run_id: None,
            report: Some(report.clone()),
        };
        if let Some(existing) = self.claim(&marker).await? {
            tracing::info!("another invocation claimed the workflow start first");
            return self.resolve_existing(id, existing).await;
        }
        let run_id = match self
            .start_workflow(id, &workflow, import_date.as_deref())
            .await
        {
            Ok(run_id) => run_id,
            Err(e) => {
                // Release the claim (a rewrite, not a delete: the marker prefix needs no
                // DeleteObject) so that the retry Lambda makes can claim it again.
                marker.state = MarkerState::Released;
                if let Err(w) = self.markers.write(&marker).await {
                    tracing::error!(
                        error = %w,
                        "could not release the marker after Glue failed: delete it by hand before re-sending the event"
                    );
                }
                return Err(e);
            }
        };
        tracing::info!(workflow, run_id, import_date = ?import_date, "Glue workflow run started");
        marker.state = MarkerState::Started;
        marker.run_id = Some(run_id.clone());
        if let Err(e) = self.markers.write(&marker).await {
            // The claim stays, so no second run can start; a re-delivery finds the run by
            // its run property.
            tracing::error!(error = %e, "workflow started but the marker could not record its run id");
        }
        Ok(Answer::GlueStarted {
            export_id: id.into(),
            workflow,
            run_id,
            copied: report.copied,
            skipped: report.skipped,
        })
    }

    /// Claims the start: creates the marker (`If-None-Match: *`), or takes over a released
    /// one (`If-Match` on the ETag read). `Ok(None)` when the claim is ours; otherwise the
    /// marker that beat us.
    async fn claim(&self, marker: &Marker) -> Result<Option<Marker>, Error> {
        let id = marker.export_id.as_str();
        if let PutOutcome::Written { .. } = self.markers.claim(marker).await? {
            return Ok(None);
        }
        let existing = self.markers.read(id).await?.ok_or_else(|| {
            self.markers
                .error(id, "conditional write refused but no marker found")
        })?;
        if existing.marker.state != MarkerState::Released {
            return Ok(Some(existing.marker));
        }
        match self
            .markers
            .replace_if_match(marker, &existing.etag)
            .await?
        {
            PutOutcome::Written { .. } => Ok(None),
            PutOutcome::PreconditionFailed => {
                let now = self.markers.read(id).await?.ok_or_else(|| {
                    self.markers
                        .error(id, "released marker vanished while being claimed")
                })?;
                Ok(Some(now.marker))
            }
        }
    }

    /// UpdateWorkflow (backdated only), then StartWorkflowRun tagged with the export id.
    async fn start_workflow(
        &self,
        id: &str,
        workflow: &str,
        import_date: Option<&str>,
    ) -> Result<String, Error> {
        let glue_err = |op, detail: String| Error::Glue {
            export_id: id.into(),
            op,
            workflow: workflow.into(),
            detail,
        };
        if let Some(date) = import_date {
            self.glue
                .update_workflow()
                .name(workflow)
                .default_run_properties("import_date", date)
                .send()
                .await
                .map_err(|e| {
                    glue_err(
                        "UpdateWorkflow",
                        aws_sdk_glue::error::DisplayErrorContext(&e).to_string(),
                    )
                })?;
        }
        let mut start = self
            .glue
            .start_workflow_run()
            .name(workflow)
            .run_properties(RUN_PROPERTY_EXPORT_ID, id);
        if let Some(date) = import_date {
            start = start.run_properties("import_date", date);
        }
        let out = start.send().await.map_err(|e| {
            glue_err(
                "StartWorkflowRun",
                aws_sdk_glue::error::DisplayErrorContext(&e).to_string(),
            )
        })?;
        out.run_id()
            .map(str::to_string)
            .ok_or_else(|| glue_err("StartWorkflowRun", "answer carries no RunId".into()))
    }

    /// A marker exists: the run was started (answer with it), or its start is in doubt
    /// (look for a run carrying the export id; never start a second one).
    async fn resolve_existing(&self, id: &str, mut existing: Marker) -> Result<Answer, Error> {
        if let Some(run_id) = existing.run_id.clone() {
            tracing::info!(
                workflow = existing.workflow,
                run_id,
                "workflow run already started for this export: nothing to do"
            );
            return Ok(Answer::AlreadyStarted {
                export_id: id.into(),
                workflow: existing.workflow,
                run_id,
            });
        }
        if let Some(run_id) = self.find_run(id, &existing.workflow).await? {
            tracing::info!(
                workflow = existing.workflow,
                run_id,
                "found the run of an unfinished marker; recording it"
            );
            existing.state = MarkerState::Started;
            existing.run_id = Some(run_id.clone());
            if let Err(e) = self.markers.write(&existing).await {
                tracing::warn!(error = %e, "could not record the run id in the marker");
            }
            return Ok(Answer::AlreadyStarted {
                export_id: id.into(),
                workflow: existing.workflow,
                run_id,
            });
        }
        Err(Error::MarkerWithoutRun {
            export_id: id.into(),
            bucket: self.markers.bucket().to_string(),
            key: self.markers.key(id),
            workflow: existing.workflow,
            claimed_at: existing.claimed_at,
        })
    }

    /// A run of `workflow` whose run properties carry `id`.
    async fn find_run(&self, id: &str, workflow: &str) -> Result<Option<String>, Error> {
        let mut token: Option<String> = None;
        for _ in 0..RUN_SEARCH_PAGES {
            let out = self
                .glue
                .get_workflow_runs()
                .name(workflow)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| Error::Glue {
                    export_id: id.into(),
                    op: "GetWorkflowRuns",
                    workflow: workflow.into(),
                    detail: aws_sdk_glue::error::DisplayErrorContext(&e).to_string(),
                })?;
            for run in out.runs() {
                let carries = run
                    .workflow_run_properties()
                    .and_then(|p| p.get(RUN_PROPERTY_EXPORT_ID))
                    .is_some_and(|v| v == id);
                if carries && let Some(run_id) = run.workflow_run_id() {
                    return Ok(Some(run_id.to_string()));
                }
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        Ok(None)
    }
}
