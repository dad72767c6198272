//! The dates of an accepted request, and whether they wait for review.
//!
//! Each group's previous date comes, in this order, from our own record of the previous card
//! (when we issued it: the dates we printed), from the portal's `previous_expiry` of that
//! group, and, for a card we did not issue, from `previous_card.expiry` (docs/validity.md,
//! "Previous dates"). A portal date that differs from our record holds the request.

use time::Date;

use crate::domain::qualification::Group;
use crate::domain::request::{Basis, CardRequest, PreviousNumber};
use crate::domain::review::{PreviousRecord, ReviewReason};
use crate::domain::validity::{self, GroupBasis, Validity, ValidityError};
use crate::domain::violation::Violation;

/// The dates a request gets, and the reasons (if any) a supervisor must look first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dates {
    pub validity: Validity,
    pub review: Vec<ReviewReason>,
}

impl Dates {
    pub fn held(&self) -> bool {
        !self.review.is_empty()
    }
}

/// Computes the dates of `request` accepted on `today`. `known` is our record of the previous
/// card when it is one of ours.
pub fn dates(
    request: &CardRequest,
    today: Date,
    known: Option<&PreviousRecord>,
) -> Result<Dates, Vec<Violation>> {
    let mut review = Vec::new();
    let previous_expiry = request.basis.previous().map(|p| p.expiry);
    if let (Some(portal), Some(k)) = (previous_expiry, known)
        && portal != k.expiry
    {
        review.push(ReviewReason::PreviousExpiry {
            portal,
            ours: k.expiry,
        });
    }
    // The card's 4b stands for every group on a card we did not issue (the contract's rule).
    let legacy = match request.basis.previous() {
        Some(p) if matches!(p.number, PreviousNumber::Legacy(_)) || known.is_none() => {
            Some(p.expiry)
        }
        _ => None,
    };
    let mut previous_of = |group: Group, portal: Option<Date>| -> Option<Date> {
        match known.and_then(|k| k.group(group)) {
            Some(ours) => {
                if let Some(portal) = portal.filter(|&p| p != ours) {
                    review.push(ReviewReason::PreviousCode95 {
                        group,
                        portal,
                        ours,
                    });
                }
                Some(ours)
            }
            None => portal.or(legacy),
        }
    };
    let basis = match &request.basis {
        Basis::FirstIssue | Basis::Renewal { .. } => validity::Basis::Trained(
            request
                .qualifications
                .iter()
                .map(|q| GroupBasis {
                    group: q.group(),
                    training: q.training,
                    training_end: q.training_end,
                    previous: previous_of(q.group(), q.previous_expiry),
                })
                .collect(),
        ),
        Basis::Replacement { previous, cause } => validity::Basis::Replacement {
            reason: cause.reason(),
            previous_expiry: known.map_or(previous.expiry, |k| k.expiry),
            groups: request
                .qualifications
                .iter()
                .map(|q| {
                    let date = previous_of(q.group(), q.previous_expiry).unwrap_or(previous.expiry);
                    (q.group(), date)
                })
                .collect(),
        },
    };
    let validity = validity::compute(&basis, today).map_err(|errors| {
        errors
            .iter()
            .map(|e| violation(request, e))
            .collect::<Vec<_>>()
    })?;
    if let Some(expected) = request.expected_expiry
        && expected != validity.expiry
    {
        review.push(ReviewReason::ExpectedExpiry {
            expected,
            computed: validity.expiry,
        });
    }
    for &(group, expected) in &request.expected_code95 {
        if let Some(g) = validity.group(group)
            && g.expiry != expected
        {
            review.push(ReviewReason::ExpectedCode95 {
                group,
                expected,
                computed: g.expiry,
            });
        }
    }
    review.extend(validity.doubts.iter().copied().map(ReviewReason::Doubt));
    Ok(Dates { validity, review })
}

/// The violation for a validity error, at the path of the date it is about.
fn violation(request: &CardRequest, e: &ValidityError) -> Violation {
    let at = |group: Group, field: &str| {
        let i = request.qualifications.position(group).unwrap_or(0);
        format!("qualifications[{i}].{field}")
    };
    let path = match *e {
        ValidityError::TrainingInFuture { group, .. }
        | ValidityError::TrainingTooOld { group, .. } => at(group, "training_end"),
        ValidityError::PreviousExpiryImplausible {
            group: Some(group), ..
        } if request
            .qualifications
            .of(group)
            .is_some_and(|q| q.previous_expiry.is_some()) =>
        {
            at(group, "previous_expiry")
        }
        ValidityError::PreviousExpiryImplausible { .. }
        | ValidityError::PreviousCardExpired { .. }
            if request.basis.previous().is_some() =>
        {
            "previous_card.expiry".to_string()
        }
        ValidityError::NoQualification => "qualifications".to_string(),
        _ => at(
            request
                .qualifications
                .iter()
                .next()
                .map_or(Group::Goods, |q| q.group()),
            "training_end",
        ),
    };
    Violation::new(path, e.code(), e.to_string())
}
