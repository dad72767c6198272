//! Dates a card carries: 4a (issue), 4b (expiry), and each qualification group's code-95
//! date (field 10, printed per category on side 2).
//!
//! The portal sends its own expected dates, but a portal miscalculation must never be printed
//! (a 2022 platform bug shortened cards after an early FCO and every wrong card had to be
//! replaced free), so production recomputes every date from the law. Each group (goods,
//! passengers) has its own history and its own date: one training never moves the other
//! group's date unless a text says so. Where the public texts are silent or can be read two
//! ways and the readings give different dates, the computation says so ([`Doubt`]) and the
//! request is held for a supervisor instead of printing a guess. The rules, their sources and
//! the test table are in `docs/validity.md`.

mod calendar;
mod group;
#[cfg(test)]
mod tests;

use std::fmt;

use thiserror::Error;
use time::Date;

pub use calendar::{add_months, add_years};

use super::qualification::{Group, Training};
use super::request_kind::ReplacementReason;
use super::violation::Code;

/// A qualification runs five years (code des transports R. 3314-10: « tous les cinq ans »).
pub const VALIDITY_YEARS: i32 = 5;

/// A previous date cannot lie more than this many years after today. One renewal on an early
/// FCO can push a card a little past five years from its issue; a date beyond two full
/// periods can only be a typing or portal error, and printing it would hand out a decade of
/// qualification (our choice, documented in `docs/validity.md`).
pub const MAX_PREVIOUS_EXPIRY_YEARS: i32 = 2 * VALIDITY_YEARS;

/// What one group's date is computed from: its most recent qualifying training and the date
/// the group carried before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupBasis {
    pub group: Group,
    pub training: Training,
    pub training_end: Date,
    /// The group's code-95 date before this training (the previous card's, or the portal's
    /// `previous_expiry`); `None` when the holder has no date for this group.
    pub previous: Option<Date>,
}

/// What the dates of a new card are computed from. A replacement carries no training, so a
/// training date cannot be used by mistake; a training-based card carries one entry per
/// group, so a group's date cannot come from the other group's training unless a rule says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Basis {
    /// First issue or renewal: each group from its own qualifying training (one or two
    /// entries, at most one per group).
    Trained(Vec<GroupBasis>),
    /// The card is reproduced identically ("à l'identique"): the previous card's expiry and
    /// each group's previous date, unchanged.
    Replacement {
        reason: ReplacementReason,
        previous_expiry: Date,
        groups: Vec<(Group, Date)>,
    },
}

/// Which rule gave a group its date (recorded with the card, shown to supervisors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Initial qualification (FIMO or long training): five years from its end (R. 3314-10).
    InitialQualification,
    /// Passerelle: the initial qualification of the other group, five years from the end of
    /// the specific training (R. 3314-7, R. 3314-13).
    Passerelle,
    /// Periodic training with no current date, completed late, or completed earlier than the
    /// anticipation window: five years from its own end (R. 3314-10).
    PeriodicFromTraining,
    /// Periodic training completed within the year before the current date: the new five
    /// years run from that date (R. 3314-12).
    PeriodicAnticipated,
    /// The other group's periodic training, for a holder who came to this group through the
    /// passerelle: one continuing training covers both groups (R. 3314-13).
    PeriodicOfOtherGroup,
    /// The passerelle to the other group is the holder's most recent training: the continuing
    /// training of both groups is due five years after it (R. 3314-13).
    AlignedOnPasserelle,
    /// A replacement keeps the previous card's date.
    Replacement,
}

impl Rule {
    pub const ALL: [Rule; 7] = [
        Rule::InitialQualification,
        Rule::Passerelle,
        Rule::PeriodicFromTraining,
        Rule::PeriodicAnticipated,
        Rule::PeriodicOfOtherGroup,
        Rule::AlignedOnPasserelle,
        Rule::Replacement,
    ];

    /// Stable name, stored with the card.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::InitialQualification => "initial_qualification",
            Rule::Passerelle => "passerelle",
            Rule::PeriodicFromTraining => "periodic_from_training",
            Rule::PeriodicAnticipated => "periodic_anticipated",
            Rule::PeriodicOfOtherGroup => "periodic_of_other_group",
            Rule::AlignedOnPasserelle => "aligned_on_passerelle",
            Rule::Replacement => "replacement",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The text the rule comes from, for people.
    pub fn source(self) -> &'static str {
        match self {
            Rule::InitialQualification => "code des transports R. 3314-10",
            Rule::Passerelle => "code des transports R. 3314-7, R. 3314-8, R. 3314-13",
            Rule::PeriodicFromTraining => "code des transports R. 3314-10",
            Rule::PeriodicAnticipated => {
                "code des transports R. 3314-12 (décret n° 2021-1482 du 12 novembre 2021)"
            }
            Rule::PeriodicOfOtherGroup | Rule::AlignedOnPasserelle => {
                "code des transports R. 3314-13"
            }
            Rule::Replacement => "reproduction à l'identique (domain.md §1, §3)",
        }
    }
}

