//! The text a card shows, field by field, formatted as the card prints it.

use std::collections::HashMap;

use time::Date;

use super::layout::{CATEGORY_ROWS, Field};
use crate::domain::card_number::CardNumber;
use crate::domain::qualification::{CardGroup, Category};
use crate::store::cards::CardRecord;

/// Who issues the card (field 4c), printed when no other authority is configured.
pub const DEFAULT_AUTHORITY: &str = "MINISTÈRE CHARGÉ DES TRANSPORTS";

/// Field values of one card. A field without a value (residence, an unknown support number)
/// is left off the card: its element draws nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardData {
    values: HashMap<Field, String>,
}

/// Why a card record cannot be shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    #[error("card {card}: {what} is missing (personal data purged?)")]
    Missing { card: String, what: &'static str },
    #[error("card {card}: {what} {value:?} is not a date")]
    BadDate {
        card: String,
        what: &'static str,
        value: String,
    },
    #[error("card {card}: its qualification groups cannot be read: {why}")]
    Groups { card: String, why: String },
}

impl CardData {
    pub fn get(&self, field: Field) -> Option<&str> {
        self.values.get(&field).map(String::as_str)
    }

    pub fn set(&mut self, field: Field, value: impl Into<String>) {
        self.values.insert(field, value.into());
    }

    /// Field 9 on side 1 (every category on one line) and side 2's table: one row per
    /// category with its own group's code-95 date (field 10), in card order. A card carries
    /// at most the eight categories the table has rows for.
    pub fn set_categories(&mut self, rows: &[(Category, Date)]) {
        let names: Vec<&str> = rows.iter().map(|(c, _)| c.as_str()).collect();
        self.set(Field::Categories, names.join(" "));
        for (n, (category, expiry)) in (1..=CATEGORY_ROWS).zip(rows) {
            self.set(Field::CategoryRow(n), category.as_str());
            self.set(Field::Code95Row(n), code_95(*expiry));
        }
    }

    /// The fields of a stored card. `support_number` is the card body's serial when a blank
    /// has been drawn for it.
    pub fn from_record(
        card: &CardRecord,
        authority: &str,
        support_number: Option<&str>,
    ) -> Result<CardData, DataError> {
        let missing = |what| DataError::Missing {
            card: card.card_number.clone(),
            what,
        };
        let date = |what: &'static str, value: &str| {
            parse_date(value)
                .map(card_date)
                .ok_or_else(|| DataError::BadDate {
                    card: card.card_number.clone(),
                    what,
                    value: value.to_string(),
                })
        };
        let mut d = CardData::default();
        d.set(
            Field::Surname,
            card.surname.clone().ok_or_else(|| missing("the surname"))?,
        );
        d.set(
            Field::GivenNames,
            card.given_names
                .clone()
                .ok_or_else(|| missing("the given names"))?,
        );
        let birth = card
            .birth_date
            .as_deref()
            .ok_or_else(|| missing("the birth date"))?;
        let place = card
            .birth_place
            .as_deref()
            .ok_or_else(|| missing("the place of birth"))?;
        d.set(
            Field::Birth,
            format!("{} {place}", date("the birth date", birth)?),
        );
        d.set(Field::IssueDate, date("the issue date", &card.issue_date)?);
        d.set(
            Field::ExpiryDate,
            date("the expiry date", &card.expiry_date)?,
        );
        d.set(Field::Authority, authority);
        if let Ok(n) = CardNumber::parse(&card.card_number) {
            d.set(Field::AdminNumber, format!("{:08}", n.holder().value()));
        }
        d.set(
            Field::LicenceNumber,
            card.licence_number
                .clone()
                .ok_or_else(|| missing("the licence number"))?,
        );
        d.set(Field::CardNumber, card.card_number.clone());
        let groups = card.groups().map_err(|e| DataError::Groups {
            card: card.card_number.clone(),
            why: e.to_string(),
        })?;
        d.set_categories(&CardGroup::per_category(&groups));
        if let Some(s) = support_number {
            d.set(Field::SupportNumber, s);
        }
        Ok(d)
    }
}

fn parse_date(s: &str) -> Option<Date> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

/// Dates as the EU card models print them: `dd.mm.yyyy`.
pub fn card_date(d: Date) -> String {
    format!("{:02}.{:02}.{:04}", d.day(), u8::from(d.month()), d.year())
}

/// Field 10: the Union code 95 with its expiry, `95.dd.mm.yyyy`.
pub fn code_95(expiry: Date) -> String {
    crate::domain::validity::code_95(expiry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn dates_print_as_on_the_card() {
        assert_eq!(card_date(date!(2031 - 10 - 30)), "30.10.2031");
        assert_eq!(code_95(date!(2029 - 06 - 01)), "95.01.06.2029");
    }

    #[test]
    fn each_category_row_carries_its_own_group_date() {
        let mut d = CardData::default();
        d.set_categories(&[
            (Category::C, date!(2031 - 10 - 30)),
            (Category::CE, date!(2031 - 10 - 30)),
            (Category::D, date!(2027 - 05 - 10)),
        ]);
        assert_eq!(d.get(Field::Categories), Some("C CE D"));
        assert_eq!(d.get(Field::CategoryRow(3)), Some("D"));
        assert_eq!(d.get(Field::Code95Row(1)), Some("95.30.10.2031"));
        assert_eq!(d.get(Field::Code95Row(3)), Some("95.10.05.2027"));
        assert_eq!(d.get(Field::CategoryRow(4)), None);
    }
}
