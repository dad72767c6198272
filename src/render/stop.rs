//! From a render error to production's account of a stopped card ([`Stop`]): which request
//! field the driver must correct, read from the typed error (the layout field of the element
//! that failed, the picture that could not be prepared), never from its message.
//!
//! The detail written with it goes to the audit trail, so it carries measures and element
//! names but never the text that failed (the holder's name) nor a date of the record.

use super::RenderError;
use super::build::BuildError;
use super::card_data::DataError;
use super::fit::FitError;
use super::layout::Field;
use super::prepare::PrepareError;
use super::scene::Picture;
use crate::domain::review::{RequestField, Stop, StopCode};

impl RenderError {
    /// Why this error stops the card, or `None` when it does not (a store, font or PDF failure
    /// is retried, not blamed on the request).
    pub fn stop(&self) -> Option<Stop> {
        match self {
            RenderError::Build { side, source } => Some(build(side, source)),
            RenderError::Picture { picture, source } => Some(picture_stop(*picture, source)),
            RenderError::Data(e) => Some(Stop::new(StopCode::DataMissing, vec![], data(e))),
            _ => None,
        }
    }
}

/// The request field a layout field prints, when the driver gave it.
fn request_field(field: Field) -> Option<RequestField> {
    match field {
        Field::Surname => Some(RequestField::Surname),
        Field::GivenNames => Some(RequestField::GivenNames),
        // Field 3 is the birth date (digits, always printable) and the place: the place is the
        // part that can fail.
        Field::Birth => Some(RequestField::BirthPlace),
        _ => None,
    }
}

fn build(side: &str, e: &BuildError) -> Stop {
    let element = e.element();
    let (field, fit) = match e {
        BuildError::Text { field, source, .. } => (field.and_then(request_field), Some(source)),
        _ => (None, None),
    };
    let fields: Vec<RequestField> = field.into_iter().collect();
    match fit {
        Some(FitError::DoesNotFit {
            needed_mm,
            available_mm,
            min_size_pt,
            lines,
            ..
        }) => Stop::new(
            if fields.is_empty() {
                StopCode::LayoutError
            } else {
                StopCode::TextDoesNotFit
            },
            fields,
            format!(
                "{side} side, element {element:?}: needs {needed_mm:.2} mm on the widest of \
                 {lines} line(s) at {min_size_pt} pt, the box is {available_mm:.2} mm wide"
            ),
        ),
        Some(FitError::MissingGlyph { ch, .. }) => Stop::new(
            if fields.is_empty() {
                StopCode::LayoutError
            } else {
                StopCode::MissingGlyph
            },
            fields,
            format!(
                "{side} side, element {element:?}: no glyph for U+{:04X}",
                u32::from(*ch)
            ),
        ),
        Some(FitError::InvalidBox { reason }) => Stop::new(
            StopCode::LayoutError,
            vec![],
            format!("{side} side, element {element:?}: invalid text box: {reason}"),
        ),
        None => Stop::new(
            StopCode::LayoutError,
            vec![],
            format!("{side} side, element {element:?}: the barcode cannot be drawn"),
        ),
    }
}

fn picture_stop(picture: Picture, e: &PrepareError) -> Stop {
    match e {
        // The box asked for or the JPEG writer failed: ours, whatever the picture.
        PrepareError::InvalidTarget { .. } | PrepareError::Encode { .. } => {
            Stop::new(StopCode::LayoutError, vec![], e.to_string())
        }
        _ => match picture {
            Picture::Photo => Stop::new(
                StopCode::PhotoUnusable,
                vec![RequestField::Photo],
                e.to_string(),
            ),
            Picture::Signature => Stop::new(
                StopCode::SignatureUnusable,
                vec![RequestField::Signature],
                e.to_string(),
            ),
        },
    }
}

