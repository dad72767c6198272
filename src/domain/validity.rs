//! Dates of issue and expiry of a card: fields 4a and 4b, and the date printed after the Union
//! code 95 (field 10).
//!
//! The portal sends its own `expected_expiry`, but a portal miscalculation must never be printed
//! (a 2022 platform bug shortened cards after an early FCO and every wrong card had to be replaced
//! free), so production recomputes the dates from the rules of domain.md §2 and holds the request
//! for review when the two disagree. The rules, the test table and the sources are in
//! `docs/validity.md`.

use std::fmt;

use thiserror::Error;
use time::{Date, Month};

use super::request_kind::ReplacementReason;
use super::violation::Code;

/// A card is valid five years (Directive 2003/59/EC Annex II, domain.md §2).
pub const VALIDITY_YEARS: i32 = 5;

/// A previous card cannot end more than this many years after today. One renewal on an early
/// FCO can push a card a little past five years from its issue; a date beyond two full periods
/// can only be a typing or portal error, and printing it would hand out a decade of
/// qualification (our choice, documented in `docs/validity.md`).
pub const MAX_PREVIOUS_EXPIRY_YEARS: i32 = 2 * VALIDITY_YEARS;

/// What the dates of a new card are computed from. Each kind carries exactly the data its rule
/// needs, so a renewal or replacement without the previous card cannot be expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// First card of a holder: runs from the end of the qualifying training (FIMO, long
    /// training, FCO or passerelle). With two qualifications, pass the latest `training_end`.
    FirstIssue { training_end: Date },
    /// New card after a periodic training (FCO). With two qualifications, pass the latest
    /// `training_end`.
    Renewal {
        training_end: Date,
        previous_expiry: Date,
    },
    /// The card is reproduced identically ("à l'identique"): the training is irrelevant, only
    /// the previous card's expiry counts.
    Replacement {
        reason: ReplacementReason,
        previous_expiry: Date,
    },
}

/// The dates printed on the card: 4a (issue) and 4b (expiry); code 95 carries the expiry too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Validity {
    pub issue: Date,
    pub expiry: Date,
}

impl Validity {
    /// The field-10 notation of the Union code 95 with its expiry, e.g. `95.01.06.2029`
    /// (domain.md §2, Reg. (EU) 2022/1280), so that the card front and back cannot disagree.
    pub fn code_95(&self) -> String {
        format!(
            "95.{:02}.{:02}.{:04}",
            self.expiry.day(),
            u8::from(self.expiry.month()),
            self.expiry.year()
        )
    }
}

/// Why no card can be issued on this basis today. Each variant maps to a stable violation code
/// ([`ValidityError::code`]) that the portal keys on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ValidityError {
    /// A training cannot have ended after the day we accept the request (contract: "not in the
    /// future").
    #[error("training ended on {training_end}, after today ({today})")]
    TrainingInFuture { training_end: Date, today: Date },
    /// The card would be born expired: the training is more than five years old.
    #[error(
        "training ended on {training_end}: the card would expire on {expiry}, not after today ({today})"
    )]
    TrainingTooOld {
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
    #[error("the previous card's expiry {previous_expiry} is implausible: later than {limit}")]
    PreviousExpiryImplausible { previous_expiry: Date, limit: Date },
    /// The expiry would fall outside the calendar the date library supports (year 9999).
    #[error("{0} plus {VALIDITY_YEARS} years is outside the supported calendar")]
    OutOfRange(Date),
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
        }
    }
}

