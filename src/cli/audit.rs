//! `cqcfab audit verify`.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the whole hash chain; exit status 1 and a list of problems if any row was
    /// edited, deleted or cut off the end.
    Verify,
}

pub async fn run(config: &Config, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Verify => {
            let store = super::open_store(config).await?;
            let report = store.verify_audit().await?;
            store.close().await;
            if report.is_intact() {
                println!(
                    "audit trail intact: {} record(s), head {} {}",
                    report.records, report.head_seq, report.head_hash
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "AUDIT TRAIL BROKEN: {} problem(s) in {} record(s)",
                    report.problems.len(),
                    report.records
                );
                for p in &report.problems {
                    println!("  {p}");
                }
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
