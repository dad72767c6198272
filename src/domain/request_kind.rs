//! What the portal asks for: a first card, a renewal, or a replacement (and why).

use std::fmt;

/// Why a card is replaced. The reason decides which index of the card number moves and
/// whether the old number must be revoked first (domain.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplacementReason {
    /// Lost card: revoked, reproduced with the same data and expiry.
    Loss,
    /// Stolen card: as a loss, and a police declaration reference is mandatory.
    Theft,
    /// Defective card posted back: reproduced with the same data and expiry.
    Quality,
}

impl ReplacementReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplacementReason::Loss => "loss",
            ReplacementReason::Theft => "theft",
            ReplacementReason::Quality => "quality",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "loss" => Some(ReplacementReason::Loss),
            "theft" => Some(ReplacementReason::Theft),
            "quality" => Some(ReplacementReason::Quality),
            _ => None,
        }
    }
}

/// The kind of a card request, with the replacement reason folded in so that a replacement
/// without a reason cannot exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    FirstIssue,
    Renewal,
    Replacement(ReplacementReason),
}

impl RequestKind {
    /// The portal's `kind` field value.
    pub fn wire_kind(self) -> &'static str {
        match self {
            RequestKind::FirstIssue => "first_issue",
            RequestKind::Renewal => "renewal",
            RequestKind::Replacement(_) => "replacement",
        }
    }

    /// A single label for logs and the console (`replacement_loss` ...).
    pub fn label(self) -> String {
        match self {
            RequestKind::Replacement(r) => format!("replacement_{}", r.as_str()),
            other => other.wire_kind().to_string(),
        }
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}
