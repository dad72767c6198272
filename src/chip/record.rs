//! What the chip holds of a card record: the same data the card prints, from the same record.

use time::Date;

use super::data_groups::ChipData;
use crate::domain::card_number::CardNumber;
use crate::domain::qualification::CardGroup;
use crate::render::card_data::DataError;
use crate::store::cards::CardRecord;

fn date(card: &CardRecord, what: &'static str, value: &str) -> Result<Date, DataError> {
    Date::parse(
        value,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| DataError::BadDate {
        card: card.card_number.clone(),
        what,
        value: value.to_string(),
    })
}

/// The chip data of `card`, with the rendered pictures (the proof's portrait JPEG and the
/// cleaned signature PNG).
pub fn chip_data(
    card: &CardRecord,
    authority: &str,
    portrait_jpeg: Vec<u8>,
    signature_png: Vec<u8>,
) -> Result<ChipData, DataError> {
    let missing = |what| DataError::Missing {
        card: card.card_number.clone(),
        what,
    };
    let groups = card.groups().map_err(|e| DataError::Groups {
        card: card.card_number.clone(),
        why: e.to_string(),
    })?;
    let admin_number = CardNumber::parse(&card.card_number)
        .map(|n| format!("{:08}", n.holder().value()))
        .unwrap_or_default();
    Ok(ChipData {
        surname: card.surname.clone().ok_or_else(|| missing("the surname"))?,
        given_names: card
            .given_names
            .clone()
            .ok_or_else(|| missing("the given names"))?,
        birth_date: date(
            card,
            "the birth date",
            card.birth_date
                .as_deref()
                .ok_or_else(|| missing("the birth date"))?,
        )?,
        birth_place: card
            .birth_place
            .clone()
            .ok_or_else(|| missing("the place of birth"))?,
        issue_date: date(card, "the issue date", &card.issue_date)?,
        expiry_date: date(card, "the expiry date", &card.expiry_date)?,
        authority: authority.to_string(),
        admin_number,
        card_number: card.card_number.clone(),
        categories: CardGroup::per_category(&groups)
            .into_iter()
            .map(|(c, d)| (c.as_str().to_string(), d))
            .collect(),
        portrait_jpeg,
        signature_png,
    })
}
