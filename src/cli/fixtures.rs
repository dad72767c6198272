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
