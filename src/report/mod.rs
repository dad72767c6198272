//! The report of a production run (`cqcfab demo --out DIR`): one HTML page to open in a
//! browser, with charts drawn as inline SVG and links to the run's sample cards, letters and
//! postal batches, and the same figures as a PDF to print or file.
//!
//! The report is built from a [`DayReport`] the run fills as it goes; nothing here touches
//! the database, so the page shows exactly what the run measured and checked. Everything a
//! request brought (names, addresses) is escaped on its way into the page
//! ([`crate::console::html::Markup`]), as on the console.

mod chart;
mod html;
mod pdf;

use std::path::{Path, PathBuf};

pub use pdf::PdfReportError;

/// Stage names, shared by the run that fills the report and the page that reads it.
pub const STAGE_INTAKE: &str = "Réception des demandes";
pub const STAGE_RENDER: &str = "Rendu des cartes";
pub const STAGE_CHIP: &str = "Personnalisation des puces";
pub const STAGE_LETTERS: &str = "Lettres porte-carte et coupons";
pub const STAGE_INSERT: &str = "Mise sous pli";
pub const STAGE_BATCH: &str = "Lot postal clos et remis";
pub const STAGE_MAILROOM: &str = "Courrier revenu scanné";
pub const STAGE_DECISIONS: &str = "Réponses des titulaires";
pub const STAGE_QUALITY: &str = "Bureau qualité";
pub const STAGE_DESTRUCTION: &str = "Destructions";

/// What a production run did, measured and checked, for the report.
#[derive(Debug, Clone, Default)]
pub struct DayReport {
    /// When the run started, as printed (e.g. "27/11/2026 14:31 UTC").
    pub started: String,
    /// The database, described (`sqlite:…` or the PostgreSQL host).
    pub database: String,
    /// The chip readers used.
    pub readers: String,
    /// Requests offered to intake.
    pub requests: u64,
    /// Wall time of the whole run.
    pub seconds: f64,
    /// One line per stage, in the order of the run.
    pub stages: Vec<Stage>,
    /// Completion times of each stage's units, for the throughput chart.
    pub series: Vec<Series>,
    /// The process's memory and open files, sampled during the run.
    pub resources: Vec<ResourceSample>,
    /// Cards by state at the end of the run.
    pub states: Vec<(String, i64)>,
    pub yields: Vec<Yield>,
    pub samples: Vec<SampleCard>,
    pub letters: Vec<SampleLetter>,
    pub batches: Vec<BatchLine>,
    pub returns: Vec<ReturnLine>,
    pub quality: Vec<QualityLine>,
    pub destructions: Vec<DestructionLine>,
    /// What the run verified at the end; the run fails when one does not hold.
    pub checks: Vec<Check>,
}

/// One stage of the run.
#[derive(Debug, Clone)]
pub struct Stage {
    /// What the stage is, in French ("Rendu des cartes").
    pub name: String,
    /// The day of the bureau's calendar it ran on ("J", "J+3"…).
    pub day: String,
    /// Units done (cards, letters, scans…).
    pub done: u64,
    /// What the unit is ("cartes", "plis"…).
    pub unit: String,
    /// Units refused or failed.
    pub refused: u64,
    /// Wall time of the stage.
    pub seconds: f64,
    pub note: String,
}

impl Stage {
    /// Units per second, when the stage did enough for a rate to mean something.
    pub fn rate(&self) -> Option<f64> {
        (self.seconds > 0.0005 && self.done >= 20).then(|| self.done as f64 / self.seconds)
    }
}

/// When each unit of a stage was done, in seconds since the run started.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub times: Vec<f64>,
}

/// The process at one instant.
#[derive(Debug, Clone, Copy)]
pub struct ResourceSample {
    /// Seconds since the run started.
    pub t: f64,
    /// Resident memory, KiB.
    pub rss_kib: u64,
    /// Open file descriptors.
    pub fds: u64,
}

/// A ratio of good to attempted.
#[derive(Debug, Clone)]
pub struct Yield {
    pub what: String,
    pub good: u64,
    pub total: u64,
}

impl Yield {
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            self.good as f64 * 100.0 / self.total as f64
        }
    }
}

/// A card whose pictures the run wrote out: `dir` (relative to the report) holds its proof
/// and previews.
#[derive(Debug, Clone)]
pub struct SampleCard {
    pub card_number: String,
    pub holder: String,
    pub dir: String,
}