/// One group's code-95 date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupValidity {
    pub group: Group,
    pub expiry: Date,
    pub rule: Rule,
}

impl GroupValidity {
    /// Field 10's notation, e.g. `95.01.06.2029`.
    pub fn code_95(&self) -> String {
        code_95(self.expiry)
    }
}

/// A question the public texts leave open, where the readings give different dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DoubtKind {
    /// The periodic training ended exactly one year (six months before 2022) before the
    /// current date: R. 3314-12 says « dans l'année qui précède » without saying whether that
    /// first day counts.
    PeriodicWindowEdge,
    /// The periodic training ended before 1 February 2022, when R. 3314-12 allowed six months
    /// of anticipation instead of a year; no transitional rule was found.
    PeriodicBeforeDecree,
    /// The passerelle is the most recent training, but the group already held has a later
    /// date from an anticipated FCO: R. 3314-13 puts the next continuing training five years
    /// after the passerelle, R. 3314-12 runs the anticipated FCO from the previous expiry.
    PasserelleAlignment,
    /// A periodic training of the other group, for a holder who holds this group by its own
    /// initial qualification (no passerelle): R. 3314-13 names only passerelle holders.
    PeriodicWithoutPasserelle,
    /// The groups end on different dates: no text found says which one field 4b carries.
    CardExpiry,
}

impl DoubtKind {
    pub const ALL: [DoubtKind; 5] = [
        DoubtKind::PeriodicWindowEdge,
        DoubtKind::PeriodicBeforeDecree,
        DoubtKind::PasserelleAlignment,
        DoubtKind::PeriodicWithoutPasserelle,
        DoubtKind::CardExpiry,
    ];

    /// Stable name, part of the portal contract (review reasons).
    pub fn as_str(self) -> &'static str {
        match self {
            DoubtKind::PeriodicWindowEdge => "periodic_window_edge",
            DoubtKind::PeriodicBeforeDecree => "periodic_before_decree_2021_1482",
            DoubtKind::PasserelleAlignment => "passerelle_alignment",
            DoubtKind::PeriodicWithoutPasserelle => "periodic_without_passerelle",
            DoubtKind::CardExpiry => "card_expiry_from_two_dates",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An open question, the date we chose (our reading, never longer than the other when the
/// texts give no reason to), and the date the other reading gives. A supervisor decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Doubt {
    pub kind: DoubtKind,
    /// The group whose date is in doubt; `None` for field 4b.
    pub group: Option<Group>,
    pub chosen: Date,
    pub other: Date,
}

/// The dates printed on the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validity {
    /// 4a: the day production accepts the request.
    pub issue: Date,
    /// 4b.
    pub expiry: Date,
    /// Field 10, one entry per group, goods first.
    pub groups: Vec<GroupValidity>,
    /// Questions the texts leave open for these dates; any makes the request wait for review.
    pub doubts: Vec<Doubt>,
}

impl Validity {
    /// The code-95 date of `group`, if the card carries that group.
    pub fn group(&self, group: Group) -> Option<&GroupValidity> {
        self.groups.iter().find(|g| g.group == group)
    }
}

/// Why no card can be issued on this basis today. Each variant maps to a stable violation code
/// ([`ValidityError::code`]) that the portal keys on, and names its group where it has one so
/// intake can point at the right `qualifications[i]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ValidityError {
    /// A training cannot have ended after the day we accept the request (contract: "not in the
    /// future").
    #[error("training ended on {training_end}, after today ({today})")]
    TrainingInFuture {
        group: Group,
        training_end: Date,
        today: Date,
    },
    /// The group's qualification would be born expired.
    #[error(
        "training ended on {training_end}: the {} qualification would expire on {expiry}, not after today ({today})",
        group.as_str()
    )]
    TrainingTooOld {
        group: Group,
        training_end: Date,
        expiry: Date,
        today: Date,
    },
    /// An expired card is renewed (new training), never replaced: a replacement keeps the
    /// expiry and would print an expired card.
    #[error(
        "the previous card expired on {previous_expiry} (today is {today}): it must be renewed, not replaced"
    )]
    PreviousCardExpired { previous_expiry: Date, today: Date },
    /// No card issued under these rules ends that far ahead; see [`MAX_PREVIOUS_EXPIRY_YEARS`].
    #[error("the previous date {previous_expiry} is implausible: later than {limit}")]
    PreviousExpiryImplausible {
        group: Option<Group>,
        previous_expiry: Date,
        limit: Date,
    },
    /// The expiry would fall outside the calendar the date library supports (year 9999).
    #[error("{0} plus {VALIDITY_YEARS} years is outside the supported calendar")]
    OutOfRange(Date),
    /// A card carries at least one qualification (intake refuses an empty list first).
    #[error("no qualification to compute the dates from")]
    NoQualification,
}

