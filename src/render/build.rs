//! From a layout and a card's data to a [`Scene`]: text fitted, shapes and barcodes placed.

use thiserror::Error;

use super::card_data::CardData;
use super::fit::{self, FitError, NameRule, TextBox};
use super::fonts::Fonts;
use super::layout::{Align, Case, Field, Kind, Layout, Source, Symbology, TextSpec, VAlign};
use super::scene::{Item, Line, Primitive, Rgb, Scene};

/// Why a card cannot be drawn. Every variant names the layout element, so an operator knows
/// which field of which request to look at.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum BuildError {
    #[error("element {element:?}: {source}")]
    Text {
        element: String,
        #[source]
        source: FitError,
    },
    #[error("element {element:?}: barcode of {value:?} cannot be made: {message}")]
    Barcode {
        element: String,
        value: String,
        message: String,
    },
    #[error("element {element:?}: {what} is {needed_mm:.1} mm wide, the box {available_mm:.1} mm")]
    BarcodeTooWide {
        element: String,
        what: String,
        needed_mm: f32,
        available_mm: f32,
    },
}

impl BuildError {
    /// The element concerned.
    pub fn element(&self) -> &str {
        match self {
            BuildError::Text { element, .. }
            | BuildError::Barcode { element, .. }
            | BuildError::BarcodeTooWide { element, .. } => element,
        }
    }
}

/// Gold of a contact plate, and the darker lines between its contacts.
const CHIP_GOLD: Rgb = Rgb(0xD4, 0xB0, 0x4C);
const CHIP_LINE: Rgb = Rgb(0x8A, 0x6D, 0x1E);

/// A picture of the contact plate for previews: the plate, the two columns of four contacts
/// separated by a gap, as ISO/IEC 7816-2 places them (C1-C4 left, C5-C8 right).
fn chip_plate(x: f32, y: f32, w: f32, h: f32) -> Vec<Primitive> {
    let line = 0.15;
    let mut out = vec![Primitive::Rect {
        x,
        y,
        w,
        h,
        fill: Some(CHIP_GOLD),
        stroke: Some((CHIP_LINE, line)),
        radius: 1.2,
    }];
    // The gap between the two contact columns, and the three lines between rows.
    out.push(Primitive::Rect {
        x: x + w * 0.42,
        y: y + h * 0.12,
        w: w * 0.16,
        h: h * 0.76,
        fill: Some(CHIP_LINE),
        stroke: None,
        radius: 0.3,
    });
    for k in 1..4 {
        let ky = y + h * k as f32 / 4.0;
        for kx in [x, x + w * 0.58] {
            out.push(Primitive::Rect {
                x: kx,
                y: ky - line / 2.0,
                w: w * 0.42,
                h: line,
                fill: Some(CHIP_LINE),
                stroke: None,
                radius: 0.0,
            });
        }
    }
    out
}

