//! Declarative layouts (`layouts/*.toml`): elements placed in millimetres on a card side,
//! each on the `preprint` or `personalisation` layer. Format: `docs/layouts.md`.
//!
//! A layout is read in two steps: TOML into [`LayoutFile`] (unknown keys are refused with
//! their line), then [`Layout::from_file`] checks each element and names it in every error:
//! an unknown data field, an element off the card, a text size below its minimum.

use serde::Deserialize;
use thiserror::Error;

use super::scene::{Face, Layer, Picture, Rgb};

/// Rows of the category table on side 2 (fields 9 and 10): one per category a card can carry.
pub const CATEGORY_ROWS: u8 = 8;

const CATEGORY_ROW_KEYS: [&str; CATEGORY_ROWS as usize] = [
    "category_1",
    "category_2",
    "category_3",
    "category_4",
    "category_5",
    "category_6",
    "category_7",
    "category_8",
];
const CODE_95_ROW_KEYS: [&str; CATEGORY_ROWS as usize] = [
    "code_95_1",
    "code_95_2",
    "code_95_3",
    "code_95_4",
    "code_95_5",
    "code_95_6",
    "code_95_7",
    "code_95_8",
];

/// The data fields a text element can show (numbers as on the card, Annex II).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// 1. surname
    Surname,
    /// 2. first name(s)
    GivenNames,
    /// 3. date and place of birth
    Birth,
    /// 4a. date of issue
    IssueDate,
    /// 4b. date of expiry
    ExpiryDate,
    /// 4c. issuing authority
    Authority,
    /// 4d. another administrative number (ours: the holder's file number)
    AdminNumber,
    /// 5a. driving-licence number
    LicenceNumber,
    /// 5b. card number
    CardNumber,
    /// 8. place of residence (optional; not printed in France)
    Residence,
    /// 9. categories, all on one line (side 1)
    Categories,
    /// Field 9 on side 2: the category of table row N (1-based, card order)
    CategoryRow(u8),
    /// Field 10 on side 2: the Union code 95 with the date of row N's category,
    /// `95.dd.mm.yyyy` (each group has its own date, docs/validity.md)
    Code95Row(u8),
    /// 11. support number (the card body's serial)
    SupportNumber,
}

impl Field {
    /// The fields that are not table rows.
    pub const ALL: [Field; 12] = [
        Field::Surname,
        Field::GivenNames,
        Field::Birth,
        Field::IssueDate,
        Field::ExpiryDate,
        Field::Authority,
        Field::AdminNumber,
        Field::LicenceNumber,
        Field::CardNumber,
        Field::Residence,
        Field::Categories,
        Field::SupportNumber,
    ];

    /// The name used in layout files.
    pub fn key(self) -> &'static str {
        match self {
            Field::Surname => "surname",
            Field::GivenNames => "given_names",
            Field::Birth => "birth",
            Field::IssueDate => "issue_date",
            Field::ExpiryDate => "expiry_date",
            Field::Authority => "authority",
            Field::AdminNumber => "admin_number",
            Field::LicenceNumber => "licence_number",
            Field::CardNumber => "card_number",
            Field::Residence => "residence",
            Field::Categories => "categories",
            Field::CategoryRow(n) => row_key(&CATEGORY_ROW_KEYS, n),
            Field::Code95Row(n) => row_key(&CODE_95_ROW_KEYS, n),
            Field::SupportNumber => "support_number",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        let row = |keys: &[&str]| {
            keys.iter()
                .position(|k| *k == key)
                .and_then(|i| u8::try_from(i + 1).ok())
        };
        Self::ALL
            .into_iter()
            .find(|f| f.key() == key)
            .or_else(|| row(&CATEGORY_ROW_KEYS).map(Field::CategoryRow))
            .or_else(|| row(&CODE_95_ROW_KEYS).map(Field::Code95Row))
    }

    /// The number printed beside the field on the card.
    pub fn number(self) -> &'static str {
        match self {
            Field::Surname => "1.",
            Field::GivenNames => "2.",
            Field::Birth => "3.",
            Field::IssueDate => "4a.",
            Field::ExpiryDate => "4b.",
            Field::Authority => "4c.",
            Field::AdminNumber => "4d.",
            Field::LicenceNumber => "5a.",
            Field::CardNumber => "5b.",
            Field::Residence => "8.",
            Field::Categories | Field::CategoryRow(_) => "9.",
            Field::Code95Row(_) => "10.",
            Field::SupportNumber => "11.",
        }
    }
}