impl ValidityError {
    /// The violation code reported to the portal for this error.
    pub fn code(&self) -> Code {
        match self {
            ValidityError::TrainingInFuture { .. } => Code::DateInFuture,
            ValidityError::TrainingTooOld { .. } => Code::TrainingTooOld,
            ValidityError::PreviousCardExpired { .. } => Code::PreviousCardExpired,
            ValidityError::PreviousExpiryImplausible { .. } | ValidityError::OutOfRange(_) => {
                Code::InvalidDate
            }
            ValidityError::NoQualification => Code::NoQualifications,
        }
    }

    /// The group the error is about, `None` when it concerns the previous card as a whole.
    pub fn group(&self) -> Option<Group> {
        match *self {
            ValidityError::TrainingInFuture { group, .. }
            | ValidityError::TrainingTooOld { group, .. } => Some(group),
            ValidityError::PreviousExpiryImplausible { group, .. } => group,
            ValidityError::PreviousCardExpired { .. }
            | ValidityError::OutOfRange(_)
            | ValidityError::NoQualification => None,
        }
    }
}

/// Computes the dates of a card accepted for production on `today`, or every reason it
/// cannot be issued.
///
/// Issue (4a) is `today`: the card did not exist before. Each group's date follows its own
/// training ([`group`] module); then the rules that join the groups (R. 3314-13) are applied;
/// then 4b is derived from the group dates.
pub fn compute(basis: &Basis, today: Date) -> Result<Validity, Vec<ValidityError>> {
    match basis {
        Basis::Trained(groups) => trained(groups, today),
        Basis::Replacement {
            previous_expiry,
            groups,
            ..
        } => replacement(*previous_expiry, groups, today).map_err(|e| vec![e]),
    }
}

fn trained(groups: &[GroupBasis], today: Date) -> Result<Validity, Vec<ValidityError>> {
    let mut errors = Vec::new();
    let mut own = Vec::with_capacity(groups.len());
    for b in groups {
        match group::own(b, today) {
            Ok(o) => own.push(o),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    own.sort_by_key(|o| o.basis.group);
    let mut doubts = group::join(&mut own);
    for o in &own {
        if o.expiry <= today {
            errors.push(ValidityError::TrainingTooOld {
                group: o.basis.group,
                training_end: o.basis.training_end,
                expiry: o.expiry,
                today,
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    doubts.extend(own.iter().flat_map(|o| o.doubts.iter().copied()));
    let groups: Vec<GroupValidity> = own
        .iter()
        .map(|o| GroupValidity {
            group: o.basis.group,
            expiry: o.expiry,
            rule: o.rule,
        })
        .collect();
    let (expiry, doubt) = card_expiry(&groups).ok_or(vec![ValidityError::NoQualification])?;
    doubts.extend(doubt);
    Ok(Validity {
        issue: today,
        expiry,
        groups,
        doubts,
    })
}

fn replacement(
    previous_expiry: Date,
    groups: &[(Group, Date)],
    today: Date,
) -> Result<Validity, ValidityError> {
    if previous_expiry <= today {
        return Err(ValidityError::PreviousCardExpired {
            previous_expiry,
            today,
        });
    }
    group::plausible(None, previous_expiry, today)?;
    let mut out = Vec::with_capacity(groups.len());
    for &(group, expiry) in groups {
        group::plausible(Some(group), expiry, today)?;
        out.push(GroupValidity {
            group,
            expiry,
            rule: Rule::Replacement,
        });
    }
    out.sort_by_key(|g| g.group);
    Ok(Validity {
        issue: today,
        expiry: previous_expiry,
        groups: out,
        doubts: Vec::new(),
    })
}

/// Field 4b from the group dates. One group, or two ending the same day: that date, which
/// every reading gives. Two different dates: no text found says which one 4b carries
/// (research in docs/validity.md), so the later one is taken — the card stays the holder's
/// proof while either qualification runs, and side 2 says until when each runs — and the
/// request waits for review with the earlier date as the other reading.
fn card_expiry(groups: &[GroupValidity]) -> Option<(Date, Option<Doubt>)> {
    let latest = groups.iter().map(|g| g.expiry).max()?;
    let earliest = groups.iter().map(|g| g.expiry).min()?;
    let doubt = (latest != earliest).then_some(Doubt {
        kind: DoubtKind::CardExpiry,
        group: None,
        chosen: latest,
        other: earliest,
    });
    Some((latest, doubt))
}

/// Field 10's notation of a date, `95.dd.mm.yyyy` (Reg. (EU) 2022/1280 example
/// `95.01.06.2029`).
pub fn code_95(expiry: Date) -> String {
    format!(
        "95.{:02}.{:02}.{:04}",
        expiry.day(),
        u8::from(expiry.month()),
        expiry.year()
    )
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "issued {} expires {}", self.issue, self.expiry)?;
        for g in &self.groups {
            write!(f, ", {} {}", g.group.as_str(), g.code_95())?;
        }
        Ok(())
    }
}
