//! The demo's own process, sampled while it runs: resident memory and open file descriptors,
//! from `/proc/self` (Linux). A long run (the soak: `cqcfab demo --cards 10000`) shows in the
//! report whether memory stays flat and whether every file and socket opened is closed again.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::report::ResourceSample;

/// Resident memory (KiB) and open descriptors of this process now; `None` off Linux.
pub fn now() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    // The directory handle read_dir held is one of the entries it listed.
    Some((rss, fds.saturating_sub(1)))
}

/// Samples every `every` until dropped.
pub struct Sampler {
    samples: Arc<Mutex<Vec<ResourceSample>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    pub fn start(started: Instant, every: Duration) -> Sampler {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let into = samples.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let (Some((rss_kib, fds)), Ok(mut v)) = (now(), into.lock()) {
                    v.push(ResourceSample {
                        t: started.elapsed().as_secs_f64(),
                        rss_kib,
                        fds,
                    });
                }
            }
        });
        Sampler { samples, task }
    }

    /// Stops sampling; the samples taken.
    pub fn finish(self) -> Vec<ResourceSample> {
        self.task.abort();
        self.samples
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// How the process's memory and descriptors behaved over a stretch of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// Resident memory (MiB) at the first and last sample of the stretch.
    pub rss_mib: (f64, f64),
    pub fds: (u64, u64),
}

impl Drift {
    /// From the first sample at or after `from` seconds to the last at or before `to`.
    pub fn between(samples: &[ResourceSample], from: f64, to: f64) -> Option<Drift> {
        let inside: Vec<&ResourceSample> = samples
            .iter()
            .filter(|s| s.t >= from && s.t <= to)
            .collect();
        let (first, last) = (inside.first()?, inside.last()?);
        Some(Drift {
            rss_mib: (first.rss_kib as f64 / 1024.0, last.rss_kib as f64 / 1024.0),
            fds: (first.fds, last.fds),
        })
    }

    /// Memory grew by at most `max_mib` or `max_share` of where it started, whichever is
    /// more (a database's page cache warms up; a leak keeps growing with the cards).
    pub fn memory_flat(&self, max_mib: f64, max_share: f64) -> bool {
        let (a, b) = self.rss_mib;
        b - a <= max_mib.max(a * max_share)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: f64, mib: u64, fds: u64) -> ResourceSample {
        ResourceSample {
            t,
            rss_kib: mib * 1024,
            fds,
        }
    }

    #[test]
    fn this_process_has_memory_and_descriptors() {
        let (rss, fds) = now().expect("linux /proc");
        assert!(rss > 1024, "{rss} KiB");
        // stdin, stdout and stderr at least (other tests open and close files meanwhile, so
        // an exact count would be a race).
        assert!(fds >= 3, "{fds}");
    }

    #[test]
    fn drift_reads_the_stretch_asked_for() {
        let samples = [
            s(0.0, 50, 10),
            s(1.0, 60, 12),
            s(2.0, 64, 12),
            s(3.0, 200, 40),
        ];
        let d = Drift::between(&samples, 1.0, 2.0).expect("two samples");
        assert_eq!(d.rss_mib, (60.0, 64.0));
        assert_eq!(d.fds, (12, 12));
        assert!(d.memory_flat(8.0, 0.05));
        assert!(!d.memory_flat(2.0, 0.05));
        let d = Drift::between(&samples, 1.0, 3.0).expect("samples");
        assert!(!d.memory_flat(32.0, 0.25));
        assert!(Drift::between(&samples, 5.0, 6.0).is_none());
    }
}
