//! Benchmarks behind `cqcfab bench`: each measures one stage on a fresh store and returns
//! figures that the CLI prints as a table (and that docs/performance.md records).

pub mod claims;
pub mod dashboard;
pub mod intake;
pub mod mailroom;
pub mod peers;
pub mod post;
pub mod printable;
pub mod render;

pub use intake::BenchError;

use std::time::Duration;

/// Latency percentiles of a sample.
#[derive(Debug, Clone, Copy, Default)]
pub struct Percentiles {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Percentiles {
    pub fn of(samples: &mut [Duration]) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
        Percentiles {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: samples[samples.len() - 1],
        }
    }
}

/// One row of the result table.
#[derive(Debug, Clone)]
pub struct Row {
    pub stage: String,
    pub backend: String,
    pub count: usize,
    pub seconds: f64,
    pub per_second: f64,
    pub latency: Percentiles,
    /// CPU time of the whole process (all threads, user + system) per item, when known.
    pub cpu_ms_per_item: Option<f64>,
    pub goal: String,
}

/// CPU seconds this process has used so far (user + system, all threads), read from
/// `/proc/self/stat` on Linux; `None` elsewhere. Lets a benchmark say how much of the
/// machine an item costs, which tells a CPU-bound stage from one that waits.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Linux reports in clock ticks of USER_HZ, 100 on every architecture we run on.
    Some((utime + stime) / 100.0)
}

/// CPU milliseconds per item between two readings of [`process_cpu_seconds`].
pub fn cpu_ms_per_item(before: Option<f64>, after: Option<f64>, items: usize) -> Option<f64> {
    match (before, after) {
        (Some(b), Some(a)) if items > 0 => Some((a - b) * 1000.0 / items as f64),
        _ => None,
    }
}

/// Renders rows as a Markdown table (what docs/performance.md holds).
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| stage | backend | n | seconds | per second | p50 ms | p99 ms | max ms | CPU ms/item | goal |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} |\n",
            r.stage,
            r.backend,
            r.count,
            r.seconds,
            r.per_second,
            ms(r.latency.p50),
            ms(r.latency.p99),
            ms(r.latency.max),
            r.cpu_ms_per_item
                .map(|c| format!("{c:.2}"))
                .unwrap_or_else(|| "-".into()),
            r.goal
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_right_samples() {
        let mut s: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let p = Percentiles::of(&mut s);
        assert_eq!(p.p50, Duration::from_millis(51));
        assert_eq!(p.p99, Duration::from_millis(99));
        assert_eq!(p.max, Duration::from_millis(100));
    }
}
