//! `cqcfab fixtures`: synthetic requests for tests, demos and benchmarks.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

#[derive(Debug, Args)]
pub struct FixturesArgs {
    /// Where to write the JSON Lines file.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// How many requests (the first 200 are the curated fixture set).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub count: usize,
}

pub fn run(args: FixturesArgs) -> anyhow::Result<ExitCode> {
    write_jsonl(&args.out, args.count)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "{} request(s) written to {}",
        args.count,
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes `n` synthetic valid requests, one per line, keys in the contract's order (so the
/// committed fixture file regenerates byte for byte and reads like the contract).
pub fn write_jsonl(path: &Path, n: usize) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for i in 0..n {
        let line = crate::synthetic::valid_request(i)
            .and_then(|v| crate::synthetic::requests::compact(&v))
            .map_err(std::io::Error::other)?;
        f.write_all(line.as_bytes())?;
        f.write_all(b"\n")?;
    }
    f.flush()
}

/// Faces drawn for a long run; request `i` wears face `i % PHOTO_POOL`.
const PHOTO_POOL: usize = 64;

/// [`write_jsonl`] for long runs (a soak): every request is its own person, address and
/// signature, but the photos come from a pool of [`PHOTO_POOL`] faces. Drawing and fitting a
/// face into 30-60 KB of JPEG takes ~50 ms, which made 10,000 requests take 8 minutes to
/// write before the run itself began; the pipeline does not care whose face it is.
pub fn write_jsonl_pooled(path: &Path, n: usize) -> anyhow::Result<()> {
    use crate::synthetic::requests::{compact, fixture};
    let photos: Vec<Vec<u8>> = (0..PHOTO_POOL.min(n))
        .map(|i| fixture(i)?.photo_jpeg())
        .collect::<Result<_, _>>()?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let bar = super::progress(n as u64, "requests");
    for i in 0..n {
        let fx = fixture(i)?;
        let line = compact(&fx.to_json(&photos[i % PHOTO_POOL], &fx.signature_png()?)?)?;
        f.write_all(line.as_bytes())?;
        f.write_all(b"\n")?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    f.flush()?;
    Ok(())
}