/// Computes fields 4a and 4b of a card accepted for production on `today`.
///
/// Issue is `today`: the day production accepts the request, not the training day, because the
/// card did not exist before. The expiry follows domain.md §2:
/// - first issue: `training_end` + 5 years;
/// - renewal: from the previous expiry when the training ended before it (an early FCO must
///   not shorten the card), else from `training_end`;
/// - replacement (loss, theft, quality): the previous expiry, unchanged.
pub fn compute(basis: &Basis, today: Date) -> Result<Validity, ValidityError> {
    let expiry = match *basis {
        Basis::FirstIssue { training_end } => from_training(training_end, training_end, today)?,
        Basis::Renewal {
            training_end,
            previous_expiry,
        } => {
            plausible_previous(previous_expiry, today)?;
            let start = if training_end < previous_expiry {
                previous_expiry
            } else {
                training_end
            };
            from_training(training_end, start, today)?
        }
        Basis::Replacement {
            previous_expiry, ..
        } => {
            if previous_expiry <= today {
                return Err(ValidityError::PreviousCardExpired {
                    previous_expiry,
                    today,
                });
            }
            plausible_previous(previous_expiry, today)?;
            previous_expiry
        }
    };
    Ok(Validity {
        issue: today,
        expiry,
    })
}

/// The same calendar day `years` later (or earlier), `None` outside the supported calendar.
///
/// 29 February lands on 28 February in a common year: no source says which way to round, and a
/// validity must never be longer than the five years the law grants, so we stay on the last day
/// of February rather than spill into 1 March (our choice, documented in docs/validity.md).
pub fn add_years(d: Date, years: i32) -> Option<Date> {
    let year = d.year().checked_add(years)?;
    let day = if d.month() == Month::February && d.day() == 29 && !time::util::is_leap_year(year) {
        28
    } else {
        d.day()
    };
    Date::from_calendar_date(year, d.month(), day).ok()
}

/// Expiry of a card earned by a training that ended on `training_end`, running five years from
/// `start`: refuses a training not yet finished and a card that would be born expired.
fn from_training(training_end: Date, start: Date, today: Date) -> Result<Date, ValidityError> {
    if training_end > today {
        return Err(ValidityError::TrainingInFuture {
            training_end,
            today,
        });
    }
    let expiry = add_years(start, VALIDITY_YEARS).ok_or(ValidityError::OutOfRange(start))?;
    if expiry <= today {
        return Err(ValidityError::TrainingTooOld {
            training_end,
            expiry,
            today,
        });
    }
    Ok(expiry)
}

