//! A validated card request: what intake hands to production.

use std::fmt;

use time::Date;

use super::address::{AddressInput, PostalAddress};
use super::card_number::CardNumber;
use super::holder::Holder;
use super::images::Picture;
use super::qualification::Qualifications;
use super::request_kind::{ReplacementReason, RequestKind};
use super::violation::{Code, Violation};

/// The portal's idempotency key: 1-64 characters of `[A-Za-z0-9._-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(String);

impl RequestId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let ok = !raw.is_empty()
            && raw.len() <= Self::MAX_LEN
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
        if ok {
            Ok(RequestId(raw.to_string()))
        } else {
            Err(Violation::new(
                "request_id",
                Code::InvalidRequestId,
                format!("{raw:?} is not a request id: 1 to 64 characters among A-Z a-z 0-9 . _ -"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The number of the card being renewed or replaced: one of ours (check character verified),
/// or a number from the previous issuer (before February 2022) that we cannot check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreviousNumber {
    Ours(CardNumber),
    Legacy(String),
}

impl PreviousNumber {
    /// Ours start with `F` and have 12 characters; a number of that shape with a wrong check
    /// character is a keying error, not a legacy number.
    pub fn parse(raw: &str, path: &str) -> Result<Self, Violation> {
        let cleaned: String = raw
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        let looks_ours = cleaned.len() == 12
            && cleaned.starts_with('F')
            && cleaned[1..9].bytes().all(|b| b.is_ascii_digit());
        if looks_ours {
            return CardNumber::parse(&cleaned)
                .map(PreviousNumber::Ours)
                .map_err(|e| {
                    Violation::new(path, Code::InvalidCardNumber, format!("{raw:?}: {e}"))
                });
        }
        let legacy =
            (6..=20).contains(&cleaned.len()) && cleaned.bytes().all(|b| b.is_ascii_alphanumeric());
        if legacy {
            Ok(PreviousNumber::Legacy(cleaned))
        } else {
            Err(Violation::new(
                path,
                Code::InvalidCardNumber,
                format!(
                    "{raw:?} is not a card number: ours are F + 8 digits + 3 characters; older ones 6 to 20 letters or digits"
                ),
            ))
        }
    }

    pub fn as_string(&self) -> String {
        match self {
            PreviousNumber::Ours(n) => n.to_string(),
            PreviousNumber::Legacy(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousCard {
    pub number: PreviousNumber,
    pub expiry: Date,
}

/// Why a replacement is made, carrying what that reason needs (a theft has a declaration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplacementCause {
    Loss,
    Theft { declaration_ref: String },
    Quality,
}

impl ReplacementCause {
    pub fn reason(&self) -> ReplacementReason {
        match self {
            ReplacementCause::Loss => ReplacementReason::Loss,
            ReplacementCause::Theft { .. } => ReplacementReason::Theft,
            ReplacementCause::Quality => ReplacementReason::Quality,
        }
    }
}

/// What the request is based on: nothing (first card), or a previous card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    FirstIssue,
    Renewal {
        previous: PreviousCard,
    },
    Replacement {
        previous: PreviousCard,
        cause: ReplacementCause,
    },
}

impl Basis {
    pub fn kind(&self) -> RequestKind {
        match self {
            Basis::FirstIssue => RequestKind::FirstIssue,
            Basis::Renewal { .. } => RequestKind::Renewal,
            Basis::Replacement { cause, .. } => RequestKind::Replacement(cause.reason()),
        }
    }

    pub fn previous(&self) -> Option<&PreviousCard> {
        match self {
            Basis::FirstIssue => None,
            Basis::Renewal { previous } | Basis::Replacement { previous, .. } => Some(previous),
        }
    }
}

/// A request that passed every intake rule.
#[derive(Debug, Clone)]
pub struct CardRequest {
    pub request_id: RequestId,
    pub basis: Basis,
    pub holder: Holder,
    pub qualifications: Qualifications,
    /// The portal's field 4b, compared with ours (a difference holds the request).
    pub expected_expiry: Option<Date>,
    /// The portal's code-95 date per group, compared the same way.
    pub expected_code95: Vec<(super::qualification::Group, Date)>,
    pub photo: Picture,
    pub signature: Picture,
    /// What the portal sent (kept to show and to re-format), and the NF Z10-011 block.
    pub address_input: AddressInput,
    pub address: PostalAddress,
}
