//! One module per command; each holds its arguments and a `run`.

pub mod backfill;
pub mod batch;
pub mod copy;
pub mod demo;
pub mod export_local;
pub mod sample;
pub mod status;
pub mod verify;
