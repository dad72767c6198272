//! What the card can print. One function, [`fit_element`], fits a field's text into its layout
//! element; the renderer draws what it returns (`build.rs`) and intake refuses a request
//! whose text it rejects ([`check_field`], called by `intake::printable`). Both use the same
//! layouts ([`shipped`], also what [`super::Renderer::new`] renders with), the same fonts and
//! the same rule (`fit.rs`), so intake's verdict and the render worker's cannot disagree: a
//! request taken in is a card that can be drawn (docs/text-fitting.md, "At intake").

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use super::fit::{self, FitError, Fitted, NameRule, TextBox};
use super::fonts::{self, FontError, Fonts};
use super::layout::{BACK_TOML, Case, Element, FRONT_TOML, Field, Kind, Layout, LayoutError};
use super::layout::{Source, TextSpec};

/// The two sides of the card.
#[derive(Debug, Clone, PartialEq)]
pub struct CardLayouts {
    pub front: Layout,
    pub back: Layout,
}

impl CardLayouts {
    pub fn sides(&self) -> [&Layout; 2] {
        [&self.front, &self.back]
    }
}

/// The layouts compiled into the binary, parsed once per process: the renderer of every
/// service and intake read these same values.
pub fn shipped() -> Result<&'static CardLayouts, LayoutError> {
    static SHIPPED: OnceLock<Result<CardLayouts, LayoutError>> = OnceLock::new();
    SHIPPED
        .get_or_init(|| {
            Ok(CardLayouts {
                front: Layout::parse("layouts/card-front.toml", FRONT_TOML)?,
                back: Layout::parse("layouts/card-back.toml", BACK_TOML)?,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// How far the rule may abbreviate the text of an element: given names may go down to
/// initials, nothing else (a surname is never shortened).
pub fn name_rule(source: &Source) -> NameRule {
    match source {
        Source::Field(Field::GivenNames) => NameRule::GivenNames,
        _ => NameRule::None,
    }
}

/// The box an element gives its text.
pub fn text_box(e: &Element, spec: &TextSpec) -> TextBox {
    TextBox {
        width_mm: e.w,
        height_mm: e.h,
        size_pt: spec.size_pt,
        min_size_pt: spec.min_size_pt,
        max_lines: spec.max_lines,
        face: spec.face,
        names: name_rule(&spec.source),
    }
}

/// Fits `text` into element `e`: the layout's case first (`case = "upper"`: "ß" becomes "SS",
/// so the capitals are what is measured), then the rule of `fit.rs` in the element's box.
/// The one place where a card's text meets its box, for drawing and for judging alike.
pub fn fit_element(
    e: &Element,
    spec: &TextSpec,
    text: &str,
    fonts: &Fonts,
) -> Result<Fitted, FitError> {
    let text = match spec.case {
        Case::AsIs => Cow::Borrowed(text),
        Case::Upper => Cow::Owned(text.to_uppercase()),
    };
    fit::fit(fonts, &text, &text_box(e, spec))
}

/// What an element allows, as the portal contract states it (docs/intake.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub field: Field,
    pub element: String,
    pub width_mm: f32,
    pub min_size_pt: f32,
    /// The most lines its height holds at the minimum size (never more than `max_lines`).
    pub lines: u8,
    /// Given names: may be cut to initials as a last resort.
    pub initials: bool,
    /// Printed in capitals (measured after the change of case).
    pub capitals: bool,
}

impl Limit {
    pub fn of(e: &Element, spec: &TextSpec, field: Field, fonts: &Fonts) -> Limit {
        let b = text_box(e, spec);
        Limit {
            field,
            element: e.name.clone(),
            width_mm: e.w,
            min_size_pt: spec.min_size_pt,
            lines: fit::lines_allowed(fonts, &b, spec.min_size_pt).max(1),
            initials: b.names == NameRule::GivenNames,
            capitals: spec.case == Case::Upper,
        }
    }
}

/// "field 1 (52.6 mm, one or two lines at ≥ 5 pt)": the words the 422 answer and the
/// contract documentation use.
impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = match self.lines {
            1 => "one line".to_string(),
            2 => "one or two lines".to_string(),
            n => format!("up to {n} lines"),
        };
        write!(
            f,
            "field {} ({:.1} mm, {lines} at ≥ {} pt)",
            self.field.number().trim_end_matches('.'),
            self.width_mm,
            self.min_size_pt
        )
    }
}

/// A text the card cannot show, with the element that refused it and that element's limit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{limit}: {error}")]
pub struct Unprintable {
    pub limit: Limit,
    #[source]
    pub error: FitError,
}

/// Fits `text` into every text element of `layouts` bound to `field` (both sides may print a
/// field), exactly as rendering does; the first element that cannot take it is the answer.
/// A field no element prints is always printable.
pub fn check_field(
    layouts: &[&Layout],
    fonts: &Fonts,
    field: Field,
    text: &str,
) -> Result<(), Unprintable> {
    for (e, spec) in elements_of(layouts, field) {
        fit_element(e, spec, text, fonts).map_err(|error| Unprintable {
            limit: Limit::of(e, spec, field, fonts),
            error,
        })?;
    }
    Ok(())
}

/// The limits of every element printing `field`, for documentation and messages.
pub fn limits(layouts: &[&Layout], fonts: &Fonts, field: Field) -> Vec<Limit> {
    elements_of(layouts, field)
        .map(|(e, spec)| Limit::of(e, spec, field, fonts))
        .collect()
}

fn elements_of<'a>(
    layouts: &'a [&'a Layout],
    field: Field,
) -> impl Iterator<Item = (&'a Element, &'a TextSpec)> + 'a {
    layouts
        .iter()
        .flat_map(|l| l.elements.iter())
        .filter_map(move |e| match &e.kind {
            Kind::Text(spec) if spec.source == Source::Field(field) => Some((e, spec)),
            _ => None,
        })
}

