//! CPU work on the copy hot path: export id parsing, key mapping, footer decoding (a real
//! Parquet tail from the sample writer), part planning.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use liberator_engine::ExportId;
use liberator_engine::copy::plan::{MIB, plan};
use liberator_engine::layout::Layout;
use liberator_engine::verify::check_footer;
use liberator_fixtures::sample::parquet_file;

const ID: &str = "sql-to-parquet-24-06-04-101500";

fn export_id(c: &mut Criterion) {
    let mut g = c.benchmark_group("export_id");
    g.bench_function("parse/snapshot", |b| {
        b.iter(|| ExportId::parse(black_box(ID)).unwrap())
    });
    g.bench_function("parse/backdated", |b| {
        b.iter(|| ExportId::parse(black_box("sql-to-parquet-2024-02-29-backdated")).unwrap())
    });
    g.bench_function("parse/invalid", |b| {
        b.iter(|| ExportId::parse(black_box("sql-to-parquet-24-02-30-101500")).is_err())
    });
    g.finish();
}

fn layout(c: &mut Criterion) {
    let id = ExportId::parse(ID).unwrap();
    let layout = Layout::new("exports", id.as_str(), "parking", id.date());
    let keys: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                "exports/{ID}/liberator/liberator.table_{:03}/{}/part-{i:05}-6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b.gz.parquet",
                i % 40,
                i % 3 + 1
            )
        })
        .collect();
    let mut g = c.benchmark_group("layout");
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("map/1000_parquet_keys", |b| {
        b.iter(|| {
            for k in &keys {
                black_box(layout.map(black_box(k)).unwrap());
            }
        })
    });
    g.finish();
    c.bench_function("layout/map/metadata_key", |b| {
        let k = format!("exports/{ID}/export_info_{ID}.json");
        b.iter(|| layout.map(black_box(&k)).unwrap())
    });
}

fn footer(c: &mut Criterion) {
    let mut g = c.benchmark_group("footer");
    for rows in [1_000usize, 20_000, 100_000] {
        // Real gzip Parquet from the sample writer; row groups of 1,000 rows, so the footer
        // grows with the row count like a real export's.
        let file = parquet_file("liberator.pcn", 1, rows);
        let size = file.len() as u64;
        // What the engine reads: the last 64 KiB (or the whole file).
        let tail = file.slice(file.len().saturating_sub(64 * 1024)..);
        g.bench_with_input(
            BenchmarkId::new("check_footer", format!("{rows}_rows")),
            &tail,
            |b, tail| b.iter(|| check_footer(black_box(tail), size).unwrap()),
        );
    }
    g.finish();
}

fn part_planning(c: &mut Criterion) {
    let mut g = c.benchmark_group("plan");
    for (name, size) in [
        ("32KiB", 32 * 1024),
        ("1GiB", 1024 * MIB),
        ("6GiB", 6 * 1024 * MIB),
        ("4TiB", 4 * 1024 * 1024 * MIB),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| plan(black_box(size), 256 * MIB, 64 * MIB).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, export_id, layout, footer, part_planning);
criterion_main!(benches);
