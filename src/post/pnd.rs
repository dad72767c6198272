//! Why the post brought a piece back (*pli non distribué*, PND): the documented list of
//! reason codes the mailroom records (docs/returns.md).
//!
//! La Poste's return label ticks one box; its exact wording is not public (domain.md §5), so
//! the list follows the reasons seen in public taxonomies, plus `damaged` for a piece the post
//! returns torn open. The clerk scans the matching code from the reason sheet (`PND-NPAI`...)
//! once, then every returned piece that carries that reason: the station shows the current
//! reason in every answer, so a wrong one is seen at the first piece.

use std::fmt;

/// A reason code. The `snake_case` name is stored and sent to the portal: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReturnReason {
    /// *N'habite pas à l'adresse indiquée*: addressee unknown at this address.
    Npai,
    /// *Adresse incomplète ou erronée*.
    AddressIncomplete,
    /// *Refusé*: the addressee refused the piece.
    Refused,
    /// *Avisé et non réclamé*: notice left, not collected at the post office.
    NotCollected,
    /// *Boîte aux lettres inexistante ou non identifiable*.
    NoLetterBox,
    /// *Accès impossible*.
    NoAccess,
    /// *Pli endommagé*: returned damaged by the post.
    Damaged,
}

impl ReturnReason {
    pub const ALL: [ReturnReason; 7] = [
        ReturnReason::Npai,
        ReturnReason::AddressIncomplete,
        ReturnReason::Refused,
        ReturnReason::NotCollected,
        ReturnReason::NoLetterBox,
        ReturnReason::NoAccess,
        ReturnReason::Damaged,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnReason::Npai => "npai",
            ReturnReason::AddressIncomplete => "address_incomplete",
            ReturnReason::Refused => "refused",
            ReturnReason::NotCollected => "not_collected",
            ReturnReason::NoLetterBox => "no_letter_box",
            ReturnReason::NoAccess => "no_access",
            ReturnReason::Damaged => "damaged",
        }
    }

    /// The code printed as a barcode on the reason sheet.
    pub fn scan_code(self) -> &'static str {
        match self {
            ReturnReason::Npai => "PND-NPAI",
            ReturnReason::AddressIncomplete => "PND-ADRESSE",
            ReturnReason::Refused => "PND-REFUSE",
            ReturnReason::NotCollected => "PND-NONRECLAME",
            ReturnReason::NoLetterBox => "PND-BAL",
            ReturnReason::NoAccess => "PND-ACCES",
            ReturnReason::Damaged => "PND-ENDOMMAGE",
        }
    }

    /// The wording on the label, for the clerk.
    pub fn label_fr(self) -> &'static str {
        match self {
            ReturnReason::Npai => "N'habite pas à l'adresse indiquée",
            ReturnReason::AddressIncomplete => "Adresse incomplète ou erronée",
            ReturnReason::Refused => "Refusé",
            ReturnReason::NotCollected => "Avisé et non réclamé",
            ReturnReason::NoLetterBox => "Boîte aux lettres inexistante ou non identifiable",
            ReturnReason::NoAccess => "Accès impossible",
            ReturnReason::Damaged => "Pli endommagé",
        }
    }

    /// The reason stored (or sent) under `name`.
    pub fn parse(name: &str) -> Option<ReturnReason> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// The reason whose sheet code is `code` (case and surrounding spaces ignored).
    pub fn from_scan(code: &str) -> Option<ReturnReason> {
        let code = code.trim();
        Self::ALL
            .into_iter()
            .find(|r| r.scan_code().eq_ignore_ascii_case(code))
    }
}

impl fmt::Display for ReturnReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sheet_codes_are_unique_and_round_trip() {
        let mut names = std::collections::HashSet::new();
        let mut codes = std::collections::HashSet::new();
        for r in ReturnReason::ALL {
            assert!(names.insert(r.as_str()));
            assert!(codes.insert(r.scan_code()));
            assert_eq!(ReturnReason::parse(r.as_str()), Some(r));
            assert_eq!(ReturnReason::from_scan(r.scan_code()), Some(r));
            assert_eq!(
                ReturnReason::from_scan(&format!(" {} ", r.scan_code().to_lowercase())),
                Some(r)
            );
        }
        assert_eq!(ReturnReason::parse("lost"), None);
        assert_eq!(ReturnReason::from_scan("PND-"), None);
    }

    #[test]
    fn the_stored_names_are_the_ones_the_database_accepts() {
        // The CHECK constraint of migration 0008 lists the same names, in the same order.
        for sql in [
            include_str!("../store/migrations/sqlite/0008_mail_returns.sql"),
            include_str!("../store/migrations/postgres/0008_mail_returns.sql"),
        ] {
            let list: Vec<String> = ReturnReason::ALL
                .iter()
                .map(|r| format!("'{}'", r.as_str()))
                .collect();
            let flat: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                flat.contains(&format!("reason IN ({})", list.join(", "))),
                "migration 0008 does not list {list:?}"
            );
        }
    }
}
