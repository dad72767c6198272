//! `cqcfab status`.

use std::process::ExitCode;

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config).await?;
    println!("database: {}", config.location().describe());
    println!("requests: {}", store.request_count().await?);
    println!("\ncards by state:");
    let counts = store.card_counts().await?;
    if counts.is_empty() {
        println!("  (none)");
    }
    for (state, n) in counts {
        println!("  {state:<22} {n:>8}");
    }
    println!("\njobs by kind and state:");
    let jobs = store.job_counts().await?;
    if jobs.is_empty() {
        println!("  (none)");
    }
    for (kind, state, n) in jobs {
        println!("  {kind:<12} {state:<10} {n:>8}");
    }
    let report = store.verify_audit().await?;
    println!(
        "\naudit trail: {} record(s), head {} {}",
        report.records,
        report.head_seq,
        if report.is_intact() {
            "(chain intact)"
        } else {
            "(CHAIN BROKEN: run `cqcfab audit verify`)"
        }
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
