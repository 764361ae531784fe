//! Client CPU per stage of a restore, without a server: how many CPU-seconds per GB of SQL
//! inflating the zip, splitting statements and converting INSERTs to
//! `LOAD DATA` rows cost on one core. The benchmark (benches/restore/) uses these figures
//! to decide whether client CPU can limit a load (and so whether a stage is worth spreading
//! over cores).
//!
//! ```sh
//! cargo run --release -p liberator-restore --example stage_cpu -- dump.zip
//! ```
//!
//! Each stage runs alone over data the previous stage left in memory, on one thread, and is
//! timed by the process's CPU time (user + system, `getrusage`), so other load on the
//! machine does not inflate the figures.

use std::sync::Arc;

use liberator_restore::sql::Splitter;
use liberator_restore::zip::{EntryReader, LocalFile, ZipLimits, read_entries, sql_entries};

fn cpu_seconds() -> f64 {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given.
    let u = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr());
        u.assume_init()
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: stage_cpu DUMP.zip")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let src = LocalFile { path: path.into() };

    // 1. Inflate (and CRC) every .sql entry, as the producer does.
    let c0 = cpu_seconds();
    let chunks: Vec<Vec<u8>> = rt.block_on(async {
        let entries = read_entries(&src).await?;
        let mut out = Vec::new();
        let limits = ZipLimits::default();
        for e in sql_entries(&entries) {
            let mut r = EntryReader::open(&src, &e, &limits, limits.max_total_bytes).await?;
            while let Some(c) = r.next_chunk().await? {
                out.push(c);
            }
        }
        Ok::<_, liberator_restore::RestoreError>(out)
    })?;
    let inflate = cpu_seconds() - c0;
    let bytes: usize = chunks.iter().map(Vec::len).sum();
    let gb = bytes as f64 / 1e9;

    // 2. Split into statements.
    let c0 = cpu_seconds();
    let mut splitter = Splitter::new();
    let mut stmts = Vec::new();
    for c in &chunks {
        splitter.push(c);
        while let Some(s) = splitter.next_statement() {
            stmts.push(s);
        }
    }
    splitter.finish();
    while let Some(s) = splitter.next_statement() {
        stmts.push(s);
    }
    let split = cpu_seconds() - c0;
    drop(chunks);

    // The INSERTs (the loader's classification reads 40 tokens and a 4 KiB tail of each:
    // negligible next to the stages measured here).
    let inserts: Vec<Arc<[u8]>> = stmts
        .iter()
        .filter(|s| s.sql.starts_with(b"INSERT"))
        .map(|s| Arc::from(s.sql.as_slice()))
        .collect();
    drop(stmts);

    // 3. Convert every INSERT to LOAD DATA rows, and count the rows (the worker's check).
    let c0 = cpu_seconds();
    let mut converted = 0usize;
    let mut rows = 0usize;
    let mut row_bytes = 0usize;
    for sql in &inserts {
        if let Some(c) = liberator_restore::infile::convert(sql) {
            converted += 1;
            rows += memchr::memchr_iter(b'\n', &c.rows).count();
            row_bytes += c.rows.len();
        }
    }
    let convert = cpu_seconds() - c0;

    println!(
        "{:.1} MB of SQL, {} INSERTs ({} converted, {} rows, {:.1} MB of LOAD DATA rows)",
        bytes as f64 / 1e6,
        inserts.len(),
        converted,
        rows,
        row_bytes as f64 / 1e6
    );
    println!("| stage | CPU-s | CPU-s per GB of SQL | MB/s on one core |");
    println!("|---|---:|---:|---:|");
    for (name, s) in [
        ("inflate (zlib-rs + CRC)", inflate),
        ("split statements", split),
        ("INSERT → LOAD DATA rows", convert),
    ] {
        println!(
            "| {name} | {s:.2} | {:.2} | {:.0} |",
            s / gb,
            bytes as f64 / 1e6 / s.max(1e-9)
        );
    }
    let total = inflate + split + convert;
    println!(
        "| total | {total:.2} | {:.2} | {:.0} |",
        total / gb,
        bytes as f64 / 1e6 / total.max(1e-9)
    );
    Ok(())
}
