//! Starting the Glue workflow exactly once per export, however replies are lost and
//! invocations die or race (DESIGN.md, "Exactly-once Glue start"):
//!
//! 1. Claim: create the marker with `If-None-Match: *`, carrying a token of its own and a
//!    lease ([`Marker::claim`]).
//! 2. Refused (412): read the marker. Our token: the claim is ours (our write landed, its
//!    reply was lost). `started`: answer "already started". `claimed` and leased: another
//!    invocation is starting the run; re-read it for up to the claim wait
//!    and answer with its run, or fail with the retryable `StartInProgress`. `claimed` and
//!    expired, or `released`: a run carrying the export id (run property
//!    `liberator_export_id`) is recorded if there is one; otherwise the claim is taken over
//!    with `If-Match` on the ETag read, with a new token.
//! 3. `StartWorkflowRun` tagged with the export id (never retried blindly, see
//!    `workflow.rs`), then the marker is rewritten `started` with the run id
//!    (`If-Match`).
//! 4. Glue refused: the marker is rewritten `released` (`If-Match`) and the invocation fails,
//!    so the event is retried.
//!
//! A lease longer than Lambda's 15-minute limit means an expired claim's invocation has
//! ended; the holder also never starts a run once less than a quarter of its lease is
//! left, so no take-over can race its start.

use std::time::{Duration, Instant};

use chrono::Utc;
use liberator_engine::{ExportId, Report};

use crate::marker::{Marker, MarkerState};
use crate::marker_store::{MarkerStore, PutOutcome, StoredMarker};
use crate::workflow::{self, Start, Starter};
use crate::{DEFAULT_CLAIM_LEASE, DEFAULT_CLAIM_WAIT, Error, Outcome};

/// How often a live claim of another invocation is re-read while waiting for its run.
const POLL: Duration = Duration::from_millis(200);
/// Conditional writes one settlement may lose before it gives up (each loss means another
/// invocation moved the marker on; a handful is already unusual).
const MAX_LOST_WRITES: u32 = 16;

/// The workflows an export may start and the markers guarding them.
#[derive(Debug, Clone)]
pub struct GlueStart {
    glue: aws_sdk_glue::Client,
    markers: MarkerStore,
    workflow_name: String,
    backdated_workflow_name: Option<String>,
    lease: Duration,
    wait: Duration,
}

/// Where the marker leaves a delivery.
enum Settled {
    /// A run was started for the export: the answer.
    Outcome(Outcome),
    /// The claim is ours; the ETag of its version.
    Ours(String),
    /// No marker, or one that may be taken over (pre-check only).
    Free,
}

/// What a marker written by someone else says.
enum Seen {
    Outcome(Outcome),
    /// May be taken over with `If-Match` on the version read.
    Free,
    /// A live claim: wait for its run.
    Wait,
}

