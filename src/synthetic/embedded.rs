//! The committed fixture requests, embedded in the binary so that `cqcfab demo` and
//! `cqcfab bench` run from any folder without re-rendering 200 faces.

use serde_json::Value;

/// `fixtures/requests/valid.jsonl` as committed (200 requests, contract key order).
pub const VALID_JSONL: &[u8] = include_bytes!("../../fixtures/requests/valid.jsonl");

/// The embedded requests, parsed. Lines that do not parse are skipped (a test checks there
/// are none).
pub fn valid_requests() -> Vec<Value> {
    VALID_JSONL
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_embedded_line_parses() {
        let lines = super::VALID_JSONL
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        assert_eq!(super::valid_requests().len(), lines);
        assert!(lines >= 200);
    }
}