fn plausible_previous(previous_expiry: Date, today: Date) -> Result<(), ValidityError> {
    match add_years(today, MAX_PREVIOUS_EXPIRY_YEARS) {
        Some(limit) if previous_expiry > limit => Err(ValidityError::PreviousExpiryImplausible {
            previous_expiry,
            limit,
        }),
        _ => Ok(()),
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "issued {} expires {}", self.issue, self.expiry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    use ReplacementReason::{Loss, Quality, Theft};
    use ValidityError as E;

    fn first(training_end: Date) -> Basis {
        Basis::FirstIssue { training_end }
    }

    fn renewal(training_end: Date, previous_expiry: Date) -> Basis {
        Basis::Renewal {
            training_end,
            previous_expiry,
        }
    }

    fn replacement(reason: ReplacementReason, previous_expiry: Date) -> Basis {
        Basis::Replacement {
            reason,
            previous_expiry,
        }
    }

    /// (case, basis, today, expected expiry or error). The same table is in docs/validity.md.
    fn table() -> Vec<(&'static str, Basis, Date, Result<Date, ValidityError>)> {
        vec![
            (
                "contract example: fco ending 2026-10-30",
                first(date!(2026 - 10 - 30)),
                date!(2026 - 11 - 05),
                Ok(date!(2031 - 10 - 30)),
            ),
            (
                "first issue accepted the day the training ends",
                first(date!(2026 - 06 - 15)),
                date!(2026 - 06 - 15),
                Ok(date!(2031 - 06 - 15)),
            ),
            (
                "first issue on a leap-day training: 28 February",
                first(date!(2028 - 02 - 29)),
                date!(2028 - 03 - 10),
                Ok(date!(2033 - 02 - 28)),
            ),
            (
                "first issue whose card is valid one day",
                first(date!(2021 - 03 - 02)),
                date!(2026 - 03 - 01),
                Ok(date!(2026 - 03 - 02)),
            ),
            (
                "early fco runs from the previous expiry",
                renewal(date!(2026 - 03 - 01), date!(2026 - 09 - 15)),
                date!(2026 - 03 - 10),
                Ok(date!(2031 - 09 - 15)),
            ),
            (
                "fco the day before the previous expiry is early",
                renewal(date!(2026 - 09 - 14), date!(2026 - 09 - 15)),
                date!(2026 - 09 - 14),
                Ok(date!(2031 - 09 - 15)),
            ),
            (
                "fco on the previous expiry day: both rules agree",
                renewal(date!(2026 - 09 - 15), date!(2026 - 09 - 15)),
                date!(2026 - 09 - 20),
                Ok(date!(2031 - 09 - 15)),
            ),
            (
                "fco the day after the previous expiry runs from the training",
                renewal(date!(2026 - 09 - 16), date!(2026 - 09 - 15)),
                date!(2026 - 09 - 16),
                Ok(date!(2031 - 09 - 16)),
            ),
            (
                "late renewal of an expired card runs from the training",
                renewal(date!(2026 - 02 - 01), date!(2025 - 01 - 01)),
                date!(2026 - 02 - 10),
                Ok(date!(2031 - 02 - 01)),
            ),
            (
                "early fco before a leap-day expiry: 28 February",
                renewal(date!(2027 - 12 - 01), date!(2028 - 02 - 29)),
                date!(2028 - 01 - 05),
                Ok(date!(2033 - 02 - 28)),
            ),
            (
                "loss keeps the previous expiry",
                replacement(Loss, date!(2029 - 06 - 01)),
                date!(2026 - 04 - 20),
                Ok(date!(2029 - 06 - 01)),
            ),
            (
                "theft keeps the previous expiry",
                replacement(Theft, date!(2029 - 06 - 01)),
                date!(2026 - 04 - 20),
                Ok(date!(2029 - 06 - 01)),
            ),
            (
                "quality keeps the previous expiry",
                replacement(Quality, date!(2029 - 06 - 01)),
                date!(2026 - 04 - 20),
                Ok(date!(2029 - 06 - 01)),
            ),
            (
                "replacement keeps a leap-day expiry exactly",
                replacement(Loss, date!(2028 - 02 - 29)),
                date!(2026 - 04 - 20),
                Ok(date!(2028 - 02 - 29)),
            ),
            (
                "replacement the day before the previous expiry",
                replacement(Theft, date!(2026 - 04 - 21)),
                date!(2026 - 04 - 20),
                Ok(date!(2026 - 04 - 21)),
            ),
            (
                "first issue: training ends tomorrow",
                first(date!(2026 - 04 - 21)),
                date!(2026 - 04 - 20),
                Err(E::TrainingInFuture {
                    training_end: date!(2026 - 04 - 21),
                    today: date!(2026 - 04 - 20),
                }),
            ),
            (
                "renewal: training ends tomorrow",
                renewal(date!(2026 - 04 - 21), date!(2026 - 09 - 15)),
                date!(2026 - 04 - 20),
                Err(E::TrainingInFuture {
                    training_end: date!(2026 - 04 - 21),
                    today: date!(2026 - 04 - 20),
                }),
            ),
            (
                "first issue would expire today: training too old",
                first(date!(2021 - 03 - 01)),
                date!(2026 - 03 - 01),
                Err(E::TrainingTooOld {
                    training_end: date!(2021 - 03 - 01),
                    expiry: date!(2026 - 03 - 01),
                    today: date!(2026 - 03 - 01),
                }),
            ),
            (
                "renewal on a training older than five years",
                renewal(date!(2020 - 06 - 01), date!(2020 - 01 - 01)),
                date!(2026 - 01 - 01),
                Err(E::TrainingTooOld {
                    training_end: date!(2020 - 06 - 01),
                    expiry: date!(2025 - 06 - 01),
                    today: date!(2026 - 01 - 01),
                }),
            ),
            (
                "early fco on a card expired five years ago is still too old",
                renewal(date!(2019 - 06 - 01), date!(2020 - 01 - 01)),
                date!(2026 - 01 - 01),
                Err(E::TrainingTooOld {
                    training_end: date!(2019 - 06 - 01),
                    expiry: date!(2025 - 01 - 01),
                    today: date!(2026 - 01 - 01),
                }),
            ),
            (
                "replacement of a card that expired yesterday",
                replacement(Loss, date!(2026 - 04 - 19)),
                date!(2026 - 04 - 20),
                Err(E::PreviousCardExpired {
                    previous_expiry: date!(2026 - 04 - 19),
                    today: date!(2026 - 04 - 20),
                }),
            ),
            (
                "replacement of a card that expires today",
                replacement(Quality, date!(2026 - 04 - 20)),
                date!(2026 - 04 - 20),
                Err(E::PreviousCardExpired {
                    previous_expiry: date!(2026 - 04 - 20),
                    today: date!(2026 - 04 - 20),
                }),
            ),
            (
                "renewal from a previous expiry more than ten years ahead",
                renewal(date!(2026 - 03 - 01), date!(2036 - 04 - 21)),
                date!(2026 - 04 - 20),
                Err(E::PreviousExpiryImplausible {
                    previous_expiry: date!(2036 - 04 - 21),
                    limit: date!(2036 - 04 - 20),
                }),
            ),
            (
                "replacement of a card said to end in 2301",
                replacement(Theft, date!(2301 - 01 - 01)),
                date!(2026 - 04 - 20),
                Err(E::PreviousExpiryImplausible {
                    previous_expiry: date!(2301 - 01 - 01),
                    limit: date!(2036 - 04 - 20),
                }),
            ),
        ]
    }

    #[test]
    fn every_row_of_the_table_holds() {
        let rows = table();
        assert!(rows.len() >= 15);
        for (case, basis, today, expected) in rows {
            let got = compute(&basis, today);
            let expected = expected.map(|expiry| Validity {
                issue: today,
                expiry,
            });
            assert_eq!(got, expected, "{case}");
        }
    }

    #[test]
    fn add_years_rounds_a_leap_day_down_and_keeps_other_days() {
        let rows = [
            (date!(2028 - 02 - 29), 5, Some(date!(2033 - 02 - 28))),
            (date!(2024 - 02 - 29), 4, Some(date!(2028 - 02 - 29))),
            (date!(2028 - 02 - 29), -1, Some(date!(2027 - 02 - 28))),
            (date!(2027 - 02 - 28), 1, Some(date!(2028 - 02 - 28))),
            (date!(2026 - 12 - 31), 5, Some(date!(2031 - 12 - 31))),
            (date!(9996 - 01 - 01), 5, None),
        ];
        for (d, years, expected) in rows {
            assert_eq!(add_years(d, years), expected, "{d} + {years}");
        }
    }

    #[test]
    fn an_expiry_past_the_calendar_is_an_error_not_a_panic() {
        let today = date!(9996 - 06 - 01);
        assert_eq!(compute(&first(today), today), Err(E::OutOfRange(today)));
    }

    #[test]
    fn code_95_prints_day_month_year_of_the_expiry() {
        let v = Validity {
            issue: date!(2024 - 06 - 01),
            expiry: date!(2029 - 06 - 01),
        };
        assert_eq!(v.code_95(), "95.01.06.2029");
    }

    #[test]
    fn each_error_maps_to_its_stable_code_and_says_why() {
        let today = date!(2026 - 04 - 20);
        let cases = [
            (
                first(date!(2026 - 05 - 01)),
                "date_in_future",
                "after today",
            ),
            (
                first(date!(2020 - 01 - 01)),
                "training_too_old",
                "would expire",
            ),
            (
                replacement(Loss, date!(2026 - 01 - 01)),
                "previous_card_expired",
                "must be renewed",
            ),
            (
                replacement(Loss, date!(2099 - 01 - 01)),
                "invalid_date",
                "implausible",
            ),
        ];
        for (basis, code, words) in cases {
            let Err(e) = compute(&basis, today) else {
                panic!("{basis:?} accepted");
            };
            assert_eq!(e.code().as_str(), code);
            assert!(e.to_string().contains(words), "{e}");
        }
    }
}