/// Row `n`'s key; rows outside the table do not exist (`Field::parse` never makes one).
fn row_key(keys: &[&'static str; CATEGORY_ROWS as usize], n: u8) -> &'static str {
    usize::from(n)
        .checked_sub(1)
        .and_then(|i| keys.get(i))
        .copied()
        .unwrap_or("row_out_of_table")
}

/// Horizontal alignment of text in its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    Left,
    Center,
    Right,
}

/// Vertical placement of the block of lines in its box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VAlign {
    Top,
    Middle,
    Bottom,
}

/// Letter case applied before fitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Case {
    AsIs,
    Upper,
}

/// Barcode symbologies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Symbology {
    Code128,
    Qr,
}

/// One element as written in the file: every key optional, checked by kind afterwards.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElementFile {
    pub name: String,
    pub layer: String,
    pub kind: String,
    pub x: Option<f32>,
    pub y: Option<f32>,
    pub w: Option<f32>,
    pub h: Option<f32>,
    pub fill: Option<String>,
    pub stroke: Option<String>,
    pub stroke_width: Option<f32>,
    pub radius: Option<f32>,
    pub text: Option<String>,
    pub field: Option<String>,
    pub face: Option<String>,
    pub size: Option<f32>,
    pub min_size: Option<f32>,
    pub max_lines: Option<u8>,
    pub align: Option<Align>,
    pub valign: Option<VAlign>,
    pub case: Option<Case>,
    pub color: Option<String>,
    pub picture: Option<String>,
    pub symbology: Option<Symbology>,
    pub module: Option<f32>,
    pub cx: Option<f32>,
    pub cy: Option<f32>,
    pub ring: Option<f32>,
    pub star: Option<f32>,
    pub count: Option<u8>,
}

/// A layout file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayoutFile {
    pub name: String,
    pub width_mm: f32,
    pub height_mm: f32,
    /// Printed area beyond the trimmed card on each side (0 for a card printer).
    #[serde(default)]
    pub bleed_mm: f32,
    #[serde(rename = "element")]
    pub elements: Vec<ElementFile>,
}

/// Where a text element's words come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Static(String),
    Field(Field),
}

/// A checked text element.
#[derive(Debug, Clone, PartialEq)]
pub struct TextSpec {
    pub source: Source,
    pub face: Face,
    pub size_pt: f32,
    pub min_size_pt: f32,
    pub max_lines: u8,
    pub align: Align,
    pub valign: VAlign,
    pub case: Case,
    pub color: Rgb,
}

/// A checked element's kind and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Rect {
        fill: Option<Rgb>,
        stroke: Option<(Rgb, f32)>,
        radius: f32,
    },
    /// The EU emblem's ring of five-pointed stars.
    Stars {
        cx: f32,
        cy: f32,
        ring: f32,
        star: f32,
        count: u8,
        fill: Rgb,
    },
    Text(TextSpec),
    Image(Picture),
    Barcode {
        symbology: Symbology,
        field: Field,
        module_mm: f32,
        color: Rgb,
    },
    /// The chip module's contact plate (ISO/IEC 7816-2): drawn on previews so a person sees
    /// it, never printed, and kept clear of every personalisation element.
    Chip,
}

/// A checked element: a box in mm and what to draw in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub name: String,
    pub layer: Layer,
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    pub kind: Kind,
}

/// A checked layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub name: String,
    pub width_mm: f32,
    pub height_mm: f32,
    pub bleed_mm: f32,
    pub elements: Vec<Element>,
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum LayoutError {
    #[error("layout {file}: {message}")]
    Toml { file: String, message: String },
    #[error("layout {layout}, element {element:?}: {message}")]
    Element {
        layout: String,
        element: String,
        message: String,
    },
}

/// Tolerance for boxes touching the card edge (float rounding of mm values).
const EDGE_EPSILON_MM: f32 = 0.001;

