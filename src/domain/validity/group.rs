//! One group's code-95 date from its own training, then the rules that join the two groups.
//!
//! Sources (quoted in docs/validity.md):
//! - R. 3314-10: « une formation continue obligatoire tous les cinq ans, la première formation
//!   ayant lieu dans les cinq années qui suivent l'obtention de la qualification initiale »;
//! - R. 3314-12 (décret n° 2021-1482, from 1 February 2022): « peut être achevée par
//!   anticipation dans l'année qui précède la date à laquelle doit être remplie l'obligation
//!   … le délai de validité de cette formation ne commence à courir qu'à l'expiration de la
//!   période de validité de la formation précédente »; before: « dans les six mois »;
//! - R. 3314-13: the continuing training lets a holder drive both goods and passenger vehicles
//!   « sous réserve … d'avoir satisfait à la formation spécifique » (the passerelle), due
//!   « dans les cinq ans qui suivent la date à laquelle s'est achevée la formation
//!   spécifique ».

use time::Date;
use time::macros::date;

use super::calendar::{add_months, add_years};
use super::{Doubt, DoubtKind, GroupBasis, MAX_PREVIOUS_EXPIRY_YEARS, Rule, VALIDITY_YEARS};
use super::{Group, Training, ValidityError};

/// The day décret n° 2021-1482 put the one-year anticipation window of R. 3314-12 in force.
pub const DECREE_2021_1482_IN_FORCE: Date = date!(2022 - 02 - 01);

/// The anticipation window of R. 3314-12 before and after the décret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    SixMonths,
    OneYear,
}

impl Window {
    fn start(self, due: Date) -> Option<Date> {
        match self {
            Window::SixMonths => add_months(due, -6),
            Window::OneYear => add_years(due, -1),
        }
    }
}

/// A group's date from its own training, before the groups are joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Own {
    pub basis: GroupBasis,
    pub expiry: Date,
    pub rule: Rule,
    pub doubts: Vec<Doubt>,
}

pub(super) fn plausible(
    group: Option<Group>,
    previous: Date,
    today: Date,
) -> Result<(), ValidityError> {
    match add_years(today, MAX_PREVIOUS_EXPIRY_YEARS) {
        Some(limit) if previous > limit => Err(ValidityError::PreviousExpiryImplausible {
            group,
            previous_expiry: previous,
            limit,
        }),
        _ => Ok(()),
    }
}

fn five_years(from: Date) -> Result<Date, ValidityError> {
    add_years(from, VALIDITY_YEARS).ok_or(ValidityError::OutOfRange(from))
}

/// The group's date from its own training and its previous date.
pub(super) fn own(b: &GroupBasis, today: Date) -> Result<Own, ValidityError> {
    if b.training_end > today {
        return Err(ValidityError::TrainingInFuture {
            group: b.group,
            training_end: b.training_end,
            today,
        });
    }
    if let Some(previous) = b.previous {
        plausible(Some(b.group), previous, today)?;
    }
    let mut doubts = Vec::new();
    let (expiry, rule) = match b.training {
        Training::Fimo | Training::Long => {
            (five_years(b.training_end)?, Rule::InitialQualification)
        }
        Training::Passerelle => (five_years(b.training_end)?, Rule::Passerelle),
        Training::Fco => periodic(b, &mut doubts)?,
    };
    Ok(Own {
        basis: *b,
        expiry,
        rule,
        doubts,
    })
}

/// A periodic training (FCO). Without a current date, or completed on or after it, the five
/// years run from its end (on the due day both readings agree: due + 5 = end + 5). Before
/// the due day, R. 3314-12 decides.
fn periodic(b: &GroupBasis, doubts: &mut Vec<Doubt>) -> Result<(Date, Rule), ValidityError> {
    let end = b.training_end;
    let Some(due) = b.previous.filter(|&due| end < due) else {
        return Ok((five_years(end)?, Rule::PeriodicFromTraining));
    };
    let now_rule = anticipation(b.group, end, due, Window::OneYear)?;
    if end >= DECREE_2021_1482_IN_FORCE {
        doubts.extend(now_rule.2);
        return Ok((now_rule.0, now_rule.1));
    }
    // Completed under the six-month window: the rule in force then is our reading; when the
    // one-year window would give another date, a supervisor decides.
    let then_rule = anticipation(b.group, end, due, Window::SixMonths)?;
    doubts.extend(then_rule.2);
    if then_rule.0 != now_rule.0 {
        doubts.push(Doubt {
            kind: DoubtKind::PeriodicBeforeDecree,
            group: Some(b.group),
            chosen: then_rule.0,
            other: now_rule.0,
        });
    }
    Ok((then_rule.0, then_rule.1))
}

