//! SIGTERM and SIGINT for `engine copy` and `engine backfill`. ECS stops a task with
//! SIGTERM and sends SIGKILL `stopTimeout` later (30 s by default); an operator presses
//! Ctrl-C (SIGINT). The library knows nothing of signals: this module turns them into
//! calls on the [`Shutdown`] the command hands to the engine.
//!
//! - First signal: no new object or export starts; copies in flight get `--stop-grace`
//!   seconds to finish, then they are cancelled and every multipart upload the run opened
//!   and did not complete is aborted. The report is written with `complete: false`, the
//!   count of objects not landed and the signal's name; the exit status is 128 + the
//!   signal's number (SIGINT 130, SIGTERM 143).
//! - Second signal: the copies in flight are cancelled at once (no more waiting); their
//!   uploads are still aborted and the report still written, which takes one request per
//!   open upload.
//! - Third signal: the process exits at once with the same status. Only then can an
//!   upload be left open; the next run of the same export aborts it before landing that
//!   key (and a bucket lifecycle rule for incomplete uploads is the backstop).
//!
//! ECS's stop sequence: <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopTask.html>

use std::fmt;
use std::time::Duration;

use liberator_engine::{Report, Shutdown};
use liberator_telemetry::errln;

/// Default `--stop-grace`: ECS sends SIGKILL 30 s after SIGTERM (the container's default
/// `stopTimeout`), which leaves 10 s to abort uploads and write the report.
pub const DEFAULT_STOP_GRACE_SECS: u64 = 20;

/// The conventional exit status after a signal: 128 + its number.
pub fn exit_code(signal: &str) -> u8 {
    match signal {
        "SIGINT" => 130,
        "SIGTERM" => 143,
        _ => 1,
    }
}

/// A run a signal stopped: [`crate::run`] prints it and exits with [`exit_code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    pub signal: String,
    /// Listed objects not landed, over every export.
    pub not_landed: u64,
    /// Exports (of a backfill) never started.
    pub not_started: usize,
}

impl Stopped {
    pub fn exit_code(&self) -> u8 {
        exit_code(&self.signal)
    }
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stopped by {}: {} listed object(s) not landed",
            self.signal, self.not_landed
        )?;
        if self.not_started > 0 {
            write!(f, ", {} export(s) not started", self.not_started)?;
        }
        write!(
            f,
            "; the report says complete: false; run the same command again to land the rest"
        )
    }
}

impl std::error::Error for Stopped {}

/// A [`Shutdown`] driven by SIGTERM and SIGINT, as the module docs describe. The handlers
/// are installed now, so from here on those signals no longer end the process by
/// themselves.
pub fn on_signals(grace: Duration) -> std::io::Result<Shutdown> {
    use tokio::signal::unix::{SignalKind, signal};
    let shutdown = Shutdown::new();
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let s = shutdown.clone();
    tokio::spawn(async move {
        let mut received = 0;
        loop {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            received += 1;
            let first = s.reason().unwrap_or(name).to_string();
            match received {
                1 => {
                    errln!(
                        "engine: {name} received: starting nothing new; copies in flight have {}s to finish, then they are cancelled and their multipart uploads aborted (send it again to cancel them now)",
                        grace.as_secs()
                    );
                    s.drain(name);
                    let s = s.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(grace).await;
                        if !s.is_cancelled() {
                            errln!(
                                "engine: stop grace of {}s over: cancelling the copies in flight and aborting their multipart uploads",
                                grace.as_secs()
                            );
                            s.cancel(name);
                        }
                    });
                }
                2 => {
                    errln!(
                        "engine: {name} again: cancelling the copies in flight now and aborting their multipart uploads (a third signal exits at once)"
                    );
                    s.cancel(name);
                }
                _ => {
                    errln!(
                        "engine: {name} a third time: exiting now; multipart uploads still open are aborted by the next run of this command"
                    );
                    std::process::exit(exit_code(&first).into());
                }
            }
        }
    });
    Ok(shutdown)
}

/// `Err(Stopped)` when a signal stopped the run that made `reports` (whether or not it
/// got everything landed before it stopped): a stopped run never exits 0.
pub fn check(shutdown: &Shutdown, reports: &[Report]) -> Result<(), Stopped> {
    let Some(signal) = shutdown.reason() else {
        return Ok(());
    };
    Err(Stopped {
        signal: signal.to_string(),
        not_landed: reports.iter().map(|r| r.not_landed).sum(),
        not_started: reports
            .iter()
            .filter(|r| r.listed == 0 && r.stopped.is_some())
            .count(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_run_names_the_signal_and_what_is_left() {
        let shutdown = Shutdown::new();
        assert_eq!(check(&shutdown, &[]), Ok(()));
        shutdown.drain("SIGTERM");
        let reports = [
            Report {
                listed: 10,
                not_landed: 4,
                stopped: Some("stopped by SIGTERM".into()),
                ..Report::default()
            },
            Report {
                stopped: Some("not started".into()),
                ..Report::default()
            },
        ];
        let stopped = check(&shutdown, &reports).unwrap_err();
        assert_eq!((stopped.not_landed, stopped.not_started), (4, 1));
        assert_eq!(stopped.exit_code(), 143);
        assert_eq!(exit_code("SIGINT"), 130);
        assert!(stopped.to_string().starts_with(
            "stopped by SIGTERM: 4 listed object(s) not landed, 1 export(s) not started"
        ));
    }
}