impl Layout {
    /// Parses and checks a layout; `file` names it in errors.
    pub fn parse(file: &str, toml_text: &str) -> Result<Layout, LayoutError> {
        let parsed: LayoutFile = toml::from_str(toml_text).map_err(|e| LayoutError::Toml {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        Layout::from_file(parsed)
    }

    pub fn from_file(f: LayoutFile) -> Result<Layout, LayoutError> {
        let mut elements = Vec::with_capacity(f.elements.len());
        let mut names = std::collections::HashSet::new();
        for e in &f.elements {
            let err = |message: String| LayoutError::Element {
                layout: f.name.clone(),
                element: e.name.clone(),
                message,
            };
            if !names.insert(e.name.clone()) {
                return Err(err("the name is used by another element".into()));
            }
            elements.push(element(&f, e).map_err(err)?);
        }
        keep_chip_clear(&f.name, &elements)?;
        Ok(Layout {
            name: f.name,
            width_mm: f.width_mm,
            height_mm: f.height_mm,
            bleed_mm: f.bleed_mm,
            elements,
        })
    }
}

/// No personalisation element may overlap the chip's contact plate: ink on the contacts
/// would be printed on gold, or the module milled through the holder's data.
fn keep_chip_clear(layout: &str, elements: &[Element]) -> Result<(), LayoutError> {
    let chips = elements.iter().filter(|e| e.kind == Kind::Chip);
    for chip in chips {
        let hit = elements.iter().find(|e| {
            e.layer == Layer::Personalisation
                && e.x < chip.x + chip.w
                && chip.x < e.x + e.w
                && e.y < chip.y + chip.h
                && chip.y < e.y + e.h
        });
        if let Some(e) = hit {
            return Err(LayoutError::Element {
                layout: layout.to_string(),
                element: e.name.clone(),
                message: format!(
                    "its box ({}, {}) + ({} x {}) mm overlaps the chip's contacts {:?} ({}, {}) + ({} x {}) mm",
                    e.x, e.y, e.w, e.h, chip.name, chip.x, chip.y, chip.w, chip.h
                ),
            });
        }
    }
    Ok(())
}

fn element(f: &LayoutFile, e: &ElementFile) -> Result<Element, String> {
    let layer = match e.layer.as_str() {
        "preprint" => Layer::Preprint,
        "personalisation" => Layer::Personalisation,
        other => {
            return Err(format!(
                "layer {other:?} is neither \"preprint\" nor \"personalisation\""
            ));
        }
    };
    let kind = match e.kind.as_str() {
        "rect" => Kind::Rect {
            fill: e.fill.as_deref().map(colour).transpose()?,
            stroke: match &e.stroke {
                Some(s) => Some((colour(s)?, e.stroke_width.unwrap_or(0.2))),
                None => None,
            },
            radius: e.radius.unwrap_or(0.0),
        },
        "stars" => Kind::Stars {
            cx: need(e.cx, "cx")?,
            cy: need(e.cy, "cy")?,
            ring: need(e.ring, "ring")?,
            star: need(e.star, "star")?,
            count: e.count.unwrap_or(12),
            fill: colour(e.fill.as_deref().unwrap_or("#FFCC00"))?,
        },
        "text" => Kind::Text(text(e, layer)?),
        "image" => Kind::Image(match e.picture.as_deref() {
            Some("photo") => Picture::Photo,
            Some("signature") => Picture::Signature,
            Some(other) => {
                return Err(format!(
                    "picture {other:?} is neither \"photo\" nor \"signature\""
                ));
            }
            None => return Err("an image element needs `picture`".into()),
        }),
        "barcode" => Kind::Barcode {
            symbology: e.symbology.ok_or("a barcode element needs `symbology`")?,
            field: field(
                e.field
                    .as_deref()
                    .ok_or("a barcode element needs `field`")?,
            )?,
            module_mm: e.module.unwrap_or(0.254),
            color: colour(e.color.as_deref().unwrap_or("#000000"))?,
        },
        "chip" if layer == Layer::Preprint => Kind::Chip,
        "chip" => {
            return Err(
                "the chip's contacts belong to the card body: put them on the preprint layer"
                    .into(),
            );
        }
        other => {
            return Err(format!(
                "kind {other:?} is not one of rect, stars, text, image, barcode, chip"
            ));
        }
    };
    let (x, y, w, h) = match &kind {
        Kind::Stars {
            cx, cy, ring, star, ..
        } => (
            cx - ring - star,
            cy - ring - star,
            2.0 * (ring + star),
            2.0 * (ring + star),
        ),
        _ => (
            need(e.x, "x")?,
            need(e.y, "y")?,
            need(e.w, "w")?,
            need(e.h, "h")?,
        ),
    };
    if w <= 0.0 || h <= 0.0 {
        return Err(format!(
            "its box is {w} x {h} mm: width and height must be positive"
        ));
    }
    let b = f.bleed_mm;
    if x < -b - EDGE_EPSILON_MM
        || y < -b - EDGE_EPSILON_MM
        || x + w > f.width_mm + b + EDGE_EPSILON_MM
        || y + h > f.height_mm + b + EDGE_EPSILON_MM
    {
        return Err(format!(
            "its box ({x}, {y}) + ({w} x {h}) mm leaves the card ({} x {} mm, bleed {b} mm)",
            f.width_mm, f.height_mm
        ));
    }
    Ok(Element {
        name: e.name.clone(),
        layer,
        x,
        y,
        w,
        h,
        kind,
    })
}

fn text(e: &ElementFile, layer: Layer) -> Result<TextSpec, String> {
    let source = match (&e.text, &e.field) {
        (Some(t), None) => Source::Static(t.clone()),
        (None, Some(f)) => Source::Field(field(f)?),
        (Some(_), Some(_)) => {
            return Err("a text element has either `text` or `field`, not both".into());
        }
        (None, None) => return Err("a text element needs `text` (static) or `field` (data)".into()),
    };
    if matches!(source, Source::Field(_)) && layer == Layer::Preprint {
        return Err("a data field cannot be on the preprint layer: the card body is printed before any holder exists".into());
    }
    let size_pt = need(e.size, "size")?;
    let min_size_pt = e.min_size.unwrap_or(size_pt);
    if min_size_pt > size_pt || min_size_pt <= 0.0 {
        return Err(format!(
            "min_size {min_size_pt} pt must be positive and at most size {size_pt} pt"
        ));
    }
    let face = match e.face.as_deref().unwrap_or("regular") {
        "regular" => Face::Regular,
        "bold" => Face::Bold,
        other => {
            return Err(format!(
                "face {other:?} is neither \"regular\" nor \"bold\""
            ));
        }
    };
    Ok(TextSpec {
        source,
        face,
        size_pt,
        min_size_pt,
        max_lines: e.max_lines.unwrap_or(1).max(1),
        align: e.align.unwrap_or(Align::Left),
        valign: e.valign.unwrap_or(VAlign::Middle),
        case: e.case.unwrap_or(Case::AsIs),
        color: colour(e.color.as_deref().unwrap_or("#000000"))?,
    })
}

fn field(key: &str) -> Result<Field, String> {
    Field::parse(key).ok_or_else(|| {
        let known: Vec<&str> = Field::ALL.iter().map(|f| f.key()).collect();
        format!(
            "unknown field {key:?}; known fields: {}, category_1 … category_{CATEGORY_ROWS}, code_95_1 … code_95_{CATEGORY_ROWS}",
            known.join(", ")
        )
    })
}

fn need(v: Option<f32>, key: &str) -> Result<f32, String> {
    v.ok_or_else(|| format!("`{key}` is required"))
}

/// `#RRGGBB`.
pub fn colour(s: &str) -> Result<Rgb, String> {
    let hex = s.strip_prefix('#').unwrap_or(s);
    let ok = hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit());
    let byte = |i: usize| {
        u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| format!("colour {s:?} is not #RRGGBB"))
    };
    if !ok {
        return Err(format!("colour {s:?} is not #RRGGBB"));
    }
    Ok(Rgb(byte(0)?, byte(2)?, byte(4)?))
}

