//! What a certificate says, as plain data, and how long it is valid.
//!
//! The page (`page.rs`) is drawn from this struct alone, so that where its data comes from
//! (`fill.rs`) can change without touching the page: the per-group code-95 dates of the card
//! record replace today's single expiry there, in one function.

use time::{Date, Month};

use crate::domain::holder::{MIN_AGE_YEARS, age_on};
use crate::domain::qualification::{Category, Group, Training};

/// The arrêté's « quatre mois ».
pub const VALIDITY_MONTHS: u8 = 4;

/// One certificate of qualification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The company that established the certificate and makes it available (annex 1 b).
    pub issuer: String,
    pub holder: Holder,
    /// One entry per qualification group, goods before passengers.
    pub groups: Vec<GroupEntry>,
    /// Its date of establishment: the day the request was accepted (docs/certificate.md).
    pub established: Date,
    /// The portal's request id, printed as the certificate's reference.
    pub request_id: String,
}

/// The holder, as on the card record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub surname: String,
    pub given_names: String,
    pub birth_date: Date,
}

/// One qualification group: its categories, the training that opened or renewed it, and the
/// end of its code-95 validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub group: Group,
    /// In card order (C1, C1E, C, CE, D1, …).
    pub categories: Vec<Category>,
    pub training: Training,
    pub training_end: Date,
    pub code95_expiry: Date,
}

/// The period during which the certificate justifies the holder's qualification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// The date of establishment, or the holder's majority when he was a minor on it.
    pub from: Date,
    /// The last day: `from` plus four months.
    pub until: Date,
    /// The holder was under 18 on the date of establishment.
    pub minor: bool,
}

impl Certificate {
    /// The arrêté's rule, applied to this certificate.
    pub fn validity(&self) -> Option<Validity> {
        validity(self.established, self.holder.birth_date)
    }
}

/// « pendant une durée de quatre mois à compter de sa date d'établissement ou, pour les
/// personnes mineures à la date d'établissement du certificat, pendant une durée de quatre
/// mois à compter de leur majorité » (arrêté du 18 janvier 2022, consolidated version,
/// LEGIARTI000047727003). The four months end on the day of the same number, or the last day
/// of the month when it has none (code de procédure civile, art. 641, by analogy: the arrêté
/// does not say how its months are counted). `None` only past the calendar's end.
pub fn validity(established: Date, birth: Date) -> Option<Validity> {
    let minor = age_on(birth, established) < MIN_AGE_YEARS;
    let from = if minor { majority(birth)? } else { established };
    Some(Validity {
        from,
        until: add_months(from, VALIDITY_MONTHS)?,
        minor,
    })
}

/// The day the holder turns 18: the first day on which `age_on` says 18, so the two can
/// never disagree. Born on 29 February, he is 18 on 1 March (18 years after a leap year is a
/// common year; Code civil art. 414: « dix-huit ans accomplis », and the eighteenth year is
/// complete once 28 February is over).
pub fn majority(birth: Date) -> Option<Date> {
    let year = birth.year() + MIN_AGE_YEARS;
    Date::from_calendar_date(year, birth.month(), birth.day())
        .or_else(|_| Date::from_calendar_date(year, Month::March, 1))
        .ok()
}

/// `d` plus `months` calendar months; a day the target month lacks becomes its last day
/// (31 October + 4 months = 28 or 29 February).
pub fn add_months(d: Date, months: u8) -> Option<Date> {
    let index = d.year() * 12 + i32::from(u8::from(d.month())) - 1 + i32::from(months);
    let year = index.div_euclid(12);
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, d.day().min(last)).ok()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn four_months_from_the_date_of_establishment() {
        for (established, until) in [
            (date!(2026 - 11 - 26), date!(2027 - 03 - 26)),
            (date!(2026 - 01 - 31), date!(2026 - 05 - 31)),
            // No 31 February: the last day of the month.
            (date!(2026 - 10 - 31), date!(2027 - 02 - 28)),
            (date!(2027 - 10 - 31), date!(2028 - 02 - 29)),
            (date!(2026 - 09 - 30), date!(2027 - 01 - 30)),
            (date!(2026 - 12 - 31), date!(2027 - 04 - 30)),
        ] {
            let v = validity(established, date!(1980 - 05 - 14)).unwrap();
            assert_eq!(
                v,
                Validity {
                    from: established,
                    until,
                    minor: false
                },
                "{established}"
            );
        }
    }

    #[test]
    fn a_minor_on_the_date_of_establishment_counts_from_his_majority() {
        // 17 on the day the certificate is established: four months from his 18th birthday.
        let v = validity(date!(2026 - 11 - 26), date!(2009 - 02 - 10)).unwrap();
        assert_eq!(
            v,
            Validity {
                from: date!(2027 - 02 - 10),
                until: date!(2027 - 06 - 10),
                minor: true
            }
        );
        // 18 that very day: an adult, four months from the date of establishment.
        let v = validity(date!(2026 - 11 - 26), date!(2008 - 11 - 26)).unwrap();
        assert_eq!(v.from, date!(2026 - 11 - 26));
        assert!(!v.minor);
        // The day before his birthday he is still a minor.
        let v = validity(date!(2026 - 11 - 25), date!(2008 - 11 - 26)).unwrap();
        assert!(v.minor);
        assert_eq!(v.from, date!(2026 - 11 - 26));
        assert_eq!(v.until, date!(2027 - 03 - 26));
        // Born on 29 February: 18 on 1 March of a common year, the day `age_on` says 18.
        let birth = date!(2008 - 02 - 29);
        assert_eq!(majority(birth), Some(date!(2026 - 03 - 01)));
        assert_eq!(age_on(birth, date!(2026 - 02 - 28)), 17);
        assert_eq!(age_on(birth, date!(2026 - 03 - 01)), 18);
        let v = validity(date!(2026 - 01 - 05), birth).unwrap();
        assert_eq!(
            (v.from, v.until, v.minor),
            (date!(2026 - 03 - 01), date!(2026 - 07 - 01), true)
        );
    }

    #[test]
    fn months_are_added_across_years() {
        assert_eq!(
            add_months(date!(2026 - 11 - 30), 4),
            Some(date!(2027 - 03 - 30))
        );
        assert_eq!(
            add_months(date!(2026 - 08 - 31), 4),
            Some(date!(2026 - 12 - 31))
        );
        assert_eq!(
            add_months(date!(2026 - 01 - 15), 0),
            Some(date!(2026 - 01 - 15))
        );
        assert_eq!(add_months(Date::MAX, 4), None);
    }
}