/// A carrier letter and its return coupon, paths relative to the report.
#[derive(Debug, Clone)]
pub struct SampleLetter {
    pub piece_id: String,
    pub card_number: String,
    pub carrier_pdf: String,
    pub coupon_pdf: String,
    /// Pictures of the two sheets, when drawn.
    pub carrier_png: Option<String>,
    pub coupon_png: Option<String>,
}

/// A postal batch closed and handed over.
#[derive(Debug, Clone)]
pub struct BatchLine {
    pub batch_id: String,
    pub day: String,
    pub pieces: u64,
    pub weight_g: u64,
    pub sha256: String,
    /// (label, path relative to the report).
    pub files: Vec<(String, String)>,
}

/// A piece the post brought back, and what became of it.
#[derive(Debug, Clone)]
pub struct ReturnLine {
    pub piece_id: String,
    pub card_number: String,
    /// The reason ticked by the post, in French.
    pub reason: String,
    pub slot: Option<i64>,
    /// What the holder answered (or that they did not), in French.
    pub decision: String,
    /// The piece it went out again in.
    pub new_piece: Option<String>,
}

/// A card posted back defective, as the quality desk judged it.
#[derive(Debug, Clone)]
pub struct QualityLine {
    pub case_id: i64,
    pub card_number: String,
    /// The defects the holder declared, as found.
    pub defects: String,
    /// The chip as read ("intact", "unreadable"…).
    pub chip: String,
    /// `manufacturer_fault` or `holder_fault`, and the rule that decided.
    pub verdict: String,
    pub rule: String,
    /// Who paid the replacement, in French.
    pub paid_by: String,
    pub replacement: Option<String>,
}

/// A card destroyed under four eyes.
#[derive(Debug, Clone)]
pub struct DestructionLine {
    pub card_number: String,
    pub reason: String,
    pub requested_by: String,
    pub approved_by: String,
}

/// One verification at the end of the run.
#[derive(Debug, Clone)]
pub struct Check {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

impl DayReport {
    /// True when every check holds.
    pub fn sound(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Pdf(#[from] PdfReportError),
}

/// Writes `report.html` and `report.pdf` into `dir`; returns their paths.
pub fn write(dir: &Path, report: &DayReport) -> Result<Vec<PathBuf>, ReportError> {
    let files = [
        ("report.html", html::page(report).into_bytes()),
        ("report.pdf", pdf::document(report)?),
    ];
    let mut paths = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|source| ReportError::Write {
            path: path.clone(),
            source,
        })?;
        paths.push(path);
    }
    Ok(paths)
}

/// Completion times bucketed into `buckets` equal slices of `[0, span]`: units per second
/// in each slice.
pub fn rates(times: &[f64], span: f64, buckets: usize) -> Vec<f64> {
    let buckets = buckets.max(1);
    let width = (span / buckets as f64).max(1e-9);
    let mut counts = vec![0u64; buckets];
    for t in times {
        let i = ((t / width).floor().max(0.0) as usize).min(buckets - 1);
        counts[i] += 1;
    }
    counts.into_iter().map(|c| c as f64 / width).collect()
}

/// A French number with a decimal comma ("12,5").
pub fn decimal(v: f64, places: usize) -> String {
    format!("{v:.places$}").replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_count_each_time_once_in_its_slice() {
        let r = rates(&[0.0, 0.5, 1.0, 1.9, 3.99, 4.0], 4.0, 4);
        // Slices of one second: 2, 2, 0, 2 (4.0 is the end, kept in the last slice).
        assert_eq!(r, vec![2.0, 2.0, 0.0, 2.0]);
        let r = rates(&[0.0, 1.0], 10.0, 2);
        assert_eq!(r, vec![0.4, 0.0]);
        assert_eq!(rates(&[], 0.0, 0), vec![0.0]);
    }

    #[test]
    fn yields_and_rates_are_safe_on_nothing() {
        let y = Yield {
            what: "x".into(),
            good: 0,
            total: 0,
        };
        assert_eq!(y.percent(), 100.0);
        let y = Yield {
            what: "x".into(),
            good: 3,
            total: 4,
        };
        assert_eq!(y.percent(), 75.0);
        let s = Stage {
            name: "s".into(),
            day: "J".into(),
            done: 0,
            unit: "cartes".into(),
            refused: 0,
            seconds: 0.0,
            note: String::new(),
        };
        assert_eq!(s.rate(), None);
        assert_eq!(decimal(12.345, 1), "12,3");
    }
}
