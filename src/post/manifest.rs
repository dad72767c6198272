//! The postal batch manifest: one CSV line per mail piece of a batch, handed to La Poste with
//! the trays, and its companion totals file (docs/post.md, "The manifest").
//!
//! Encoding choices, fixed because the manifest's SHA-256 is printed on the cover sheet and
//! must come out the same wherever and whenever the file is written again:
//!
//! - UTF-8 without a byte order mark: the address lines are already NF Z10-011 capitals, but a
//!   foreign locality may keep letters such as `Ü`; a BOM would only help old Excel versions
//!   and breaks naive readers that take it for part of the first column name.
//! - `\n` line ends, not RFC 4180's `\r\n`: spreadsheets, Python's `csv` and the `csv` crate
//!   read both, and one fixed terminator keeps the bytes (and the hash) platform independent.
//! - Quoting only where needed (a comma, a double quote), by the `csv` writer.
//! - Every text cell through [`cell::text`], so that a spreadsheet never runs one as a formula.
//! - A line break inside a cell is refused: a manifest line is one piece, and readers that
//!   split on lines (or a person in a terminal) must see it so.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::post::cell;

/// NF Z10-011 allows at most seven lines in an address block.
pub const MAX_ADDRESS_LINES: usize = 7;

/// The manifest's columns, in order.
pub const COLUMNS: [&str; 15] = [
    "batch_id",
    "sequence",
    "piece_id",
    "product",
    "address_1",
    "address_2",
    "address_3",
    "address_4",
    "address_5",
    "address_6",
    "address_7",
    "postcode",
    "city",
    "country",
    "weight_g",
];

/// The totals file's columns, in order.
pub const TOTALS_COLUMNS: [&str; 5] = [
    "batch_id",
    "product",
    "pieces",
    "weight_g",
    "manifest_sha256",
];

/// The product of the totals file's last line, which sums all the others.
pub const TOTAL: &str = "TOTAL";

/// One mail piece of the batch, as posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row<'a> {
    /// Position of the piece in the trays, from 1.
    pub sequence: u32,
    pub piece_id: &'a str,
    pub product: &'a str,
    /// The NF Z10-011 lines as posted, 1..=7.
    pub address: &'a [String],
    pub postcode: &'a str,
    pub city: &'a str,
    /// ISO 3166-1 alpha-2.
    pub country: &'a str,
    pub weight_g: u32,
}

/// What a batch adds up to: the cover sheet prints it and the totals file carries it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Totals {
    pub pieces: u64,
    pub weight_g: u64,
    /// Pieces per product, sorted by product.
    pub by_product: Vec<(String, u64)>,
    /// Grams per product, in the same order as `by_product` (the totals file has a weight
    /// column per product, which a count alone cannot give).
    pub weight_g_by_product: Vec<(String, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest: the batch id is empty")]
    EmptyBatchId,
    #[error("manifest: the batch id {0:?} holds a line break")]
    BatchIdLineBreak(String),
    #[error("manifest of batch {batch}: the piece at sequence {sequence} has no piece id")]
    EmptyPieceId { batch: String, sequence: u32 },
    #[error(
        "manifest of batch {batch}: piece {piece_id} (sequence {sequence}) has {lines} address lines; NF Z10-011 allows 1 to 7"
    )]
    AddressLines {
        batch: String,
        sequence: u32,
        piece_id: String,
        lines: usize,
    },
    #[error(
        "manifest of batch {batch}: piece {piece_id} (sequence {sequence}): {column} holds a line break"
    )]
    LineBreak {
        batch: String,
        sequence: u32,
        piece_id: String,
        column: String,
    },
    #[error("totals of batch {batch}: {detail}")]
    Totals { batch: String, detail: String },
    #[error("manifest of batch {batch}: {source}")]
    Csv {
        batch: String,
        #[source]
        source: csv::Error,
    },
}

