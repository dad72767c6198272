//! `cqcfab import FILE`: requests as JSON Lines, pictures inline as base64.
//!
//! Every line goes through the same intake as the HTTP API, so a line is taken exactly once
//! however often the file is imported: after a crash (even SIGKILL), running the import again
//! replays the lines already stored and takes the rest. A bad line is reported with its number
//! and does not stop the good ones.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use indicatif::ProgressBar;
use thiserror::Error;
use tokio::task::JoinSet;

use super::{Intake, IntakeError, Submission, parse_json};
use crate::domain::violation::{Code, Violation};

/// A line longer than the HTTP body limit is refused without reading it into memory.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

/// What happened to one line that was not taken.
#[derive(Debug, Clone)]
pub struct LineRejection {
    /// 1-based line number in the file.
    pub line: usize,
    pub request_id: Option<String>,
    pub errors: Vec<Violation>,
}

/// Totals of an import.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub lines: usize,
    pub created: usize,
    pub replayed: usize,
    pub rejected: Vec<LineRejection>,
}

impl ImportReport {
    pub fn is_clean(&self) -> bool {
        self.rejected.is_empty()
    }
}

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Imports `path`, keeping `parallel` lines in flight (validation runs on the blocking pool,
/// so this uses every core; writes still commit one by one).
pub async fn import_file(
    intake: &Intake,
    path: &Path,
    actor: &str,
    parallel: usize,
    progress: Option<&ProgressBar>,
) -> Result<ImportReport, ImportError> {
    let read_err = |source| ImportError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut report = ImportReport::default();
    let mut in_flight: JoinSet<(usize, Option<String>, Result<Submission, IntakeError>)> =
        JoinSet::new();
    let mut line_no = 0usize;
    loop {
        let line = read_line(&mut reader).map_err(read_err)?;
        let Some(line) = line else { break };
        line_no += 1;
        let raw = match line {
            Line::TooLong => {
                report.lines += 1;
                report.rejected.push(LineRejection {
                    line: line_no,
                    request_id: None,
                    errors: vec![Violation::new(
                        "$",
                        Code::FileTooLarge,
                        format!("the line is longer than {MAX_LINE_BYTES} bytes"),
                    )],
                });
                continue;
            }
            Line::Bytes(b) => b,
        };
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        report.lines += 1;
        let doc = match parse_json(&raw) {
            Ok(d) => d,
            Err(v) => {
                report.rejected.push(LineRejection {
                    line: line_no,
                    request_id: None,
                    errors: vec![v],
                });
                continue;
            }
        };
        let request_id = doc
            .get("request_id")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        while in_flight.len() >= parallel.max(1) {
            if let Some(done) = in_flight.join_next().await {
                tally(&mut report, done, progress)?;
            }
        }
        let intake = intake.clone();
        let actor = actor.to_string();
        in_flight.spawn(async move {
            let r = intake.submit(doc, &actor).await;
            (line_no, request_id, r)
        });
    }
    while let Some(done) = in_flight.join_next().await {
        tally(&mut report, done, progress)?;
    }
    report.rejected.sort_by_key(|r| r.line);
    Ok(report)
}

type Done =
    Result<(usize, Option<String>, Result<Submission, IntakeError>), tokio::task::JoinError>;

fn tally(
    report: &mut ImportReport,
    done: Done,
    progress: Option<&ProgressBar>,
) -> Result<(), ImportError> {
    if let Some(p) = progress {
        p.inc(1);
    }
    let (line, request_id, result) =
        done.map_err(|e| crate::store::StoreError::Corrupt(format!("import task failed: {e}")))?;
    match result {
        Ok(Submission::Created(_)) => report.created += 1,
        Ok(Submission::Replayed(_)) => report.replayed += 1,
        Err(IntakeError::Invalid(errors)) => report.rejected.push(LineRejection {
            line,
            request_id,
            errors,
        }),
        Err(IntakeError::Conflict { request_id: id }) => report.rejected.push(LineRejection {
            line,
            request_id: Some(id.clone()),
            errors: vec![Violation::new(
                "request_id",
                Code::RequestConflict,
                format!("request {id} already exists with a different body"),
            )],
        }),
        Err(IntakeError::Store(e)) => return Err(e.into()),
    }
    Ok(())
}

enum Line {
    Bytes(Vec<u8>),
    TooLong,
}

/// Reads one line (without its terminator), refusing to buffer more than the limit.
fn read_line(reader: &mut impl BufRead) -> std::io::Result<Option<Line>> {
    let mut buf = Vec::new();
    let n = reader
        .by_ref()
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        return Ok(Some(Line::Bytes(buf)));
    }
    if buf.len() > MAX_LINE_BYTES {
        // Skip the rest of the oversized line.
        let mut sink = Vec::new();
        loop {
            sink.clear();
            let m = reader.by_ref().take(1 << 20).read_until(b'\n', &mut sink)?;
            if m == 0 || sink.last() == Some(&b'\n') {
                break;
            }
        }
        return Ok(Some(Line::TooLong));
    }
    Ok(Some(Line::Bytes(buf)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_on_lf_and_crlf() {
        let mut r = BufReader::new(&b"a\r\nb\n\nc"[..]);
        let mut got = Vec::new();
        while let Some(l) = read_line(&mut r).unwrap() {
            match l {
                Line::Bytes(b) => got.push(String::from_utf8(b).unwrap()),
                Line::TooLong => got.push("<too long>".into()),
            }
        }
        assert_eq!(got, vec!["a", "b", "", "c"]);
    }

    #[test]
    fn an_oversized_line_is_skipped_and_the_next_one_read() {
        let mut data = vec![b'x'; MAX_LINE_BYTES + 10];
        data.extend_from_slice(b"\nnext\n");
        let mut r = BufReader::new(&data[..]);
        assert!(matches!(read_line(&mut r).unwrap(), Some(Line::TooLong)));
        match read_line(&mut r).unwrap() {
            Some(Line::Bytes(b)) => assert_eq!(b, b"next"),
            _ => panic!("expected the next line"),
        }
    }
}