fn data(e: &DataError) -> String {
    match e {
        DataError::Missing { what, .. } => format!("{what} is missing from the card record"),
        DataError::BadDate { what, .. } => format!("{what} of the card record is not a date"),
        DataError::Groups { why, .. } => format!("the qualification groups: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Renderer;
    use crate::render::card_data::CardData;
    use crate::render::card_data::DEFAULT_AUTHORITY;

    fn data_with(field: Field, value: &str) -> CardData {
        let mut d = CardData::default();
        for (f, v) in [
            (Field::Surname, "MARTIN"),
            (Field::GivenNames, "Jean"),
            (Field::Birth, "12.04.1984 LYON"),
            (Field::IssueDate, "27.11.2026"),
            (Field::ExpiryDate, "26.11.2031"),
            (Field::Authority, DEFAULT_AUTHORITY),
            (Field::LicenceNumber, "13AA00002"),
            (Field::CardNumber, "FR0000001A01"),
            (Field::Categories, "C CE"),
            (Field::CategoryRow(1), "C"),
            (Field::Code95Row(1), "95.26.11.2031"),
        ] {
            d.set(f, v);
        }
        d.set(field, value);
        d
    }

    fn stop_of(d: &CardData) -> Stop {
        let r = Renderer::new(DEFAULT_AUTHORITY).unwrap();
        match r.scenes(d) {
            Ok(_) => panic!("the card was drawn"),
            Err(e) => e.stop().expect("stops the card"),
        }
    }

    #[test]
    fn a_name_that_does_not_fit_names_its_field_and_not_its_text() {
        let long = "WOLFESCHLEGELSTEINHAUSENBERGERDORFF".repeat(3);
        let s = stop_of(&data_with(Field::Surname, &long));
        assert_eq!(s.code, StopCode::TextDoesNotFit);
        assert_eq!(s.paths(), ["holder.surname"]);
        assert!(!s.detail.contains("WOLF"), "{}", s.detail);
        assert!(s.detail.contains("mm"), "{}", s.detail);

        let s = stop_of(&data_with(
            Field::Birth,
            &format!(
                "12.04.1984 {}",
                "SAINT-REMY-EN-BOUZEMONT-SAINT-GENEST-ET-ISSON ".repeat(3)
            ),
        ));
        assert_eq!(s.paths(), ["holder.birth_place"]);
    }

    #[test]
    fn a_character_without_glyph_is_the_driver_s_only_in_the_driver_s_fields() {
        let s = stop_of(&data_with(Field::Surname, "MARTIN\u{4E2D}"));
        assert_eq!(s.code, StopCode::MissingGlyph);
        assert_eq!(s.paths(), ["holder.surname"]);
        assert!(s.detail.contains("U+4E2D") && !s.detail.contains("MARTIN"));
        // Given names are cut to initials before they fail to fit; a glyph still stops them.
        let s = stop_of(&data_with(Field::GivenNames, "Jean \u{4E2D}"));
        assert_eq!(s.paths(), ["holder.given_names"]);
        // Field 4c is ours (configuration): nothing for the driver to correct.
        let s = stop_of(&data_with(Field::Authority, "MINISTÈRE \u{4E2D}"));
        assert_eq!(s.code, StopCode::LayoutError);
        assert!(!s.driver_can_correct());
    }

    #[test]
    fn an_unusable_picture_names_that_picture() {
        use base64::Engine;
        let r = Renderer::new(DEFAULT_AUTHORITY).unwrap();
        let request = &crate::synthetic::embedded::valid_requests()[0];
        let bytes = |k: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(request[k].as_str().unwrap())
                .unwrap()
        };
        let (photo, signature) = (bytes("photo"), bytes("signature"));
        let e = r.prepare(b"not a picture", &signature).err().unwrap();
        let s = e.stop().unwrap();
        assert_eq!(
            (s.code, s.paths()),
            (StopCode::PhotoUnusable, vec!["photo"])
        );
        let e = r.prepare(&photo, b"not a picture").err().unwrap();
        let s = e.stop().unwrap();
        assert_eq!(
            (s.code, s.paths()),
            (StopCode::SignatureUnusable, vec!["signature"])
        );
    }

    #[test]
    fn missing_data_is_ours() {
        let e = RenderError::Data(DataError::BadDate {
            card: "FR0000001A01".into(),
            what: "the birth date",
            value: "1984-13-45".into(),
        });
        let s = e.stop().unwrap();
        assert_eq!(s.code, StopCode::DataMissing);
        assert!(s.fields.is_empty());
        assert!(!s.detail.contains("1984"), "{}", s.detail);
        assert!(RenderError::Png("disk".into()).stop().is_none());
    }
}
