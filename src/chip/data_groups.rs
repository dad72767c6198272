//! The files of the CQC application, built from the card record (docs/chip-profile.md).

use time::Date;
use time::macros::format_description;

use super::tlv::{self, TlvError};

/// File identifiers in the application.
pub const FID_COM: u16 = 0x011E;
pub const FID_DG1: u16 = 0x0101;
pub const FID_DG5: u16 = 0x0105;
pub const FID_DG6: u16 = 0x0106;
pub const FID_SOD: u16 = 0x011D;

/// Our profile's type-approval identifier (DG1 5F01).
pub const TYPE_APPROVAL: &str = "CQCFR01";

/// What the chip holds of one card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipData {
    pub surname: String,
    pub given_names: String,
    pub birth_date: Date,
    pub birth_place: String,
    pub issue_date: Date,
    pub expiry_date: Date,
    pub authority: String,
    pub admin_number: String,
    pub card_number: String,
    /// Vehicle categories (C1 … DE) in card order, each with its group's code-95 date
    /// (docs/validity.md): DG1's category entries carry the card's issue date and that date.
    pub categories: Vec<(String, Date)>,
    /// Grey portrait as JPEG, the same bytes the proof embeds.
    pub portrait_jpeg: Vec<u8>,
    /// Signature as a PNG.
    pub signature_png: Vec<u8>,
}

/// The files to write, in writing order, with their identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChipFiles {
    pub files: Vec<(u16, Vec<u8>)>,
}

fn ddmmyyyy(d: Date) -> String {
    d.format(format_description!("[day][month][year]"))
        .unwrap_or_default()
}

/// Builds EF.COM, DG1, DG5 and DG6.
pub fn build(d: &ChipData) -> Result<ChipFiles, TlvError> {
    use tlv::{constructed as c, primitive as p};
    let holder = tlv::wrapper(
        0x5F02,
        &[
            p(0x5F03, b"F")?,
            p(0x5F04, d.surname.as_bytes())?,
            p(0x5F05, d.given_names.as_bytes())?,
            p(0x5F06, ddmmyyyy(d.birth_date).as_bytes())?,
            p(0x5F07, d.birth_place.as_bytes())?,
            p(0x5F0A, ddmmyyyy(d.issue_date).as_bytes())?,
            p(0x5F0B, ddmmyyyy(d.expiry_date).as_bytes())?,
            p(0x5F0C, d.authority.as_bytes())?,
            p(0x5F0D, d.admin_number.as_bytes())?,
            p(0x5F0E, d.card_number.as_bytes())?,
        ],
    )?;
    let mut cats = vec![p(0x02, &[d.categories.len().min(255) as u8])?];
    for (cat, expiry) in &d.categories {
        let entry = format!(
            "{cat};{};{};95;;",
            ddmmyyyy(d.issue_date),
            ddmmyyyy(*expiry)
        );
        cats.push(p(0x87, entry.as_bytes())?);
    }
    let dg1 = c(
        0x61,
        &[
            p(0x5F01, TYPE_APPROVAL.as_bytes())?,
            holder,
            c(0x7F63, &cats)?,
        ],
    )?;
    let dg5 = c(0x67, &[p(0x5F43, &d.signature_png)?])?;
    let dg6 = c(0x75, &[p(0x5F40, &d.portrait_jpeg)?])?;
    let com = c(0x60, &[p(0x5F01, b"0100")?, p(0x5C, &[0x61, 0x67, 0x75])?])?;
    Ok(ChipFiles {
        files: vec![
            (FID_COM, com),
            (FID_DG1, dg1),
            (FID_DG5, dg5),
            (FID_DG6, dg6),
        ],
    })
}

impl ChipData {
    /// A fixed card with non-Latin-1 names, for tests and benchmarks.
    pub fn sample() -> ChipData {
        ChipData {
            surname: "ŻÓŁKIEWSKI".into(),
            given_names: "Łukasz".into(),
            birth_date: time::macros::date!(1984 - 04 - 12),
            birth_place: "CRACOVIE (POLOGNE)".into(),
            issue_date: time::macros::date!(2026 - 11 - 26),
            expiry_date: time::macros::date!(2031 - 10 - 30),
            authority: "MINISTÈRE CHARGÉ DES TRANSPORTS".into(),
            admin_number: "00000002".into(),
            card_number: "F0000000200B".into(),
            categories: vec![
                ("C".into(), time::macros::date!(2031 - 10 - 30)),
                ("CE".into(), time::macros::date!(2031 - 10 - 30)),
                ("D".into(), time::macros::date!(2029 - 05 - 10)),
            ],
            portrait_jpeg: vec![0xFF, 0xD8, 0xFF, 0xD9],
            signature_png: vec![0x89, b'P', b'N', b'G'],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dg1_holds_every_field_in_utf8_and_eu_date_form() {
        let files = build(&ChipData::sample()).unwrap().files;
        let fids: Vec<u16> = files.iter().map(|f| f.0).collect();
        assert_eq!(fids, [FID_COM, FID_DG1, FID_DG5, FID_DG6]);
        let dg1 = tlv::parse(&files[1].1).unwrap();
        assert_eq!(dg1.tag, 0x61);
        assert_eq!(dg1.find(0x5F04).unwrap().text(), "ŻÓŁKIEWSKI");
        assert_eq!(dg1.find(0x5F06).unwrap().text(), "12041984");
        assert_eq!(dg1.find(0x5F0B).unwrap().text(), "30102031");
        assert_eq!(dg1.find(0x5F0E).unwrap().text(), "F0000000200B");
        let cats = dg1.find(0x7F63).unwrap();
        assert_eq!(cats.children[0].value, [3]);
        assert_eq!(cats.children[2].text(), "CE;26112026;30102031;95;;");
        assert_eq!(cats.children[3].text(), "D;26112026;10052029;95;;");
        let com = tlv::parse(&files[0].1).unwrap();
        assert_eq!(com.find(0x5C).unwrap().value, [0x61, 0x67, 0x75]);
        let dg6 = tlv::parse(&files[3].1).unwrap();
        assert_eq!(
            dg6.find(0x5F40).unwrap().value,
            ChipData::sample().portrait_jpeg
        );
    }
}