/// R. 3314-12 with a given window: inside it, five years from the due date; before it, five
/// years from the training. On the window's first day exactly the text does not say whether
/// that day is « dans l'année qui précède »: the usual way of counting a period in years
/// (same calendar day) includes it, so that is our reading, and the other is kept as a doubt.
fn anticipation(
    group: Group,
    end: Date,
    due: Date,
    window: Window,
) -> Result<(Date, Rule, Option<Doubt>), ValidityError> {
    let from_due = five_years(due)?;
    let from_end = five_years(end)?;
    let start = window.start(due).ok_or(ValidityError::OutOfRange(due))?;
    Ok(if end > start {
        (from_due, Rule::PeriodicAnticipated, None)
    } else if end == start {
        let doubt = Doubt {
            kind: DoubtKind::PeriodicWindowEdge,
            group: Some(group),
            chosen: from_due,
            other: from_end,
        };
        (from_due, Rule::PeriodicAnticipated, Some(doubt))
    } else {
        (from_end, Rule::PeriodicFromTraining, None)
    })
}

/// The rules that join two groups (R. 3314-13), applied to dates computed per group. Returns
/// the doubts the joining raises.
///
/// - The passerelle is the holder's most recent training: R. 3314-13 makes the continuing
///   training of a passerelle holder due « dans les cinq ans qui suivent la date à laquelle
///   s'est achevée la formation spécifique », for both groups since one FCO covers both: the
///   group already held takes the passerelle's date. Except where that group's date comes
///   from an anticipated FCO and is later: R. 3314-12 says that FCO's validity runs from the
///   previous expiry, and the two texts disagree, so the group keeps its date and the
///   request waits for review.
/// - A periodic training is the most recent, and the other group came by the passerelle: it
///   covers that group too (R. 3314-13), which takes its date.
/// - The same where the other group came by its own initial qualification: R. 3314-13 names
///   only passerelle holders, so the other group keeps its own date and, when the readings
///   differ, the request waits for review.
pub(super) fn join(own: &mut [Own]) -> Vec<Doubt> {
    let mut doubts = Vec::new();
    if let [a, b] = own {
        join_into(a, b, &mut doubts);
        join_into(b, a, &mut doubts);
    }
    doubts
}

/// Applies to `y` what `x`, the more recent training, says of it.
fn join_into(x: &Own, y: &mut Own, doubts: &mut Vec<Doubt>) {
    if x.basis.training_end < y.basis.training_end || x.expiry == y.expiry {
        return;
    }
    match (x.basis.training, y.basis.training) {
        (Training::Passerelle, Training::Passerelle) => {}
        (Training::Passerelle, _) if y.rule == Rule::PeriodicAnticipated && y.expiry > x.expiry => {
            doubts.push(Doubt {
                kind: DoubtKind::PasserelleAlignment,
                group: Some(y.basis.group),
                chosen: y.expiry,
                other: x.expiry,
            })
        }
        (Training::Passerelle, _) => {
            y.expiry = x.expiry;
            y.rule = Rule::AlignedOnPasserelle;
        }
        (Training::Fco, Training::Passerelle) => {
            y.expiry = x.expiry;
            y.rule = Rule::PeriodicOfOtherGroup;
        }
        (Training::Fco, Training::Fimo | Training::Long) => doubts.push(Doubt {
            kind: DoubtKind::PeriodicWithoutPasserelle,
            group: Some(y.basis.group),
            chosen: y.expiry,
            other: x.expiry,
        }),
        _ => {}
    }
}