/// Builds one side. Elements bound to an empty field draw nothing.
pub fn build(layout: &Layout, data: &CardData, fonts: &Fonts) -> Result<Scene, BuildError> {
    let mut items = Vec::with_capacity(layout.elements.len() + 12);
    for e in &layout.elements {
        let item = |primitive| Item {
            element: e.name.clone(),
            layer: e.layer,
            primitive,
        };
        match &e.kind {
            Kind::Rect {
                fill,
                stroke,
                radius,
            } => items.push(item(Primitive::Rect {
                x: e.x,
                y: e.y,
                w: e.w,
                h: e.h,
                fill: *fill,
                stroke: *stroke,
                radius: *radius,
            })),
            Kind::Stars {
                cx,
                cy,
                ring,
                star,
                count,
                fill,
            } => {
                for k in 0..*count {
                    // Twelve o'clock first, clockwise, like the hours on a clock face.
                    let a = (k as f32 / f32::from(*count)) * std::f32::consts::TAU
                        - std::f32::consts::FRAC_PI_2;
                    items.push(item(Primitive::Polygon {
                        points: star_points(cx + ring * a.cos(), cy + ring * a.sin(), *star),
                        fill: *fill,
                    }));
                }
            }
            Kind::Text(spec) => {
                let text = match &spec.source {
                    Source::Static(t) => Some(t.clone()),
                    Source::Field(f) => data
                        .get(*f)
                        .filter(|v| !v.trim().is_empty())
                        .map(str::to_string),
                };
                let Some(text) = text else { continue };
                let names = match spec.source {
                    Source::Field(Field::GivenNames) => NameRule::GivenNames,
                    _ => NameRule::None,
                };
                let primitive =
                    text_item(e.x, e.y, e.w, e.h, spec, &text, names, fonts).map_err(|source| {
                        BuildError::Text {
                            element: e.name.clone(),
                            source,
                        }
                    })?;
                items.push(item(primitive));
            }
            Kind::Image(picture) => items.push(item(Primitive::Image {
                x: e.x,
                y: e.y,
                w: e.w,
                h: e.h,
                picture: *picture,
            })),
            Kind::Chip => items.extend(chip_plate(e.x, e.y, e.w, e.h).into_iter().map(item)),
            Kind::Barcode {
                symbology,
                field,
                module_mm,
                color,
            } => {
                let Some(value) = data.get(*field).filter(|v| !v.is_empty()) else {
                    continue;
                };
                let rects = match symbology {
                    Symbology::Code128 => code128(&e.name, value, e.x, e.y, e.w, e.h, *module_mm)?,
                    Symbology::Qr => qr(&e.name, value, e.x, e.y, e.w, e.h, *module_mm)?,
                };
                items.push(item(Primitive::Modules {
                    rects,
                    color: *color,
                }));
            }
        }
    }
    Ok(Scene {
        width_mm: layout.width_mm,
        height_mm: layout.height_mm,
        items,
    })
}

#[allow(clippy::too_many_arguments)]
fn text_item(
    x: f32,
    y: f32,
    w: f32,
    h: f32,
    spec: &TextSpec,
    text: &str,
    names: NameRule,
    fonts: &Fonts,
) -> Result<Primitive, FitError> {
    let text = match spec.case {
        Case::AsIs => text.to_string(),
        Case::Upper => text.to_uppercase(),
    };
    let fitted = fit::fit(
        fonts,
        &text,
        &TextBox {
            width_mm: w,
            height_mm: h,
            size_pt: spec.size_pt,
            min_size_pt: spec.min_size_pt,
            max_lines: spec.max_lines,
            face: spec.face,
            names,
        },
    )?;
    let ascent = fonts.ascent_mm(spec.face, fitted.size_pt);
    let line_h = fonts.line_height_mm(spec.face, fitted.size_pt);
    let block = line_h * fitted.lines.len() as f32;
    let top = match spec.valign {
        VAlign::Top => y,
        VAlign::Middle => y + (h - block) / 2.0,
        VAlign::Bottom => y + h - block,
    };
    let lines = fitted
        .lines
        .iter()
        .zip(&fitted.widths_mm)
        .enumerate()
        .map(|(i, (t, &width))| Line {
            x_mm: match spec.align {
                Align::Left => x,
                Align::Center => x + (w - width) / 2.0,
                Align::Right => x + w - width,
            },
            baseline_mm: top + line_h * i as f32 + ascent,
            text: t.clone(),
            width_mm: width,
        })
        .collect();
    Ok(Primitive::Text {
        face: spec.face,
        size_pt: fitted.size_pt,
        color: spec.color,
        lines,
    })
}

/// A five-pointed star, point up, outer radius `r` (inner radius from the regular star's
/// geometry: r × sin 18° / sin 126°).
fn star_points(cx: f32, cy: f32, r: f32) -> Vec<(f32, f32)> {
    let inner = r * 18f32.to_radians().sin() / 126f32.to_radians().sin();
    (0..10)
        .map(|i| {
            let a = -std::f32::consts::FRAC_PI_2 + i as f32 * std::f32::consts::PI / 5.0;
            let rr = if i % 2 == 0 { r } else { inner };
            (cx + rr * a.cos(), cy + rr * a.sin())
        })
        .collect()
}

