//! Process-wide counters and histograms, rendered in the Prometheus text format (0.0.4) at
//! `/metrics` next to the gauges read from the database at scrape time.
//!
//! A plain registry under one mutex: every update is a map lookup and an add, far below the
//! cost of the HTTP request or database call it measures, and it needs no dependency.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Histogram bucket bounds, in seconds: 1 ms to 10 s.
pub const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Registry {
    help: BTreeMap<&'static str, (&'static str, &'static str)>,
    counters: BTreeMap<&'static str, BTreeMap<String, f64>>,
    histograms: BTreeMap<&'static str, BTreeMap<String, Histogram>>,
}

fn registry() -> &'static Mutex<Registry> {
    static R: OnceLock<Mutex<Registry>> = OnceLock::new();
    R.get_or_init(Mutex::default)
}

/// `{a="x",b="y"}` with values escaped as the text format requires.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Adds `by` to counter `name` with these labels.
pub fn count(name: &'static str, help: &'static str, pairs: &[(&str, &str)], by: f64) {
    let key = labels(pairs);
    if let Ok(mut r) = registry().lock() {
        r.help.insert(name, ("counter", help));
        *r.counters.entry(name).or_default().entry(key).or_default() += by;
    }
}

/// Records one observation of histogram `name`.
pub fn observe(name: &'static str, help: &'static str, pairs: &[(&str, &str)], d: Duration) {
    let key = labels(pairs);
    let s = d.as_secs_f64();
    if let Ok(mut r) = registry().lock() {
        r.help.insert(name, ("histogram", help));
        let h = r
            .histograms
            .entry(name)
            .or_default()
            .entry(key)
            .or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if s <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += s;
        h.count += 1;
    }
}

/// Inserts `le` into a label set rendered by [`labels`].
fn with_le(key: &str, le: &str) -> String {
    match key.strip_suffix('}') {
        Some(open) => format!("{open},le=\"{le}\"}}"),
        None => format!("{{le=\"{le}\"}}"),
    }
}

/// Every counter and histogram, in the text format.
pub fn render() -> String {
    let mut out = String::new();
    let Ok(r) = registry().lock() else {
        return out;
    };
    for (name, series) in &r.counters {
        let (kind, help) = r.help.get(name).copied().unwrap_or(("counter", ""));
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (key, v) in series {
            let _ = writeln!(out, "{name}{key} {v}");
        }
    }
    for (name, series) in &r.histograms {
        let (_, help) = r.help.get(name).copied().unwrap_or(("histogram", ""));
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (key, h) in series {
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "{name}_bucket{} {}",
                    with_le(key, &bound.to_string()),
                    h.counts[i]
                );
            }
            let _ = writeln!(out, "{name}_bucket{} {}", with_le(key, "+Inf"), h.count);
            let _ = writeln!(out, "{name}_sum{key} {}", h.sum);
            let _ = writeln!(out, "{name}_count{key} {}", h.count);
        }
    }
    out
}

/// A gauge family, for values read at scrape time.
pub fn gauge(out: &mut String, name: &str, help: &str, series: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (key, v) in series {
        let _ = writeln!(out, "{name}{key} {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            labels(&[("route", "/a\"b"), ("x", "1\\2\n")]),
            "{route=\"/a\\\"b\",x=\"1\\\\2\\n\"}"
        );
        assert_eq!(labels(&[]), "");
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let pairs = [("kind", "unit-test")];
        observe(
            "cqcfab_test_seconds",
            "test",
            &pairs,
            Duration::from_millis(3),
        );
        observe(
            "cqcfab_test_seconds",
            "test",
            &pairs,
            Duration::from_millis(300),
        );
        count("cqcfab_test_total", "test", &pairs, 2.0);
        let text = render();
        assert!(text.contains("# TYPE cqcfab_test_seconds histogram"));
        assert!(text.contains("cqcfab_test_seconds_bucket{kind=\"unit-test\",le=\"0.001\"} 0"));
        assert!(text.contains("cqcfab_test_seconds_bucket{kind=\"unit-test\",le=\"0.005\"} 1"));
        assert!(text.contains("cqcfab_test_seconds_bucket{kind=\"unit-test\",le=\"0.5\"} 2"));
        assert!(text.contains("cqcfab_test_seconds_bucket{kind=\"unit-test\",le=\"+Inf\"} 2"));
        assert!(text.contains("cqcfab_test_seconds_count{kind=\"unit-test\"} 2"));
        assert!(text.contains("cqcfab_test_total{kind=\"unit-test\"} 2"));
    }
}
