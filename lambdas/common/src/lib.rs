//! What the liberator Lambdas share: RDS event parsing, JSON logs, the CloudWatch Embedded
//! Metric Format recorder, environment parsing and (feature `clients`) the copier's AWS
//! clients from the one client factory.
//!
//! The two functions (export-trigger, export-copier) are thin binaries; keeping the event
//! handling here and in their libraries lets the handlers be tested against moto without
//! the Lambda runtime.
//!
//! ```
//! use liberator_lambda_common::{RdsEvent, rds_event};
//!
//! let event = serde_json::json!({"version": "0", "id": "ev-1",
//!     "detail-type": "RDS DB Snapshot Event", "source": "aws.rds", "account": "1",
//!     "time": "2024-06-04T11:02:10Z", "region": "eu-west-2", "resources": [], "detail": {
//!     "EventID": "RDS-EVENT-0161", "SourceIdentifier": "sql-to-parquet-24-06-04-101500",
//!     "SourceArn": "arn:aws:rds:eu-west-2:1:snapshot:sql-to-parquet-24-06-04-101500"}});
//! let e = RdsEvent::parse(&event).unwrap().expect(rds_event::EXPORT_COMPLETED).unwrap();
//! assert_eq!(e.source_identifier, "sql-to-parquet-24-06-04-101500");
//! ```

#[cfg(feature = "clients")]
pub mod clients;
pub mod emf;
pub mod env;
pub mod logging;
pub mod main_loop;
pub mod rds_event;

#[cfg(feature = "clients")]
pub use clients::Clients;
#[cfg(feature = "clients")]
pub use liberator_aws::{AwsOptions, ClientFactory, Endpoints};
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

    /// The metrics recorder could not be installed (another one is).
    #[error("installing the EMF metrics recorder: {reason}")]
    Metrics { reason: String },
}

impl Error {
    /// The variant's name: the `errorType` Lambda reports for a failed invocation.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NotAnEvent { .. } => "NotAnEvent",
            Error::NoDetail { .. } => "NoDetail",
            Error::MissingField { .. } => "MissingField",
            Error::WrongEventId { .. } => "WrongEventId",
            Error::Env { .. } => "Env",
            Error::Metrics { .. } => "Metrics",
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