impl GlueStart {
    /// Claims leased for [`DEFAULT_CLAIM_LEASE`], waits of [`DEFAULT_CLAIM_WAIT`].
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
            lease: DEFAULT_CLAIM_LEASE,
            wait: DEFAULT_CLAIM_WAIT,
        }
    }

    /// Claims leased for `lease`; a live claim of another invocation waited on for `wait`.
    pub fn with_claim_timing(mut self, lease: Duration, wait: Duration) -> Self {
        self.lease = lease;
        self.wait = wait;
        self
    }

    /// The marker store.
    pub fn markers(&self) -> &MarkerStore {
        &self.markers
    }

    /// For a re-delivered event, before copying: the answer when a run was already started
    /// for `id` (waiting for a live claim's run), so nothing is copied again; `None` to go
    /// on; `StartInProgress` when a live claim has not recorded a run within the wait.
    pub async fn already_claimed(&self, id: &str) -> Result<Option<Outcome>, Error> {
        match self.settle(id, None).await? {
            Settled::Outcome(answer) => Ok(Some(answer)),
            Settled::Free | Settled::Ours(_) => Ok(None),
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
    /// holding the claim starts a run, and only while its lease covers the start.
    pub async fn start_once(
        &self,
        export_id: &ExportId,
        report: &Report,
    ) -> Result<Outcome, Error> {
        let id = export_id.as_str();
        let (workflow, import_date) = self.workflow_for(export_id)?;
        let mut claim = Marker::claim(id, &workflow, import_date.clone(), Utc::now(), self.lease);
        claim.report = Some(report.clone());
        let etag = match self.settle(id, Some(&claim)).await? {
            Settled::Outcome(answer) => return Ok(answer),
            Settled::Ours(etag) => etag,
            Settled::Free => unreachable!("a claiming settlement ends ours or answered"),
        };
        tracing::info!(token = claim.token, "claimed the workflow start");

        let lease_end = claim.lease_end(self.lease);
        let margin = chrono::Duration::from_std(self.lease / 4).unwrap_or_default();
        let may_start = || {
            match lease_end {
            Some(end) if Utc::now() + margin < end => Ok(()),
            _ => Err(self.markers.error(
                id,
                "the claim's lease is nearly over: not starting a run (a later delivery takes the claim over)",
            )),
        }
        };
        let starter = Starter {
            glue: &self.glue,
            export_id: id,
            workflow: &workflow,
            import_date: import_date.as_deref(),
        };
        match starter.start(may_start).await {
            Start::Run(run_id) => {
                tracing::info!(workflow, run_id, import_date = ?import_date, "Glue workflow run started");
                let mut started = claim;
                started.state = MarkerState::Started;
                started.run_id = Some(run_id.clone());
                if let Err(e) = self.step(&started, &etag).await {
                    // The claim stays: a re-delivery finds the run by its run property.
                    tracing::error!(error = %e, "workflow started but the marker could not record its run id");
                }
                Ok(Outcome::Started {
                    export_id: id.into(),
                    workflow,
                    run_id,
                })
            }
            Start::NotStarted(e) => {
                // A rewrite, not a delete (the marker prefix needs no DeleteObject), so the
                // retry Lambda makes takes it over at once.
                let mut released = claim;
                released.state = MarkerState::Released;
                if let Err(w) = self.step(&released, &etag).await {
                    tracing::error!(error = %w, "could not release the claim; it is taken over when its lease ends");
                }
                Err(e)
            }
            Start::InDoubt(e) => {
                tracing::error!(
                    error = %e,
                    "the start is in doubt: the claim is kept; a later delivery finds the run or takes the claim over when its lease ends"
                );
                Err(e)
            }
        }
    }

    /// Rewrites our own marker with `If-Match` on `etag`. A refusal whose marker reads back
    /// as this very step is our write whose reply was lost. The new ETag.
    async fn step(&self, marker: &Marker, etag: &str) -> Result<String, Error> {
        let id = marker.export_id.as_str();
        if let PutOutcome::Written { etag: Some(new) } =
            self.markers.replace_if_match(marker, etag).await?
        {
            return Ok(new);
        }
        match self.markers.read(id).await? {
            Some(now) if now.marker.same_step(marker) => Ok(now.etag),
            Some(now) => Err(self.markers.error(
                id,
                format!(
                    "changed under our claim: now {:?}, token {:?}",
                    now.marker.state, now.marker.token
                ),
            )),
            None => Err(self.markers.error(id, "vanished under our claim")),
        }
    }

    /// Drives the marker until this delivery knows where it stands. With `claim`, it
    /// claims (creating, or taking over with `If-Match`); without, it only looks (the
    /// pre-check before copying).
    async fn settle(&self, id: &str, claim: Option<&Marker>) -> Result<Settled, Error> {
        let deadline = Instant::now() + self.wait;
        let mut outcome = match claim {
            Some(c) => Some(self.markers.claim(c).await?),
            None => None,
        };
        let mut lost = 0;
        loop {
            if let Some(PutOutcome::Written { etag: Some(etag) }) = outcome {
                return Ok(Settled::Ours(etag));
            }
            if matches!(outcome, Some(PutOutcome::PreconditionFailed)) {
                lost += 1;
                if lost > MAX_LOST_WRITES {
                    return Err(self
                        .markers
                        .error(id, "the marker kept changing under our claim"));
                }
            }
            let Some(stored) = self.markers.read(id).await? else {
                match claim {
                    None => return Ok(Settled::Free),
                    Some(c) => {
                        outcome = Some(self.markers.claim(c).await?);
                        continue;
                    }
                }
            };
            if let Some(c) = claim
                && c.token.is_some()
                && stored.marker.token == c.token
            {
                tracing::info!(
                    "the marker carries our token: our claim landed, its reply was lost"
                );
                return Ok(Settled::Ours(stored.etag));
            }
            match self.examine(id, &stored, deadline).await? {
                Seen::Outcome(answer) => return Ok(Settled::Outcome(answer)),
                Seen::Free => match claim {
                    None => return Ok(Settled::Free),
                    Some(c) => {
                        tracing::info!(
                            state = ?stored.marker.state,
                            claimed_at = stored.marker.claimed_at,
                            "taking over a released or expired claim"
                        );
                        outcome = Some(self.markers.replace_if_match(c, &stored.etag).await?);
                    }
                },
                Seen::Wait => {
                    tokio::time::sleep(POLL).await;
                    outcome = None;
                }
            }
        }
    }

    /// Someone else's marker: a run to answer with, a claim to wait for, or one to take
    /// over.
    async fn examine(
        &self,
        id: &str,
        stored: &StoredMarker,
        deadline: Instant,
    ) -> Result<Seen, Error> {
        let m = &stored.marker;
        if m.state == MarkerState::Started
            && let Some(run_id) = &m.run_id
        {
            tracing::info!(
                workflow = m.workflow,
                run_id,
                "workflow run already started for this export: nothing to do"
            );
            return Ok(Seen::Outcome(already(id, &m.workflow, run_id)));
        }
        let live = m.state == MarkerState::Claimed && m.leased_at(Utc::now(), self.lease);
        if live && Instant::now() < deadline {
            return Ok(Seen::Wait);
        }
        // An expired claim, a released one (or a live one we waited on long enough: its
        // holder may have started the run and failed to record it).
        if let Some(run_id) = workflow::find_run(&self.glue, id, &m.workflow).await? {
            self.record(stored, &run_id).await;
            return Ok(Seen::Outcome(already(id, &m.workflow, &run_id)));
        }
        if !live {
            return Ok(Seen::Free);
        }
        Err(Error::StartInProgress {
            export_id: id.into(),
            marker: format!("s3://{}/{}", self.markers.bucket(), self.markers.key(id)),
            workflow: m.workflow.clone(),
            claimed_at: m.claimed_at.clone(),
            lease_until: m
                .lease_end(self.lease)
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "(unreadable)".into()),
        })
    }

    /// Records a run found for someone else's marker (`If-Match`; best effort: losing the
    /// race means another invocation moved the marker on).
    async fn record(&self, stored: &StoredMarker, run_id: &str) {
        tracing::info!(
            workflow = stored.marker.workflow,
            run_id,
            "found the run of an unfinished marker; recording it"
        );
        let mut m = stored.marker.clone();
        m.state = MarkerState::Started;
        m.run_id = Some(run_id.into());
        match self.markers.replace_if_match(&m, &stored.etag).await {
            Ok(PutOutcome::Written { .. }) => {}
            Ok(PutOutcome::PreconditionFailed) => {
                tracing::info!("the marker moved on while recording the run found")
            }
            Err(e) => tracing::warn!(error = %e, "could not record the run id in the marker"),
        }
    }
}

fn already(id: &str, workflow: &str, run_id: &str) -> Outcome {
    Outcome::AlreadyStarted {
        export_id: id.into(),
        workflow: workflow.into(),
        run_id: run_id.into(),
    }
}
