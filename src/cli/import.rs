//! `cqcfab import FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::config::Config;
use crate::intake::Intake;
use crate::intake::import::{ImportReport, import_file};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The JSON Lines file: one portal request (contract v1) per line.
    pub file: PathBuf,
    /// Lines validated at the same time [default: number of cores].
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
}

pub async fn run(config: &Config, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config).await?;
    let report = import(&Intake::new(store.clone()), &args.file, args.parallel).await?;
    store.close().await;
    print_report(&report);
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Imports with a progress bar; used by `import` and `demo`.
pub async fn import(
    intake: &Intake,
    file: &std::path::Path,
    parallel: Option<usize>,
) -> anyhow::Result<ImportReport> {
    let lines = count_lines(file).unwrap_or(0);
    let bar = super::progress(lines, "import");
    let parallel = parallel.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            * 2
    });
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let report = import_file(
        intake,
        file,
        &format!("import:{name}"),
        parallel,
        Some(&bar),
    )
    .await?;
    bar.finish_and_clear();
    Ok(report)
}

fn count_lines(path: &std::path::Path) -> std::io::Result<u64> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            return Ok(n);
        }
        n += buf[..k].iter().filter(|&&b| b == b'\n').count() as u64;
    }
}

pub fn print_report(r: &ImportReport) {
    println!(
        "{} line(s): {} new, {} already present, {} rejected",
        r.lines,
        r.created,
        r.replayed,
        r.rejected.len()
    );
    for rej in &r.rejected {
        let id = rej.request_id.as_deref().unwrap_or("?");
        for e in &rej.errors {
            println!(
                "line {} ({id}): {}: {} [{}]",
                rej.line, e.path, e.message, e.code
            );
        }
    }
}
