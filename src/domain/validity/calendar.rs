//! Calendar arithmetic for legal periods counted in years and months.
//!
//! A period of N years or months ends on the same calendar day (code de procédure civile,
//! art. 641: « le jour du dernier mois ou de la dernière année qui porte le même quantième »).
//! When that day does not exist (29 February in a common year, the 31st of a shorter month),
//! we stay on the last day of the month rather than spill into the next one: a qualification
//! must never run longer than the law grants (our choice, documented in docs/validity.md).

use time::{Date, Month};

/// The same calendar day `years` later (or earlier), `None` outside the supported calendar.
pub fn add_years(d: Date, years: i32) -> Option<Date> {
    let year = d.year().checked_add(years)?;
    on_or_before(year, d.month(), d.day())
}

/// The same calendar day `months` later (or earlier), `None` outside the supported calendar.
pub fn add_months(d: Date, months: i32) -> Option<Date> {
    let index = d.year().checked_mul(12)? + i32::from(u8::from(d.month())) - 1;
    let target = index.checked_add(months)?;
    let year = target.div_euclid(12);
    let month = Month::try_from(u8::try_from(target.rem_euclid(12) + 1).ok()?).ok()?;
    on_or_before(year, month, d.day())
}

/// `day` of that month, or the month's last day when it has fewer.
fn on_or_before(year: i32, month: Month, day: u8) -> Option<Date> {
    let last = time::util::days_in_month(month, year);
    Date::from_calendar_date(year, month, day.min(last)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn years_keep_the_day_and_round_a_leap_day_down() {
        let rows = [
            (date!(2028 - 02 - 29), 5, Some(date!(2033 - 02 - 28))),
            (date!(2024 - 02 - 29), 4, Some(date!(2028 - 02 - 29))),
            (date!(2028 - 02 - 29), -1, Some(date!(2027 - 02 - 28))),
            (date!(2027 - 02 - 28), 1, Some(date!(2028 - 02 - 28))),
            (date!(2026 - 12 - 31), 5, Some(date!(2031 - 12 - 31))),
            (date!(9996 - 01 - 01), 5, None),
        ];
        for (d, years, expected) in rows {
            assert_eq!(add_years(d, years), expected, "{d} + {years} years");
        }
    }

    #[test]
    fn months_keep_the_day_or_take_the_last_day_of_a_shorter_month() {
        let rows = [
            (date!(2027 - 03 - 15), -6, Some(date!(2026 - 09 - 15))),
            (date!(2022 - 08 - 31), -6, Some(date!(2022 - 02 - 28))),
            (date!(2024 - 08 - 31), -6, Some(date!(2024 - 02 - 29))),
            (date!(2026 - 01 - 31), 1, Some(date!(2026 - 02 - 28))),
            (date!(2026 - 12 - 15), 1, Some(date!(2027 - 01 - 15))),
            (date!(2026 - 01 - 15), -1, Some(date!(2025 - 12 - 15))),
            (date!(9999 - 12 - 01), 1, None),
        ];
        for (d, months, expected) in rows {
            assert_eq!(add_months(d, months), expected, "{d} + {months} months");
        }
    }
}
