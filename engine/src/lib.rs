//! The liberator copy engine: lands RDS Parquet exports in the data lake's landing zone.
//!
//! An RDS snapshot export writes `<export-id>/<db>/<db>.<table>/<batch>/part-*.parquet`.
//! The engine lists it page by page, maps each key to
//! `<prefix>/<db>/<db>.<table>/import_year=…/import_month=…/import_day=…/import_date=…/<file>`,
//! checks each file's Parquet footer with one ranged GET, copies it server-side (CopyObject,
//! or UploadPartCopy above a threshold and always above 5 GiB) under one adaptive limiter
//! with jittered retries, skips what already landed, and reports every failure by key.
//!
//! ```no_run
//! use std::sync::Arc;
//! use liberator_engine::{AwsOptions, Engine, EngineConfig, ExportId, ExportRequest, Location, NoProgress};
//!
//! # async fn example() -> liberator_engine::Result<()> {
//! let source = Location::parse("s3://rds-exports")?;
//! // TARGET_PREFIX `parking`: tables land at parking/<db>/<db.table>/import_year=…/…
//! let target = Location::parse("s3://landing-zone/parking")?;
//! let engine = Engine::connect(&source, &target, &AwsOptions::default(), EngineConfig::default()).await?;
//! let report = engine
//!     .land_export(
//!         ExportRequest {
//!             export_id: ExportId::parse("sql-to-parquet-24-06-04-101500")?,
//!             import_date: None,
//!             task: None,
//!             source,
//!             target,
//!         },
//!         Arc::new(NoProgress),
//!     )
//!     .await?;
//! assert!(report.passed(), "{report}");
//! # Ok(())
//! # }
//! ```

pub mod backfill;
pub mod batch;
pub mod completeness;
pub mod copy;
pub mod error;
pub mod export_id;
pub mod layout;
pub mod limiter;
pub mod location;
pub mod metrics;
pub mod report;
pub mod retry;
pub mod run;
pub mod schema;
pub mod stats;
pub mod store;
pub mod verify;

pub use error::{Error, Result};
pub use export_id::ExportId;
pub use liberator_aws::{AwsOptions, ClientFactory};
pub use limiter::{Limiter, LimiterConfig};
pub use location::Location;
pub use report::{Failure, Report};
pub use retry::RetryConfig;
pub use run::{
    Engine, EngineConfig, ExportHandle, ExportProgress, ExportRequest, FailurePolicy, NoProgress,
    ObjectOutcome, Shutdown, Stopper,
};
pub use store::{ObjectStore, Store, WriteOptions};
