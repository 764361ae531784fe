//! One export of small and multipart objects, landed through the fault proxy and checked:
//! the shared body of the "nothing lost" tests (`tests/faults.rs`) and the reliability table
//! (`tests/reliability.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use liberator_engine::store::S3Store;
use liberator_engine::{
    AwsOptions, Engine, EngineConfig, ExportId, ExportRequest, Location, NoProgress, Report,
    RetryConfig,
};
use liberator_fixtures::sample::SampleSpec;

use crate::landing::{Tally, expected_targets, objects, open_uploads, tally, write_mixed_export};
use crate::proxy::{FaultConfig, FaultProxy, ProxyStats};
use crate::{aws, create_bucket, engine, s3_client, unique_bucket};

/// Where every test's objects land inside its target bucket.
pub const TARGET_PREFIX: &str = "parking";
/// S3's smallest part (and so the smallest multipart threshold worth testing).
pub const MIB5: u64 = 5 * 1024 * 1024;

/// A source export in its own bucket on one server.
pub struct MixedExport {
    pub endpoint: String,
    pub client: Client,
    pub export_id: String,
    pub src: String,
    /// Every source object: key → (size, ETag).
    pub source: BTreeMap<String, (u64, String)>,
    /// Target key → source size, for each Parquet object.
    pub expected: BTreeMap<String, u64>,
}

/// What one landing did.
pub struct Landing {
    pub dst: String,
    pub report: Report,
    /// Target key → (size, ETag).
    pub landed: BTreeMap<String, (u64, String)>,
    pub tally: Tally,
    pub open_uploads: Vec<(String, String)>,
}

impl MixedExport {
    /// `tables` tables of `files` small objects each (one batch, 10 rows), plus one
    /// uncompressible Parquet file of each size in `big` (MiB, ≥ 6 so they go multipart at
    /// [`config`]'s 5 MiB threshold), written to a new bucket on `endpoint`.
    pub async fn write(
        endpoint: &str,
        export_id: &str,
        tables: usize,
        files: usize,
        big_mib: &[usize],
    ) -> Self {
        let client = s3_client(endpoint);
        let src = unique_bucket("faults-src");
        create_bucket(&client, &src).await;
        let e = engine(endpoint, EngineConfig::default());
        let spec = SampleSpec::uniform(export_id, tables, 1, files, 10);
        let big: Vec<usize> = big_mib.iter().map(|m| m * 1024 * 1024 + 4321).collect();
        let location = Location::parse(&format!("s3://{src}")).unwrap();
        let source = write_mixed_export(e.store(), &client, &location, &spec, &big).await;
        let expected = expected_targets(export_id, TARGET_PREFIX, &source);
        assert_eq!(expected.len(), tables * files + big.len());
        MixedExport {
            endpoint: endpoint.to_string(),
            client,
            export_id: export_id.to_string(),
            src,
            source,
            expected,
        }
    }

    /// Objects that go multipart under [`config`].
    pub fn multipart_objects(&self) -> usize {
        self.expected.values().filter(|s| **s > MIB5).count()
    }

    /// Lands the export into a new bucket through `via` (the server itself or a proxy in
    /// front of it), with an S3 client built by the project's factory under `options`
    /// (timeouts), and checks the landing.
    pub async fn land(&self, via: &str, options: AwsOptions, config: EngineConfig) -> Landing {
        let dst = unique_bucket("faults-dst");
        create_bucket(&self.client, &dst).await;
        let s3 = aws::factory(options.with_endpoint(via)).s3();
        let engine = Engine::with_backend(Arc::new(S3Store::new(s3)), config);
        let request = ExportRequest {
            export_id: ExportId::parse(&self.export_id).unwrap(),
            import_date: None,
            task: None,
            source: Location::parse(&format!("s3://{}", self.src)).unwrap(),
            target: Location::parse(&format!("s3://{dst}/{TARGET_PREFIX}")).unwrap(),
        };
        let report = engine
            .land_export(request, Arc::new(NoProgress))
            .await
            .unwrap_or_else(|e| panic!("landing {} into {dst}: {e}", self.export_id));
        self.check(dst, report).await
    }

    /// Lands through a new proxy under `faults`; the landing and the proxy's stats.
    pub async fn land_through(
        &self,
        faults: FaultConfig,
        options: AwsOptions,
        config: EngineConfig,
    ) -> (Landing, Arc<ProxyStats>) {
        let proxy = FaultProxy::start(&self.endpoint, faults).await;
        let landing = self.land(&proxy.endpoint, options, config).await;
        (landing, proxy.stats.clone())
    }

    /// Reads the landing back straight from the server (no proxy).
    pub async fn check(&self, dst: String, report: Report) -> Landing {
        // The data only: the kept report under `_liberator/` differs from run to run (its
        // retry counts and times).
        let mut landed = objects(&self.client, &dst, "").await;
        landed.retain(|k, _| !k.starts_with(crate::landing::BOOKKEEPING_PREFIX));
        Landing {
            tally: tally(&self.expected, &landed),
            open_uploads: open_uploads(&self.client, &dst).await,
            dst,
            report,
            landed,
        }
    }
}

/// Engine settings for these tests: the 5 MiB S3 minimum as multipart threshold and part
/// size (so a 6–12 MiB object copies in 2–3 parts), footer checks on, and retries patient
/// and quick (faults at 10–20 % on every operation need more than the default 10 attempts
/// now and then; short backoffs keep the tests to seconds).
pub fn config() -> EngineConfig {
    EngineConfig {
        multipart_threshold: MIB5,
        part_size: MIB5,
        retry: RetryConfig {
            max_attempts: 16,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(300),
            ..RetryConfig::default()
        },
        ..EngineConfig::default()
    }
}

/// Client timeouts short enough that a [`crate::proxy::Kind::Stall`] of `stall` outlasts
/// an attempt: attempts and reads end after `stall / 2`.
pub fn options_for_stall(stall: Duration) -> AwsOptions {
    AwsOptions {
        read_timeout: stall / 2,
        attempt_timeout: stall / 2,
        operation_timeout: stall * 4,
        ..AwsOptions::default()
    }
}
