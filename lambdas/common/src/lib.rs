//! What the liberator Lambdas share: RDS event parsing, JSON logs, CloudWatch Embedded
//! Metric Format, environment parsing and AWS client construction.
//!
//! The two functions (export-trigger, export-copier) are thin binaries; keeping the event
//! handling here and in their libraries lets the handlers be tested against moto without
//! the Lambda runtime.

pub mod clients;
pub mod emf;
pub mod env;
pub mod logging;
pub mod rds_event;

pub use clients::{Clients, Endpoints};
pub use rds_event::RdsEvent;

/// Everything that can go wrong in the shared code; each variant names the event or
/// variable it concerns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The payload is not an EventBridge event at all (bad JSON shape).
    #[error("event {event_id}: not an EventBridge RDS event: {reason}")]
    NotAnEvent { event_id: String, reason: String },

    /// The EventBridge event has no `detail` object.
    #[error("event {event_id}: no `detail` object (expected an EventBridge RDS event)")]
    NoDetail { event_id: String },

    /// A required field of the event's `detail` is missing.
    #[error("event {event_id}: `detail.{field}` is missing")]
    MissingField {
        event_id: String,
        field: &'static str,
    },

    /// The event is an RDS event, but not the one this function handles.
    #[error(
        "event {event_id} for {source_identifier:?}: EventID is {got:?}, expected {expected:?}"
    )]
    WrongEventId {
        event_id: String,
        source_identifier: String,
        got: String,
        expected: &'static str,
    },

    /// An environment variable is missing or does not parse.
    #[error("environment variable {name}: {reason}")]
    Env { name: &'static str, reason: String },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