/// The card layouts shipped with the binary.
pub const FRONT_TOML: &str = include_str!("../../layouts/card-front.toml");
pub const BACK_TOML: &str = include_str!("../../layouts/card-back.toml");

#[cfg(test)]
mod tests {
    use super::*;

    fn one(element: &str) -> Result<Layout, LayoutError> {
        Layout::parse(
            "test.toml",
            &format!("name = \"t\"\nwidth_mm = 85.6\nheight_mm = 53.98\n[[element]]\n{element}\n"),
        )
    }

    #[test]
    fn the_shipped_layouts_are_valid_and_cover_annex_ii() {
        let front = Layout::parse("card-front.toml", FRONT_TOML).unwrap();
        let back = Layout::parse("card-back.toml", BACK_TOML).unwrap();
        let fields = |l: &Layout| -> Vec<Field> {
            l.elements
                .iter()
                .filter_map(|e| match &e.kind {
                    Kind::Text(TextSpec {
                        source: Source::Field(f),
                        ..
                    }) => Some(*f),
                    _ => None,
                })
                .collect()
        };
        for f in [
            Field::Surname,
            Field::GivenNames,
            Field::Birth,
            Field::IssueDate,
            Field::ExpiryDate,
            Field::Authority,
            Field::AdminNumber,
            Field::LicenceNumber,
            Field::CardNumber,
            Field::Residence,
            Field::Categories,
        ] {
            assert!(fields(&front).contains(&f), "front lacks {}", f.key());
        }
        let mut back_fields = vec![Field::SupportNumber];
        for n in 1..=CATEGORY_ROWS {
            back_fields.extend([Field::CategoryRow(n), Field::Code95Row(n)]);
        }
        for f in back_fields {
            assert!(fields(&back).contains(&f), "back lacks {}", f.key());
        }
        let pictures: Vec<_> = front
            .elements
            .iter()
            .filter_map(|e| match e.kind {
                Kind::Image(p) => Some(p),
                _ => None,
            })
            .collect();
        assert_eq!(pictures, vec![Picture::Photo, Picture::Signature]);
    }

