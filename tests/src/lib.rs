//! Test harness: real S3-compatible servers on loopback and a fault-injecting proxy.
//!
//! Servers come from the environment when `scripts/test` (or `.ci/run`) started them:
//! `LIBERATOR_MOTO_ENDPOINT`, `LIBERATOR_SEAWEED_ENDPOINT`. Without those, moto is started
//! here, once per test binary, from `LIBERATOR_MOTO_SERVER`, the tools venv
//! (`~/.cache/liberator/tools/venv/bin/moto_server`) or `PATH`. A missing server fails the
//! test with instructions; nothing is ever skipped.

pub mod aws;
pub mod checksum;
pub mod fault_landing;
pub mod lambda_watch;
pub mod landing;
pub mod mariadb;
pub mod pipeline;
pub mod proxy;
pub mod restore_day;
pub mod servers;

use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Credentials, SharedCredentialsProvider};
use liberator_engine::store::S3Store;
use liberator_engine::{AwsOptions, ClientFactory, Engine, EngineConfig};

pub use landing::assert_no_open_uploads;
pub use proxy::{FaultConfig, FaultProxy};
pub use servers::{Server, moto, seaweed};

/// This crate's folder, read at run time (cargo sets it for tests and `cargo run`), so a test
/// binary reused from another checkout does not look in that checkout.
pub fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Credentials the local servers accept.
pub const ACCESS_KEY: &str = "liberatortest";
pub const SECRET_KEY: &str = "liberatortestsecret";

/// The project's one client factory, for a local endpoint with the static credentials the
/// local servers accept (no profile, IMDS or environment lookups).
pub fn factory(endpoint: &str) -> ClientFactory {
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            ACCESS_KEY,
            SECRET_KEY,
            None,
            None,
            "liberator-tests",
        )))
        .build();
    ClientFactory::from_sdk_config(sdk, AwsOptions::default().with_endpoint(endpoint))
}

/// An S3 client for a local endpoint, from [`factory`]: path-style, SDK retries off.
pub fn s3_client(endpoint: &str) -> Client {
    factory(endpoint).s3()
}

/// A bucket name unique to this test run.
pub fn unique_bucket(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// Creates a bucket, failing the test loudly if the server refuses.
pub async fn create_bucket(client: &Client, bucket: &str) {
    client
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "creating bucket {bucket}: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            )
        });
}

/// An engine talking to `endpoint`.
pub fn engine(endpoint: &str, config: EngineConfig) -> Arc<Engine> {
    Engine::with_backend(Arc::new(S3Store::new(s3_client(endpoint))), config)
}

/// Every key under `prefix`, sorted, with sizes.
pub async fn list_all(client: &Client, bucket: &str, prefix: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.unwrap_or_else(|e| {
            panic!(
                "listing {bucket}/{prefix}: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            )
        });
        for o in page.contents() {
            out.push((o.key().unwrap().to_string(), o.size().unwrap_or(0) as u64));
        }
    }
    out.sort();
    out
}

/// Reads a whole object.
pub async fn get_bytes(client: &Client, bucket: &str, key: &str) -> bytes::Bytes {
    client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "GET {bucket}/{key}: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            )
        })
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes()
}
