//! Time as the bureau sees it: instants in UTC milliseconds, calendar days in Paris.
//!
//! The card's date of issue (field 4a) is a French calendar day, so "today" is computed in
//! Europe/Paris (CET/CEST by the EU summer-time rule), not in UTC: a request accepted at 00:30
//! in Paris on 1 March must not be dated 28 February. Tests and drills use a fixed clock they
//! can move, to expire leases or jump the date without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Date, Duration, Month, OffsetDateTime, Weekday};

#[derive(Clone, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    /// A clock that stands still until moved (milliseconds since the Unix epoch).
    Fixed(Arc<AtomicI64>),
    /// The system clock plus a shift (milliseconds) that only grows: the demo lives a
    /// production day at wall-clock speed, then moves on to the days when the post brings
    /// letters back, without waiting for them.
    Shifted(Arc<AtomicI64>),
}

impl Clock {
    pub fn fixed_at(ms: i64) -> Self {
        Clock::Fixed(Arc::new(AtomicI64::new(ms)))
    }

    /// A fixed clock at noon (Paris) of `day`.
    pub fn fixed_on(day: Date) -> Self {
        let noon = day.midnight().assume_utc() + Duration::hours(11);
        Clock::fixed_at((noon.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    /// The system clock, shifted by nothing yet; [`Clock::advance`] moves it on.
    pub fn shifted() -> Self {
        Clock::Shifted(Arc::new(AtomicI64::new(0)))
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        let system = || (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        match self {
            Clock::System => system(),
            Clock::Fixed(ms) => ms.load(Ordering::SeqCst),
            Clock::Shifted(shift) => system() + shift.load(Ordering::SeqCst),
        }
    }

    /// Moves a fixed or shifted clock forward; the system clock cannot be moved (no effect).
    pub fn advance(&self, by: Duration) {
        if let Clock::Fixed(ms) | Clock::Shifted(ms) = self {
            ms.fetch_add(by.whole_milliseconds() as i64, Ordering::SeqCst);
        }
    }

    /// Today's date in Paris.
    pub fn today(&self) -> Date {
        paris_date(self.now_ms())
    }
}

/// The calendar day in Paris at `ms` (Unix milliseconds).
pub fn paris_date(ms: i64) -> Date {
    let utc = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    (utc + Duration::hours(paris_offset_hours(utc))).date()
}

/// +2 during EU summer time (from 01:00 UTC on the last Sunday of March to 01:00 UTC on the
/// last Sunday of October), +1 otherwise.
fn paris_offset_hours(utc: OffsetDateTime) -> i64 {
    let year = utc.year();
    let start = last_sunday(year, Month::March).midnight().assume_utc() + Duration::hours(1);
    let end = last_sunday(year, Month::October).midnight().assume_utc() + Duration::hours(1);
    if utc >= start && utc < end { 2 } else { 1 }
}

fn last_sunday(year: i32, month: Month) -> Date {
    let mut d = Date::from_calendar_date(year, month, time::util::days_in_month(month, year))
        .unwrap_or(Date::MIN);
    while d.weekday() != Weekday::Sunday {
        d = d.previous_day().unwrap_or(Date::MIN);
    }
    d
}

/// RFC 3339 text of a millisecond instant, for answers and logs.
pub fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn a_shifted_clock_runs_with_the_system_clock_and_only_moves_on() {
        let clock = Clock::shifted();
        let before = Clock::System.now_ms();
        let shifted = clock.now_ms();
        let after = Clock::System.now_ms();
        assert!((before..=after).contains(&shifted));
        clock.advance(Duration::days(3));
        let moved = clock.now_ms() - Clock::System.now_ms();
        let three_days = 3 * 86_400_000;
        assert!(
            (three_days - 1_000..=three_days).contains(&moved),
            "{moved}"
        );
    }

    fn ms(t: OffsetDateTime) -> i64 {
        (t.unix_timestamp_nanos() / 1_000_000) as i64
    }

    #[test]
    fn paris_day_boundaries_follow_cet_and_cest() {
        // 23:30 UTC in winter is 00:30 the next day in Paris.
        assert_eq!(
            paris_date(ms(datetime!(2026-02-28 23:30 UTC))),
            date!(2026 - 03 - 01)
        );
        // 22:30 UTC in summer is 00:30 the next day in Paris.
        assert_eq!(
            paris_date(ms(datetime!(2026-07-14 22:30 UTC))),
            date!(2026 - 07 - 15)
        );
        assert_eq!(
            paris_date(ms(datetime!(2026-07-14 21:30 UTC))),
            date!(2026 - 07 - 14)
        );
        // 2026 summer time: 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(last_sunday(2026, Month::March), date!(2026 - 03 - 29));
        assert_eq!(last_sunday(2026, Month::October), date!(2026 - 10 - 25));
    }

    #[test]
    fn a_fixed_clock_moves_only_when_told() {
        let c = Clock::fixed_on(date!(2026 - 11 - 26));
        assert_eq!(c.today(), date!(2026 - 11 - 26));
        let t = c.now_ms();
        c.advance(Duration::days(1));
        assert_eq!(c.now_ms() - t, 86_400_000);
        assert_eq!(c.today(), date!(2026 - 11 - 27));
    }
}
