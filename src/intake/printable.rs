//! Acceptance means printable (issue 18): every text of a request that the card prints
//! (fields 1, 2, 3 and 5a) is fitted into its layout element by the renderer's own function
//! (`render::printable::check_shipped`, the one `build.rs` draws with). A text the card cannot
//! show is refused here, 422 naming the field, its limit and the width the text would need,
//! instead of being accepted and then stopped by the render worker with no way out for the
//! driver but a correction.

use crate::domain::violation::{Code, Violation};
use crate::render::fit::FitError;
use crate::render::layout::Field;
use crate::render::printable::{self, CheckError, Limit};

/// Judges `text`, the value of `field` exactly as the card record will hold it (NFC, spaces
/// collapsed, as the domain types store it); `path` is where the request carried it.
pub fn check(field: Field, text: &str, path: &str) -> Result<(), Violation> {
    match printable::check_shipped(field, text) {
        Ok(()) => Ok(()),
        Err(CheckError::Unprintable(u)) => Err(violation(path, &u.limit, &u.error)),
        Err(e) => Err(Violation::new(
            path,
            does_not_fit(field),
            format!("{} cannot be judged printable: {e}", what(field)),
        )),
    }
}

fn does_not_fit(field: Field) -> Code {
    match field {
        Field::Surname | Field::GivenNames => Code::NameDoesNotFit,
        _ => Code::TextDoesNotFit,
    }
}

/// How the message names the field to the portal.
fn what(field: Field) -> &'static str {
    match field {
        Field::Surname => "the surname",
        Field::GivenNames => "the given names",
        Field::Birth => "the date and place of birth",
        Field::LicenceNumber => "the licence number",
        _ => "the text",
    }
}

/// "does not fit" or "do not fit", as [`what`] is singular or plural.
fn does(field: Field) -> &'static str {
    match field {
        Field::GivenNames | Field::Birth => "do",
        _ => "does",
    }
}

fn violation(path: &str, limit: &Limit, error: &FitError) -> Violation {
    let what = what(limit.field);
    match error {
        FitError::MissingGlyph { ch, .. } => Violation::new(
            path,
            Code::MissingGlyph,
            format!(
                "{what}: {ch:?} (U+{:04X}) cannot be printed in {limit}; the card's font has \
                 Latin, Greek and Cyrillic letters only",
                u32::from(*ch)
            ),
        ),
        FitError::DoesNotFit {
            needed_mm,
            min_size_pt,
            ..
        } => {
            let how = match (limit.capitals, limit.initials) {
                (true, _) => "in capitals and never abbreviated, ",
                (false, true) => "even with every given name cut to its initial, ",
                (false, false) => "",
            };
            Violation::new(
                path,
                does_not_fit(limit.field),
                format!(
                    "{what} {} not fit {limit}: {how}the widest line would need \
                     {needed_mm:.1} mm at {min_size_pt} pt",
                    does(limit.field)
                ),
            )
        }
        FitError::InvalidBox { reason } => Violation::new(
            path,
            does_not_fit(limit.field),
            format!("{what} cannot be judged printable: the layout of {limit} is wrong: {reason}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_that_fits_passes() {
        for (field, text) in [
            (Field::Surname, "DUPONT-MARTIN"),
            (Field::GivenNames, "Jean Pierre"),
            (Field::Birth, "12.04.1984 LYON 3E (69)"),
            (Field::LicenceNumber, "13AA00002"),
        ] {
            assert_eq!(check(field, text, "holder.x"), Ok(()), "{text}");
        }
    }

    #[test]
    fn refusals_name_the_path_the_code_and_the_limit() {
        let v = check(Field::Surname, &"W".repeat(200), "holder.surname").expect_err("long");
        assert_eq!(
            (v.path.as_str(), v.code),
            ("holder.surname", Code::NameDoesNotFit)
        );
        assert!(
            v.message.starts_with("the surname does not fit field 1 ("),
            "{}",
            v.message
        );
        assert!(
            v.message.contains("one or two lines at ≥ 5 pt"),
            "{}",
            v.message
        );
        assert!(
            v.message.contains("in capitals and never abbreviated"),
            "{}",
            v.message
        );

        let v = check(Field::GivenNames, "Li 李", "holder.given_names").expect_err("glyph");
        assert_eq!(v.code, Code::MissingGlyph);
        assert!(v.message.contains("'李' (U+674E)"), "{}", v.message);
        assert!(v.message.contains("field 2 ("), "{}", v.message);

        let place = "X".repeat(200);
        let v = check(
            Field::Birth,
            &format!("01.01.1980 {place}"),
            "holder.birth_place",
        )
        .expect_err("long place");
        assert_eq!(v.code, Code::TextDoesNotFit);
        assert!(v.message.contains("field 3 ("), "{}", v.message);
        assert!(
            v.message
                .starts_with("the date and place of birth do not fit"),
            "{}",
            v.message
        );
    }
}
