//! A scene: what one side of a card looks like, as positioned primitives in millimetres.
//!
//! The layout (what goes where, declared in `layouts/*.toml`) and the card's data are turned
//! into a scene once; every renderer (PDF proof, 300-dpi bitmaps) draws the *same* scene, so
//! the proof an operator approves and the bytes sent to the printer cannot disagree on
//! geometry: text is already fitted and broken into lines, sizes are already chosen.
//!
//! Coordinates: millimetres from the top-left corner of the card, y downwards (as a designer
//! measures a card); renderers convert (the PDF's origin is bottom-left, in points).

/// Which pass of production draws an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// The card body's static design, printed once on every blank.
    Preprint,
    /// The holder's data, added by the card printer or laser engraver.
    Personalisation,
}

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub const BLACK: Rgb = Rgb(0, 0, 0);
    pub const WHITE: Rgb = Rgb(255, 255, 255);
}

/// The bundled typefaces (DejaVu Sans Condensed: full European Latin, Greek and Cyrillic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Face {
    Regular,
    Bold,
}

/// One line of text, already fitted: its left end on the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub x_mm: f32,
    pub baseline_mm: f32,
    pub text: String,
    /// Width as measured with the font's advances and kerning (for tests and alignment).
    pub width_mm: f32,
}

/// Which picture an image item shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Picture {
    Photo,
    Signature,
}

/// A drawing primitive.
#[derive(Debug, Clone, PartialEq)]
pub enum Primitive {
    /// A filled (and optionally stroked) rectangle with optional rounded corners.
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Option<Rgb>,
        stroke: Option<(Rgb, f32)>,
        radius: f32,
    },
    /// A filled polygon (stars of the EU emblem).
    Polygon { points: Vec<(f32, f32)>, fill: Rgb },
    /// Lines of text in one face, size and colour.
    Text {
        face: Face,
        size_pt: f32,
        color: Rgb,
        lines: Vec<Line>,
    },
    /// A prepared picture fitted into the box.
    Image {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        picture: Picture,
    },
    /// Dark modules of a barcode as rectangles (x, y, w, h), quiet zone already left clear.
    Modules {
        rects: Vec<(f32, f32, f32, f32)>,
        color: Rgb,
    },
}

/// One positioned primitive, with the layout element it comes from (named in errors and
/// in the geometry tests).
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub element: String,
    pub layer: Layer,
    pub primitive: Primitive,
}

/// One side of a card.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    pub width_mm: f32,
    pub height_mm: f32,
    pub items: Vec<Item>,
}

impl Scene {
    /// The items of one layer, in drawing order.
    pub fn layer(&self, layer: Layer) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(move |i| i.layer == layer)
    }
}

/// Points per millimetre (PostScript points, 72 per inch).
pub const PT_PER_MM: f32 = 72.0 / 25.4;