/// Quiet zone on each side of a linear barcode, in modules (ISO/IEC 15417 asks for 10).
pub const QUIET_MODULES: f32 = 10.0;

/// Code 128 (set B, which covers every character of our numbers and ids) centred in its box,
/// quiet zones kept clear; refused when it does not fit rather than squeezed.
pub(crate) fn code128(
    element: &str,
    value: &str,
    x: f32,
    y: f32,
    w: f32,
    h: f32,
    module: f32,
) -> Result<Vec<(f32, f32, f32, f32)>, BuildError> {
    let modules = barcoders::sym::code128::Code128::new(format!("\u{0181}{value}"))
        .map_err(|e| BuildError::Barcode {
            element: element.to_string(),
            value: value.to_string(),
            message: e.to_string(),
        })?
        .encode();
    let needed = (modules.len() as f32 + 2.0 * QUIET_MODULES) * module;
    if needed > w + 1e-3 {
        return Err(BuildError::BarcodeTooWide {
            element: element.to_string(),
            what: format!("Code 128 of {value:?} with its quiet zones"),
            needed_mm: needed,
            available_mm: w,
        });
    }
    let start = x + (w - modules.len() as f32 * module) / 2.0;
    Ok(runs(&modules)
        .map(|(i, n)| (start + i as f32 * module, y, n as f32 * module, h))
        .collect())
}

/// QR code (error correction M), square, centred, with its 4-module quiet zone.
pub(crate) fn qr(
    element: &str,
    value: &str,
    x: f32,
    y: f32,
    w: f32,
    h: f32,
    module: f32,
) -> Result<Vec<(f32, f32, f32, f32)>, BuildError> {
    let code = qrcode::QrCode::with_error_correction_level(value.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| BuildError::Barcode {
            element: element.to_string(),
            value: value.to_string(),
            message: e.to_string(),
        })?;
    let n = code.width();
    let needed = (n as f32 + 8.0) * module;
    if needed > w.min(h) + 1e-3 {
        return Err(BuildError::BarcodeTooWide {
            element: element.to_string(),
            what: format!("QR code of {value:?} with its quiet zone"),
            needed_mm: needed,
            available_mm: w.min(h),
        });
    }
    let (x0, y0) = (
        x + (w - n as f32 * module) / 2.0,
        y + (h - n as f32 * module) / 2.0,
    );
    let colors = code.to_colors();
    let mut rects = Vec::new();
    for row in 0..n {
        let dark: Vec<u8> = colors[row * n..(row + 1) * n]
            .iter()
            .map(|c| u8::from(*c == qrcode::Color::Dark))
            .collect();
        for (i, len) in runs(&dark) {
            rects.push((
                x0 + i as f32 * module,
                y0 + row as f32 * module,
                len as f32 * module,
                module,
            ));
        }
    }
    Ok(rects)
}

/// Runs of dark modules: (first index, length).
fn runs(modules: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < modules.len() && modules[i] == 0 {
            i += 1;
        }
        if i >= modules.len() {
            return None;
        }
        let start = i;
        while i < modules.len() && modules[i] != 0 {
            i += 1;
        }
        Some((start, i - start))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_merge_adjacent_modules() {
        let r: Vec<_> = runs(&[0, 1, 1, 0, 1, 0, 0, 1, 1, 1]).collect();
        assert_eq!(r, vec![(1, 2), (4, 1), (7, 3)]);
    }

    #[test]
    fn a_star_has_ten_points_inside_its_radius() {
        let p = star_points(10.0, 10.0, 1.0);
        assert_eq!(p.len(), 10);
        for (x, y) in p {
            assert!(((x - 10.0).powi(2) + (y - 10.0).powi(2)).sqrt() <= 1.0001);
        }
    }
}