/// Why a text could not be judged against the shipped layouts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Unprintable(#[from] Unprintable),
    /// The embedded layouts or fonts are broken: no text can be judged (nor printed).
    #[error("the card layouts cannot be used: {0}")]
    Layout(#[from] LayoutError),
    #[error("the card fonts cannot be used: {0}")]
    Font(#[from] FontError),
}

/// [`check_field`] against the shipped layouts and fonts: what intake runs.
pub fn check_shipped(field: Field, text: &str) -> Result<(), CheckError> {
    let layouts = shipped()?;
    let fonts = fonts::fonts()?;
    check_field(&layouts.sides(), fonts, field, text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f() -> &'static Fonts {
        fonts::fonts().expect("embedded fonts")
    }

    fn limit(field: Field) -> Limit {
        let l = shipped().expect("shipped layouts");
        let all = limits(&l.sides(), f(), field);
        assert_eq!(all.len(), 1, "{} is printed once", field.key());
        all[0].clone()
    }

    /// Fields 1, 2 and 3 take two lines at their minimum size (docs/layouts.md): the box
    /// heights hold them, so `max_lines = 2` is real and not cancelled by the height.
    #[test]
    fn names_and_birth_take_two_lines_at_the_minimum_size() {
        for field in [Field::Surname, Field::GivenNames, Field::Birth] {
            let l = limit(field);
            assert_eq!(l.lines, 2, "{l}");
            assert!(l.width_mm > 50.0, "{l}");
        }
        assert_eq!(limit(Field::LicenceNumber).lines, 1);
        let surname = limit(Field::Surname);
        assert!(surname.capitals && !surname.initials);
        assert!(limit(Field::GivenNames).initials);
    }

    #[test]
    fn the_limit_reads_as_the_contract_says_it() {
        let l = Limit {
            field: Field::Surname,
            element: "surname".into(),
            width_mm: 52.6,
            min_size_pt: 5.0,
            lines: 2,
            initials: false,
            capitals: true,
        };
        assert_eq!(
            l.to_string(),
            "field 1 (52.6 mm, one or two lines at ≥ 5 pt)"
        );
        let l = Limit {
            field: Field::LicenceNumber,
            lines: 1,
            min_size_pt: 4.8,
            ..l
        };
        assert_eq!(l.to_string(), "field 5a (52.6 mm, one line at ≥ 4.8 pt)");
    }

    #[test]
    fn capitals_are_measured_not_the_text_as_sent() {
        // "ß" is one letter in the request and "SS" on the card: forty of them fit the
        // surname box as sent, not in the capitals that are printed.
        let l = shipped().expect("layouts");
        let sides = l.sides();
        let (e, spec) = elements_of(&sides, Field::Surname)
            .next()
            .expect("a surname element");
        let s = "ß".repeat(40);
        assert!(fit::fit(f(), &s, &text_box(e, spec)).is_ok());
        assert!(check_field(&l.sides(), f(), Field::Surname, &s).is_err());
        assert_eq!(
            fit_element(e, spec, "Größmann", f()).expect("fits").lines,
            ["GRÖSSMANN"]
        );
    }

    #[test]
    fn a_field_no_element_prints_is_printable() {
        let l = shipped().expect("layouts");
        assert!(limits(&[&l.front], f(), Field::Code95Row(1)).is_empty());
        assert!(check_field(&[&l.front], f(), Field::Code95Row(1), &"W".repeat(500)).is_ok());
        assert!(check_field(&[], f(), Field::Surname, &"W".repeat(500)).is_ok());
    }

    #[test]
    fn refusals_carry_the_element_and_its_limit() {
        let l = shipped().expect("layouts");
        let e = check_field(&l.sides(), f(), Field::Surname, "Li 李").expect_err("no glyph");
        assert_eq!(e.limit.element, "surname");
        assert!(matches!(e.error, FitError::MissingGlyph { ch: '李', .. }));
        let e = check_field(&l.sides(), f(), Field::Surname, &"W".repeat(200)).expect_err("long");
        assert!(
            matches!(e.error, FitError::DoesNotFit { lines: 2, .. }),
            "{e}"
        );
        assert!(check_shipped(Field::Surname, &"W".repeat(200)).is_err());
        assert!(check_shipped(Field::Surname, "DUPONT-MARTIN").is_ok());
    }
}