/// The manifest of a batch: a header line, then one line per row, in the order given.
pub fn write(batch_id: &str, rows: &[Row<'_>]) -> Result<Vec<u8>, ManifestError> {
    check_batch_id(batch_id)?;
    for row in rows {
        check(batch_id, row)?;
    }
    let batch = cell::text(batch_id);
    // Room for every row at once: the text plus separators, numbers and a few quotes.
    let size: usize = rows
        .iter()
        .map(|r| {
            batch.len()
                + r.piece_id.len()
                + r.product.len()
                + r.address.iter().map(String::len).sum::<usize>()
                + r.postcode.len()
                + r.city.len()
                + r.country.len()
                + 40
        })
        .sum::<usize>()
        + 200;
    let mut out = writer(Vec::with_capacity(size));
    let err = |source| ManifestError::Csv {
        batch: batch_id.to_string(),
        source,
    };
    out.write_record(COLUMNS).map_err(err)?;
    // One record and one number buffer for all rows: they keep their capacity across rows.
    let mut record = csv::ByteRecord::with_capacity(256, COLUMNS.len());
    let mut number = String::with_capacity(10);
    for row in rows {
        record.clear();
        record.push_field(batch.as_bytes());
        push_number(&mut record, &mut number, u64::from(row.sequence));
        record.push_field(cell::text(row.piece_id).as_bytes());
        record.push_field(cell::text(row.product).as_bytes());
        for i in 0..MAX_ADDRESS_LINES {
            match row.address.get(i) {
                Some(line) => record.push_field(cell::text(line).as_bytes()),
                None => record.push_field(b""),
            }
        }
        record.push_field(cell::text(row.postcode).as_bytes());
        record.push_field(cell::text(row.city).as_bytes());
        record.push_field(cell::text(row.country).as_bytes());
        push_number(&mut record, &mut number, u64::from(row.weight_g));
        out.write_byte_record(&record).map_err(err)?;
    }
    finish(batch_id, out)
}

/// Pieces and grams of the rows, in all and per product (sorted by product).
pub fn totals(rows: &[Row<'_>]) -> Totals {
    let mut per: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut weight_g = 0u64;
    for row in rows {
        let entry = per.entry(row.product).or_default();
        entry.0 += 1;
        entry.1 += u64::from(row.weight_g);
        weight_g += u64::from(row.weight_g);
    }
    Totals {
        pieces: rows.len() as u64,
        weight_g,
        by_product: per.iter().map(|(p, (n, _))| (p.to_string(), *n)).collect(),
        weight_g_by_product: per.iter().map(|(p, (_, g))| (p.to_string(), *g)).collect(),
    }
}

/// The companion file `<batch>.totals.csv`: one line per product, sorted by product, then a
/// `TOTAL` line, each with the manifest's SHA-256 (lower-case hex) so that the two files are
/// tied together. Totals that do not add up are refused: this file is what the post counts
/// the trays against.
pub fn totals_csv(
    batch_id: &str,
    totals: &Totals,
    manifest_sha256: &str,
) -> Result<Vec<u8>, ManifestError> {
    check_batch_id(batch_id)?;
    let refuse = |detail: String| ManifestError::Totals {
        batch: batch_id.to_string(),
        detail,
    };
    if manifest_sha256.len() != 64
        || !manifest_sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(refuse(format!(
            "{manifest_sha256:?} is not a SHA-256 in lower-case hex"
        )));
    }
    let mut per: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    if totals.by_product.len() != totals.weight_g_by_product.len() {
        return Err(refuse(
            "pieces and weights are not given for the same products".into(),
        ));
    }
    for ((product, pieces), (weighed, grams)) in
        totals.by_product.iter().zip(&totals.weight_g_by_product)
    {
        if product != weighed {
            return Err(refuse(format!(
                "pieces of {product:?} next to the weight of {weighed:?}"
            )));
        }
        if product == TOTAL {
            return Err(refuse(format!("{TOTAL:?} is kept for the last line")));
        }
        if product.contains(['\n', '\r']) {
            return Err(refuse(format!("product {product:?} holds a line break")));
        }
        if per.insert(product, (*pieces, *grams)).is_some() {
            return Err(refuse(format!("product {product:?} is given twice")));
        }
    }
    let pieces: u64 = per.values().map(|v| v.0).sum();
    let grams: u64 = per.values().map(|v| v.1).sum();
    if pieces != totals.pieces || grams != totals.weight_g {
        return Err(refuse(format!(
            "the products add up to {pieces} pieces and {grams} g, the total says {} pieces and {} g",
            totals.pieces, totals.weight_g
        )));
    }
    let mut out = writer(Vec::with_capacity(128 * (per.len() + 2)));
    let err = |source| ManifestError::Csv {
        batch: batch_id.to_string(),
        source,
    };
    out.write_record(TOTALS_COLUMNS).map_err(err)?;
    let batch = cell::text(batch_id);
    let lines =
        per.iter()
            .map(|(p, (n, g))| (*p, *n, *g))
            .chain([(TOTAL, totals.pieces, totals.weight_g)]);
    for (product, n, g) in lines {
        out.write_record([
            batch.as_ref(),
            cell::text(product).as_ref(),
            &n.to_string(),
            &g.to_string(),
            manifest_sha256,
        ])
        .map_err(err)?;
    }
    finish(batch_id, out)
}

/// The SHA-256 of a manifest in lower-case hex, as the totals file and the cover sheet give it.
pub fn sha256(manifest: &[u8]) -> String {
    hex::encode(Sha256::digest(manifest))
}

/// The locality of an address block for the manifest's `city` column.
///
/// In France the postcode opens the last-but-country line (`69003 LYON CEDEX 03`): the
/// locality is what follows it. Abroad the postcode may stand before or after the locality
/// (`SW1A 2AA LONDON`, `NEW YORK NY 10001`), or be absent: the line holding the postcode,
/// less the postcode, else the line before the country line. Empty when nothing fits.
pub fn city_of(address: &[String], postcode: &str, country: &str) -> String {
    let postcode = postcode.trim();
    if country.trim().eq_ignore_ascii_case("FR") {
        if postcode.is_empty() {
            return String::new();
        }
        return address
            .iter()
            .rev()
            .find_map(|line| {
                let line = line.trim();
                let rest = line.get(..postcode.len()).and_then(|head| {
                    head.eq_ignore_ascii_case(postcode)
                        .then(|| &line[postcode.len()..])
                })?;
                // "750110 ..." does not start with the postcode 75011.
                match rest.chars().next() {
                    None => Some(String::new()),
                    Some(c) if c.is_whitespace() => Some(rest.trim().to_string()),
                    Some(_) => None,
                }
            })
            .unwrap_or_default();
    }
    if !postcode.is_empty() {
        for line in address.iter().rev() {
            if let Some(at) = find_token(line, postcode) {
                let (before, after) = (&line[..at], &line[at + postcode.len()..]);
                let before = before.trim_end_matches(|c: char| c.is_whitespace() || c == ',');
                let after = after.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
                let joined = match (before.is_empty(), after.is_empty()) {
                    (false, false) => format!("{before} {after}"),
                    _ => format!("{before}{after}"),
                };
                return joined.trim().to_string();
            }
        }
    }
    // Recipient, locality, country at the least: with fewer lines the one before the country
    // would be the recipient's name.
    match address.len() {
        n if n >= 3 => address[n - 2].trim().to_string(),
        _ => String::new(),
    }
}

/// Where `token` stands in `line` as a whole word (ASCII case ignored): not inside a longer
/// number or word, so that the postcode 1000 is not found in `RUE 10002`.
fn find_token(line: &str, token: &str) -> Option<usize> {
    let hay = line.to_ascii_uppercase();
    let needle = token.to_ascii_uppercase();
    let mut from = 0;
    while let Some(found) = hay[from..].find(&needle) {
        let at = from + found;
        let end = at + needle.len();
        let alnum_before = hay[..at]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric);
        let alnum_after = hay[end..].chars().next().is_some_and(char::is_alphanumeric);
        if !alnum_before && !alnum_after {
            return Some(at);
        }
        from = at + needle.chars().next().map_or(1, char::len_utf8);
    }
    None
}