    #[test]
    fn an_unknown_field_is_named_with_its_element() {
        let e = one("name = \"nick\"\nlayer = \"personalisation\"\nkind = \"text\"\nfield = \"nickname\"\nx = 1\ny = 1\nw = 10\nh = 3\nsize = 6").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("element \"nick\""), "{msg}");
        assert!(msg.contains("unknown field \"nickname\""), "{msg}");
    }

    #[test]
    fn an_element_off_the_card_is_named() {
        let e = one(
            "name = \"stray\"\nlayer = \"preprint\"\nkind = \"rect\"\nx = 80\ny = 1\nw = 10\nh = 3",
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("element \"stray\""), "{msg}");
        assert!(msg.contains("leaves the card"), "{msg}");
    }

    #[test]
    fn a_misspelt_key_is_refused_with_its_line() {
        let e = one(
            "name = \"r\"\nlayer = \"preprint\"\nkind = \"rect\"\nx = 1\ny = 1\nw = 10\nhh = 3",
        )
        .unwrap_err();
        assert!(matches!(e, LayoutError::Toml { .. }));
        assert!(e.to_string().contains("hh"), "{e}");
    }

    #[test]
    fn data_cannot_sit_on_the_preprint_layer() {
        let e = one("name = \"s\"\nlayer = \"preprint\"\nkind = \"text\"\nfield = \"surname\"\nx = 1\ny = 1\nw = 10\nh = 3\nsize = 6").unwrap_err();
        assert!(
            e.to_string().contains("cannot be on the preprint layer"),
            "{e}"
        );
    }

    #[test]
    fn personal_data_cannot_overlap_the_chip() {
        let chip = "name = \"chip\"\nlayer = \"preprint\"\nkind = \"chip\"\nx = 9\ny = 17\nw = 12\nh = 13\n";
        let over = "[[element]]\nname = \"num\"\nlayer = \"personalisation\"\nkind = \"text\"\nfield = \"card_number\"\nx = 20\ny = 29\nw = 10\nh = 3\nsize = 6";
        let text =
            format!("name = \"t\"\nwidth_mm = 85.6\nheight_mm = 53.98\n[[element]]\n{chip}{over}");
        let e = Layout::parse("t", &text).unwrap_err().to_string();
        assert!(e.contains("element \"num\""), "{e}");
        assert!(e.contains("overlaps the chip's contacts"), "{e}");
        let clear = text.replace("x = 20\ny = 29", "x = 22\ny = 29");
        assert!(Layout::parse("t", &clear).is_ok());
        let printed = format!(
            "name = \"t\"\nwidth_mm = 85.6\nheight_mm = 53.98\n[[element]]\n{}",
            chip.replace("preprint", "personalisation")
        );
        assert!(Layout::parse("t", &printed).is_err());
    }

    #[test]
    fn colours_parse() {
        assert_eq!(colour("#003399"), Ok(Rgb(0, 0x33, 0x99)));
        assert!(colour("#0033").is_err());
        assert!(colour("#GG3399").is_err());
    }
}