fn writer(buffer: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(buffer)
}

fn finish(batch_id: &str, out: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, ManifestError> {
    out.into_inner().map_err(|e| ManifestError::Csv {
        batch: batch_id.to_string(),
        source: csv::Error::from(e.into_error()),
    })
}

fn push_number(record: &mut csv::ByteRecord, buffer: &mut String, n: u64) {
    buffer.clear();
    // Writing into a String cannot fail.
    let _ = write!(buffer, "{n}");
    record.push_field(buffer.as_bytes());
}

fn check_batch_id(batch_id: &str) -> Result<(), ManifestError> {
    if batch_id.trim().is_empty() {
        return Err(ManifestError::EmptyBatchId);
    }
    if batch_id.contains(['\n', '\r']) {
        return Err(ManifestError::BatchIdLineBreak(batch_id.to_string()));
    }
    Ok(())
}

/// Refuses a row the post could not read as one piece.
fn check(batch_id: &str, row: &Row<'_>) -> Result<(), ManifestError> {
    if row.piece_id.trim().is_empty() {
        return Err(ManifestError::EmptyPieceId {
            batch: batch_id.to_string(),
            sequence: row.sequence,
        });
    }
    if row.address.is_empty() || row.address.len() > MAX_ADDRESS_LINES {
        return Err(ManifestError::AddressLines {
            batch: batch_id.to_string(),
            sequence: row.sequence,
            piece_id: row.piece_id.to_string(),
            lines: row.address.len(),
        });
    }
    let named = [
        ("piece_id", row.piece_id),
        ("product", row.product),
        ("postcode", row.postcode),
        ("city", row.city),
        ("country", row.country),
    ];
    let broken = named
        .iter()
        .find(|(_, v)| v.contains(['\n', '\r']))
        .map(|(c, _)| c.to_string())
        .or_else(|| {
            row.address
                .iter()
                .position(|l| l.contains(['\n', '\r']))
                .map(|i| format!("address_{}", i + 1))
        });
    match broken {
        Some(column) => Err(ManifestError::LineBreak {
            batch: batch_id.to_string(),
            sequence: row.sequence,
            piece_id: row.piece_id.to_string(),
            column,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
