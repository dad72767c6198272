//! PDF proofs of card scenes: the document an operator approves before cards are printed.
//!
//! A proof draws the very [`Scene`] the 300-dpi bitmaps are rasterised from, so the two cannot
//! disagree on geometry. What can stay vector stays vector (rectangles, the emblem's stars,
//! barcode modules), text stays real text in the embedded, subset DejaVu faces (selectable,
//! and rendered by every viewer from the same outlines the card uses), and the photo's JPEG
//! bytes are embedded untouched (DCTDecode pass-through): re-encoding would add a second
//! generation of JPEG loss to the very picture the operator is checking.
//!
//! printpdf 0.12.8 is used through its "ops list" API, with these traps handled here:
//! - a `Rect` with `mode: None` paints nothing, so every shape names its paint mode;
//! - text ops outside `StartTextSection`/`EndTextSection` are blank in most viewers;
//! - `RawImage` decodes and re-encodes JPEGs, so the photo is an external DCTDecode stream;
//! - `PdfDocument::save` drops write errors and reports broken fonts only as warnings, so the
//!   document is written through `to_lopdf_document` and error warnings fail the proof;
//! - its `/W` glyph widths are truncated to 1/1000 em, so each line carries small `TJ`
//!   corrections that keep every glyph where the layout measured it (advances plus `kern`
//!   pairs, as the rasteriser places them).

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

use ::image::codecs::png::{CompressionType, FilterType, PngEncoder};
use ::image::{ExtendedColorType, GrayImage, ImageEncoder, ImageError};
use printpdf::{
    Color, DictItem, ExternalStream, ExternalXObject, FontId, LinePoint, Mm, Op, PaintMode,
    ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfParseErrorSeverity, PdfSaveOptions, Point,
    Polygon, PolygonRing, Pt, Rect, TextItem, WindingOrder, XObject, XObjectId, XObjectTransform,
};
use sha2::{Digest, Sha256};

use super::fonts;
use super::scene::{Face, Line, PT_PER_MM, Picture, Primitive, Rgb, Scene};

/// Pictures of one card for the proof: the prepared greyscale photo as JPEG bytes (embedded
/// as-is, DCTDecode pass-through: never re-encoded) with its pixel size, and the prepared
/// signature (greyscale, 0 = ink).
#[derive(Debug, Clone, Copy)]
pub struct ProofPictures<'a> {
    pub photo_jpeg: &'a [u8],
    pub photo_px: (u32, u32),
    pub signature: &'a GrayImage,
}

/// Why a proof could not be made. Page numbers count from 1, as an operator reads them, and
/// each drawing problem names the layout element it comes from.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// A PDF must have at least one page: an empty batch is the caller's mistake to report.
    #[error("a proof needs at least one page")]
    NoPages,
    /// The scene's size cannot be a page (zero, negative or not a number).
    #[error("page {page}: {width_mm} x {height_mm} mm is not a usable page size")]
    PageSize {
        page: usize,
        width_mm: f32,
        height_mm: f32,
    },
    /// A coordinate or size is NaN, infinite or negative: written as is, it would corrupt the
    /// file or draw somewhere other than the layout meant.
    #[error(
        "page {page}, element {element:?}: a coordinate or size is not a finite, non-negative number"
    )]
    Geometry { page: usize, element: String },
    /// The face has no glyph for a character: it would print as an empty box.
    #[error("page {page}, element {element:?}: {face:?} has no glyph for {ch:?} (U+{code:04X})", code = u32::from(*ch))]
    MissingGlyph {
        page: usize,
        element: String,
        face: Face,
        ch: char,
    },
    /// printpdf cannot parse one of the bundled font files.
    #[error("the embedded font {face:?} cannot be parsed by printpdf")]
    Font { face: Face },
    /// The photo cannot be passed through as it is.
    #[error("page {page}: photo: {problem}")]
    Photo { page: usize, problem: JpegProblem },
    /// The signature cannot be embedded.
    #[error("page {page}: signature: {problem}")]
    Signature {
        page: usize,
        problem: SignatureProblem,
    },
    /// printpdf reported an error-level problem (for example a font it failed to subset)
    /// that it would otherwise only have logged while writing a damaged file.
    #[error("printpdf: {message}")]
    Printpdf { message: String },
    /// Serialising the finished document failed.
    #[error("writing the PDF failed: {message}")]
    Write { message: String },
}

/// Why the photo's JPEG bytes cannot be embedded as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JpegProblem {
    #[error("not a JPEG file (no start-of-image marker)")]
    NotJpeg,
    #[error("no frame header before the scan data or the end: truncated or damaged file")]
    NoFrameHeader,
    /// Lossless, hierarchical and arithmetic-coded JPEGs are not readable through DCTDecode.
    #[error(
        "JPEG coding process SOF{0} cannot be embedded (only baseline, extended and progressive)"
    )]
    Process(u8),
    #[error("{0}-bit samples cannot be embedded (only 8-bit)")]
    Precision(u8),
    #[error("{0} colour components (only 1, greyscale, or 3, colour)")]
    Components(u8),
    /// The size the caller declared is not the size in the file: the wrong photo or stale
    /// metadata, either way not something to print.
    #[error("declared {declared:?} px but the file is {actual:?} px")]
    SizeMismatch {
        declared: (u32, u32),
        actual: (u32, u32),
    },
}

/// Why the signature cannot be embedded.
#[derive(Debug, thiserror::Error)]
pub enum SignatureProblem {
    #[error("the image is empty")]
    Empty,
    #[error("PNG compression failed")]
    Encode(#[source] ImageError),
    #[error("the PNG encoder produced no image data")]
    NoImageData,
}

/// One page per scene, in order, each page exactly the scene's size (85.60 x 53.98 mm →
/// 242.65 x 153.01 pt), fonts embedded and subset, vector shapes for Rect/Polygon/Modules, text
/// as real text (selectable, so a viewer renders it from the embedded font), Image items drawn
/// from the page's pictures (None: a light grey placeholder box — a layout proof without data).
///
/// Each face is registered once per document and each distinct photo or signature is
/// embedded once (pages showing the same bytes share one image object), which keeps a
/// 1,000-card batch proof small and fast.
pub fn proof<'a>(pages: &[(&Scene, Option<&ProofPictures<'a>>)]) -> Result<Vec<u8>, PdfError> {
    document(
        &Meta {
            title: "CQC card proof",
            created: None,
        },
        pages,
    )
}

/// What a document says about itself in its information dictionary.
#[derive(Debug, Clone, Copy)]
pub struct Meta<'a> {
    pub title: &'a str,
    /// Its date of creation (midnight UTC); `None`: the epoch. Never "now": the same content
    /// must give the same bytes.
    pub created: Option<time::Date>,
}

/// [`proof`] with the document's own title and date: a document that is not a card proof
/// (the certificate of qualification) says what it is.
pub fn document<'a>(
    meta: &Meta<'_>,
    pages: &[(&Scene, Option<&ProofPictures<'a>>)],
) -> Result<Vec<u8>, PdfError> {
    if pages.is_empty() {
        return Err(PdfError::NoPages);
    }
    let mut builder = Builder::default();
    let mut pdf_pages = Vec::with_capacity(pages.len());
    for (index, (scene, pictures)) in pages.iter().enumerate() {
        let ops = builder.page_ops(index + 1, scene, *pictures)?;
        pdf_pages.push(PdfPage::new(Mm(scene.width_mm), Mm(scene.height_mm), ops));
    }
    builder.finish(meta, pdf_pages)
}

/// The light grey of a picture box drawn without pictures.
const PLACEHOLDER: Rgb = Rgb(217, 217, 217);

/// Bézier handle length for a quarter circle of radius 1.
const KAPPA: f32 = 0.552_284_8;

/// The document being assembled and what is already registered in it.
#[derive(Default)]
struct Builder<'a> {
    doc: PdfDocument,
    regular: Option<FaceFont>,
    bold: Option<FaceFont>,
    photos: HashMap<BytesKey<'a>, XObjectId>,
    signatures: HashMap<(u32, BytesKey<'a>), XObjectId>,
    /// Reused per line, so that shaping a line does not allocate.
    glyph_scratch: Vec<Glyph>,
}

impl<'a> Builder<'a> {
    fn page_ops(
        &mut self,
        page: usize,
        scene: &Scene,
        pictures: Option<&ProofPictures<'a>>,
    ) -> Result<Vec<Op>, PdfError> {
        let (w, h) = (scene.width_mm, scene.height_mm);
        if !(w.is_finite() && h.is_finite() && w > 0.0 && h > 0.0) {
            return Err(PdfError::PageSize {
                page,
                width_mm: w,
                height_mm: h,
            });
        }
        let frame = Frame {
            height_pt: h * PT_PER_MM,
        };
        let mut ops = Vec::with_capacity(scene.items.len() * 4);
        let mut pen = Pen::default();
        for item in &scene.items {
            let geometry = || PdfError::Geometry {
                page,
                element: item.element.clone(),
            };
            match &item.primitive {
                Primitive::Rect {
                    x,
                    y,
                    w,
                    h,
                    fill,
                    stroke,
                    radius,
                } => {
                    let stroke_width = stroke.map_or(0.0, |(_, width)| width);
                    if !all_sizes([*w, *h, *radius, stroke_width]) || !all_finite([*x, *y]) {
                        return Err(geometry());
                    }
                    let rect = MmRect {
                        x: *x,
                        y: *y,
                        w: *w,
                        h: *h,
                    };
                    draw_rect(&mut ops, &mut pen, frame, rect, *fill, *stroke, *radius);
                }
                Primitive::Polygon { points, fill } => {
                    if !points.iter().all(|(x, y)| x.is_finite() && y.is_finite()) {
                        return Err(geometry());
                    }
                    draw_polygon(&mut ops, &mut pen, frame, points, *fill);
                }
                Primitive::Modules { rects, color } => {
                    if !rects
                        .iter()
                        .all(|&(x, y, w, h)| all_finite([x, y]) && all_sizes([w, h]))
                    {
                        return Err(geometry());
                    }
                    draw_modules(&mut ops, &mut pen, frame, rects, *color);
                }
                Primitive::Text {
                    face,
                    size_pt,
                    color,
                    lines,
                } => {
                    let placed = lines
                        .iter()
                        .all(|l| l.x_mm.is_finite() && l.baseline_mm.is_finite());
                    if !(placed && size_pt.is_finite() && *size_pt > 0.0) {
                        return Err(geometry());
                    }
                    let style = TextStyle {
                        face: *face,
                        size_pt: *size_pt,
                        color: *color,
                    };
                    self.draw_text(&mut ops, &mut pen, frame, style, lines)
                        .map_err(|e| match e {
                            TextError::Font(e) => e,
                            TextError::MissingGlyph(ch) => PdfError::MissingGlyph {
                                page,
                                element: item.element.clone(),
                                face: *face,
                                ch,
                            },
                        })?;
                }
                Primitive::Image {
                    x,
                    y,
                    w,
                    h,
                    picture,
                } => {
                    if !all_finite([*x, *y]) || !all_sizes([*w, *h]) {
                        return Err(geometry());
                    }
                    let rect = MmRect {
                        x: *x,
                        y: *y,
                        w: *w,
                        h: *h,
                    };
                    match pictures {
                        Some(p) => {
                            let id = match picture {
                                Picture::Photo => self.photo(page, p)?,
                                Picture::Signature => self.signature(page, p)?,
                            };
                            draw_image(&mut ops, frame, rect, id);
                        }
                        None => draw_rect(
                            &mut ops,
                            &mut pen,
                            frame,
                            rect,
                            Some(PLACEHOLDER),
                            None,
                            0.0,
                        ),
                    }
                }
            }
        }
        Ok(ops)
    }

    /// The face's font, parsed and registered with the document on first use: once per
    /// document, however many pages use it.
    fn face(&mut self, face: Face) -> Result<&FaceFont, PdfError> {
        let slot = match face {
            Face::Regular => &mut self.regular,
            Face::Bold => &mut self.bold,
        };
        if slot.is_none() {
            let data = fonts::bytes(face);
            let parsed = parsed_font(face).ok_or(PdfError::Font { face })?;
            let units_per_em = f32::from(parsed.pdf_font_metrics.units_per_em);
            if units_per_em <= 0.0 {
                return Err(PdfError::Font { face });
            }
            // printpdf makes the subset tag (`XXXXXX+` before the font's name) from the first
            // six characters of the id, and readers only recognise a subset by a tag of six
            // capital letters: the id is such a tag, different per face as PDF requires.
            let id = FontId(
                match face {
                    Face::Regular => "DJVSCR",
                    Face::Bold => "DJVSCB",
                }
                .to_owned(),
            );
            self.doc
                .resources
                .fonts
                .map
                .insert(id.clone(), printpdf::PdfFont::new(parsed.clone()));
            *slot = Some(FaceFont {
                id,
                font: parsed,
                units_per_em,
                kerning: Kerning::parse(data),
                glyphs: HashMap::new(),
            });
        }
        slot.as_ref().ok_or(PdfError::Font { face })
    }

    /// Lines of one text primitive as positioned glyph runs, in one text object.
    fn draw_text(
        &mut self,
        ops: &mut Vec<Op>,
        pen: &mut Pen,
        frame: Frame,
        style: TextStyle,
        lines: &[Line],
    ) -> Result<(), TextError> {
        if lines.iter().all(|l| l.text.is_empty()) {
            return Ok(());
        }
        let font_id = self.face(style.face).map_err(TextError::Font)?.id.clone();
        let slot = match style.face {
            Face::Regular => self.regular.as_mut(),
            Face::Bold => self.bold.as_mut(),
        };
        let face = slot.ok_or(TextError::Font(PdfError::Font { face: style.face }))?;
        pen.fill(ops, style.color);
        ops.push(Op::StartTextSection);
        // Text state (`Tf`) outlives `ET`, so consecutive items in one face and size share it.
        if pen.font != Some((style.face, style.size_pt.to_bits())) {
            ops.push(Op::SetFont {
                font: PdfFontHandle::External(font_id),
                size: Pt(style.size_pt),
            });
            pen.font = Some((style.face, style.size_pt.to_bits()));
        }
        // Lines are placed with `Td`, which moves from the previous line's start (the origin
        // at `BT`): two numbers instead of `Tm`'s six, and printpdf passes it through as is
        // (a `Tm` sends every following glyph through its glyph-run merger).
        let mut origin = (0.0, 0.0);
        for line in lines.iter().filter(|l| !l.text.is_empty()) {
            let items = face
                .shape(&line.text, &mut self.glyph_scratch)
                .map_err(TextError::MissingGlyph)?;
            let at = (frame.x(line.x_mm).0, frame.y(line.baseline_mm).0);
            ops.push(Op::SetTextCursor {
                pos: Point {
                    x: Pt(round_pt(at.0 - origin.0)),
                    y: Pt(round_pt(at.1 - origin.1)),
                },
            });
            origin = at;
            ops.push(Op::ShowText { items });
        }
        ops.push(Op::EndTextSection);
        Ok(())
    }

    /// The photo as an image XObject whose stream *is* the JPEG file (DCTDecode), embedded
    /// once per distinct file.
    fn photo(&mut self, page: usize, p: &ProofPictures<'a>) -> Result<XObjectId, PdfError> {
        let key = BytesKey(p.photo_jpeg);
        if let Some(id) = self.photos.get(&key) {
            return Ok(id.clone());
        }
        let problem = |problem| PdfError::Photo { page, problem };
        let frame = jpeg_frame(p.photo_jpeg).map_err(problem)?;
        if (frame.width, frame.height) != p.photo_px {
            return Err(problem(JpegProblem::SizeMismatch {
                declared: p.photo_px,
                actual: (frame.width, frame.height),
            }));
        }
        let colour_space = match frame.components {
            1 => "DeviceGray",
            3 => "DeviceRGB",
            n => return Err(problem(JpegProblem::Components(n))),
        };
        let dict = image_dict(frame.width, frame.height, colour_space, Some("DCTDecode"));
        let id = XObjectId(format!("Photo{}", self.photos.len() + 1));
        self.add_image(id.clone(), dict, p.photo_jpeg.to_vec());
        self.photos.insert(key, id.clone());
        Ok(id)
    }

    /// The signature as black ink whose opacity is the signature's darkness (a soft mask):
    /// the card's printed background shows through the paper-white parts exactly as it does
    /// under the printer's ink, instead of being covered by a white box. Both streams are
    /// lossless (PNG-predicted Flate), embedded once per distinct signature.
    fn signature(&mut self, page: usize, p: &ProofPictures<'a>) -> Result<XObjectId, PdfError> {
        let image = p.signature;
        let (w, h) = image.dimensions();
        let key = (w, BytesKey(image.as_raw().as_slice()));
        if let Some(id) = self.signatures.get(&key) {
            return Ok(id.clone());
        }
        let problem = |problem| PdfError::Signature { page, problem };
        if w == 0 || h == 0 {
            return Err(problem(SignatureProblem::Empty));
        }
        // Alpha is the ink: 0 (ink) becomes opaque, 255 (paper) transparent.
        let alpha: Vec<u8> = image.as_raw().iter().map(|v| 255 - v).collect();
        let mask = flate_with_png_predictor(&alpha, w, h).map_err(problem)?;
        let mut mask_dict = image_dict(w, h, "DeviceGray", Some("FlateDecode"));
        mask_dict.insert("DecodeParms".into(), png_predictor_parms(w));
        // The ink itself is one black sample: a soft mask's size is independent of its
        // image's (both are mapped onto the unit square; PDF Reference 1.7, table 7.11), so
        // there is no need to build, compress and store a page of zeros per signature.
        let mut ink_dict = image_dict(1, 1, "DeviceGray", None);
        ink_dict.insert(
            "SMask".into(),
            DictItem::Stream {
                stream: ExternalStream {
                    dict: mask_dict,
                    content: mask,
                    compress: false,
                },
            },
        );
        let ink = vec![0u8];
        let id = XObjectId(format!("Signature{}", self.signatures.len() + 1));
        self.add_image(id.clone(), ink_dict, ink);
        self.signatures.insert(key, id.clone());
        Ok(id)
    }

    fn add_image(&mut self, id: XObjectId, dict: BTreeMap<String, DictItem>, content: Vec<u8>) {
        // `compress: false`: the content is already compressed (DCT or Flate); lopdf would
        // skip it anyway because the dictionary names a filter.
        let xobject = ExternalXObject {
            stream: ExternalStream {
                dict,
                content,
                compress: false,
            },
            // No pixel size: printpdf would otherwise scale the unit square to the pixel size
            // at 300 dpi before our own placement.
            width: None,
            height: None,
            dpi: None,
        };
        self.doc
            .resources
            .xobjects
            .map
            .insert(id, XObject::External(xobject));
    }

    /// Serialises the document. PDF 1.4, because the signature's soft mask is transparency.
    fn finish(mut self, meta: &Meta<'_>, pages: Vec<PdfPage>) -> Result<Vec<u8>, PdfError> {
        self.doc.metadata.info.document_title = meta.title.to_owned();
        if let Some(at) = meta.created.and_then(|day| {
            printpdf::DateTime::from_unix_timestamp(day.midnight().assume_utc().unix_timestamp())
                .ok()
        }) {
            self.doc.metadata.info.creation_date = at;
            self.doc.metadata.info.modification_date = at;
            self.doc.metadata.info.metadata_date = at;
        }
        self.doc.metadata.info.creator = "cqcfab".to_owned();
        self.doc.metadata.info.producer = "cqcfab (printpdf 0.12.8)".to_owned();
        self.doc.pages = pages;
        let options = PdfSaveOptions {
            optimize: true,
            subset_fonts: true,
            secure: true,
            image_optimization: None,
        };
        let mut warnings = Vec::new();
        let mut document = self.doc.to_lopdf_document(&options, &mut warnings);
        if let Some(w) = warnings
            .iter()
            .find(|w| w.severity == PdfParseErrorSeverity::Error)
        {
            return Err(PdfError::Printpdf {
                message: w.msg.clone(),
            });
        }
        document.version = "1.4".to_owned();
        // Instead of lopdf's `compress`, which deflates at level 9: measured on carrier
        // letters (font subsets and content streams), level 9 took a quarter of the time of
        // a whole document for a few per cent of size.
        for object in document.objects.values_mut() {
            let Ok(stream) = object.as_stream_mut() else {
                continue;
            };
            if !stream.allows_compression || stream.dict.get(b"Filter").is_ok() {
                continue;
            }
            let packed = miniz_oxide::deflate::compress_to_vec_zlib(&stream.content, FLATE_LEVEL);
            if packed.len() + 19 < stream.content.len() {
                stream.dict.set("Filter", "FlateDecode");
                stream.set_content(packed);
            }
        }
        let mut out = Vec::new();
        document.save_to(&mut out).map_err(|e| PdfError::Write {
            message: e.to_string(),
        })?;
        content_id(&mut out)?;
        Ok(out)
    }
}

/// The face parsed once per process: parsing DejaVu took a seventh of a carrier letter's
/// time when every document did it again.
fn parsed_font(face: Face) -> Option<ParsedFont> {
    static REGULAR: std::sync::OnceLock<Option<ParsedFont>> = std::sync::OnceLock::new();
    static BOLD: std::sync::OnceLock<Option<ParsedFont>> = std::sync::OnceLock::new();
    let cell = match face {
        Face::Regular => &REGULAR,
        Face::Bold => &BOLD,
    };
    cell.get_or_init(|| ParsedFont::from_bytes(fonts::bytes(face), 0, &mut Vec::new()))
        .clone()
}

/// zlib level of the streams we compress (1 fastest … 9 smallest).
const FLATE_LEVEL: u8 = 1;

/// Replaces the random document ID printpdf writes with one derived from the content (the
/// SHA-256 of everything before the trailer), so that the same card always gives the same
/// bytes: the proof's hash in the audit trail can then be re-derived from the card record.
/// Both IDs are 32-character literal strings, replaced by as many hex digits, so the
/// cross-reference offsets (which come before the trailer) stay true.
fn content_id(pdf: &mut [u8]) -> Result<(), PdfError> {
    let broken = |what: &str| PdfError::Write {
        message: format!("cannot set the document ID: {what}"),
    };
    let trailer = find_last(pdf, b"trailer").ok_or_else(|| broken("no trailer"))?;
    let id = trailer
        + find_last(&pdf[trailer..], b"/ID[(").ok_or_else(|| broken("no /ID in the trailer"))?
        + 5;
    let digest = hex::encode_upper(Sha256::digest(&pdf[..trailer]));
    let first = id..id + 32;
    let second = id + 34..id + 66;
    if pdf.len() < second.end || pdf[first.end..second.start] != *b")(" || pdf[second.end] != b')' {
        return Err(broken("unexpected /ID shape"));
    }
    pdf[first].copy_from_slice(&digest.as_bytes()[..32]);
    pdf[second].copy_from_slice(&digest.as_bytes()[32..]);
    Ok(())
}

fn find_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// A face registered in the document, with what shaping a line needs.
struct FaceFont {
    id: FontId,
    font: ParsedFont,
    units_per_em: f32,
    kerning: Kerning,
    /// Per-character glyph metrics: a batch shows the same few dozen letters thousands of
    /// times.
    glyphs: HashMap<char, Glyph>,
}

/// One character's glyph and advances.
#[derive(Debug, Clone, Copy)]
struct Glyph {
    ch: char,
    gid: u16,
    /// Advance in font units (`hmtx`): where the layout and the rasteriser move the pen.
    advance: u16,
    /// The advance a viewer applies, in 1/1000 em: printpdf writes `/W` truncated, so this
    /// differs from `advance` by up to one unit.
    viewer_advance: f64,
}

impl FaceFont {
    fn glyph(&mut self, ch: char) -> Option<Glyph> {
        if let Some(g) = self.glyphs.get(&ch) {
            return Some(*g);
        }
        let gid = self
            .font
            .lookup_glyph_index(u32::from(ch))
            .filter(|g| *g != 0)?;
        let advance = self.font.get_horizontal_advance(gid);
        // The same arithmetic as printpdf's `/W` array (f32, truncated).
        let viewer_advance = (f32::from(advance) * 1000.0 / self.units_per_em).trunc();
        let glyph = Glyph {
            ch,
            gid,
            advance,
            viewer_advance: f64::from(viewer_advance),
        };
        self.glyphs.insert(ch, glyph);
        Some(glyph)
    }

    /// `text` as `TJ` items: runs of characters, with a pen adjustment wherever the viewer's
    /// pen (moved by printpdf's truncated `/W` widths) would stray from the sum of advances
    /// and kerning pairs the layout measured. `Err(ch)`: no glyph for `ch`.
    fn shape(&mut self, text: &str, scratch: &mut Vec<Glyph>) -> Result<Vec<TextItem>, char> {
        scratch.clear();
        for ch in text.chars() {
            scratch.push(self.glyph(ch).ok_or(ch)?);
        }
        let to_thousandths = 1000.0 / f64::from(self.units_per_em);
        let mut items = Vec::with_capacity(4);
        let mut run = String::with_capacity(text.len());
        // Where the viewer's pen is, minus where it should be, in 1/1000 em.
        let mut drift = 0.0f64;
        for (i, g) in scratch.iter().enumerate() {
            run.push(g.ch);
            let Some(next) = scratch.get(i + 1) else {
                break;
            };
            let kern = self.kerning.pair(g.gid, next.gid);
            drift += g.viewer_advance - (f64::from(g.advance) + f64::from(kern)) * to_thousandths;
            // A TJ number n moves the pen back by n/1000 em. A drift under 2/1000 em (0.016 pt
            // at 8 pt, 1/15 of a 300-dpi pixel) is left to accumulate: invisible, and it keeps
            // most characters of a line in one string.
            if drift.abs() >= 2.0 {
                let n = (drift * 10.0).round() / 10.0;
                drift -= n;
                items.push(TextItem::Text(std::mem::take(&mut run)));
                items.push(TextItem::Offset(n as f32));
            }
        }
        items.push(TextItem::Text(run));
        Ok(items)
    }
}

/// Horizontal pair kerning from the font's `kern` table (format 0 subtables): the source
/// ab_glyph reads for the layout's widths and the rasteriser's glyph positions, so the proof
/// places glyphs where the fitting rule measured them. Absent or unreadable table: no kerning,
/// as ab_glyph would do.
#[derive(Debug, Default)]
struct Kerning {
    /// `(left << 16 | right, value)`, sorted by key.
    pairs: Vec<(u32, i16)>,
}

impl Kerning {
    fn pair(&self, left: u16, right: u16) -> i16 {
        let key = (u32::from(left) << 16) | u32::from(right);
        self.pairs
            .binary_search_by_key(&key, |(k, _)| *k)
            .map_or(0, |i| self.pairs[i].1)
    }

    fn parse(data: &[u8]) -> Self {
        Self {
            pairs: kern_pairs(data).unwrap_or_default(),
        }
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The pairs of the horizontal, non-minimum, non-cross-stream format 0 subtables of an
/// OpenType (version 0) `kern` table. Like ttf-parser, the first subtable that has a pair wins.
fn kern_pairs(data: &[u8]) -> Option<Vec<(u32, i16)>> {
    let tables = usize::from(be16(data, 4)?);
    let (offset, length) = (0..tables).find_map(|i| {
        let record = 12 + 16 * i;
        (data.get(record..record + 4)? == b"kern")
            .then(|| {
                Some((
                    be32(data, record + 8)? as usize,
                    be32(data, record + 12)? as usize,
                ))
            })
            .flatten()
    })?;
    let table = data.get(offset..offset.checked_add(length)?)?;
    if be16(table, 0)? != 0 {
        return None; // Apple's AAT `kern` (version 1): not what ab_glyph reads either.
    }
    let mut pairs: Vec<(u32, i16)> = Vec::new();
    let mut at = 4;
    for _ in 0..be16(table, 2)? {
        let length = usize::from(be16(table, at + 2)?);
        let coverage = be16(table, at + 4)?;
        let (format, horizontal, minimum, cross) = (
            coverage >> 8,
            coverage & 1 != 0,
            coverage & 2 != 0,
            coverage & 4 != 0,
        );
        let mut next = at + length;
        if format == 0 {
            let count = usize::from(be16(table, at + 6)?);
            // The 16-bit length overflows for large subtables; the pair count does not.
            next = at + 14 + count * 6;
            if horizontal && !minimum && !cross {
                for p in 0..count {
                    let rec = at + 14 + p * 6;
                    pairs.push((be32(table, rec)?, be16(table, rec + 4)? as i16));
                }
            }
        }
        at = next;
    }
    // Stable sort, then keep the first of equal keys: the earliest subtable wins.
    pairs.sort_by_key(|(k, _)| *k);
    pairs.dedup_by_key(|(k, _)| *k);
    Some(pairs)
}

/// Scene millimetres (from the top-left, y down) to PDF points (from the bottom-left, y up).
#[derive(Debug, Clone, Copy)]
struct Frame {
    height_pt: f32,
}

impl Frame {
    fn x(self, mm: f32) -> Pt {
        Pt(round_pt(mm * PT_PER_MM))
    }

    fn y(self, mm: f32) -> Pt {
        Pt(round_pt(self.height_pt - mm * PT_PER_MM))
    }

    fn point(self, x_mm: f32, y_mm: f32) -> Point {
        Point {
            x: self.x(x_mm),
            y: self.y(y_mm),
        }
    }
}

fn len_pt(mm: f32) -> f32 {
    round_pt(mm * PT_PER_MM)
}

/// Hundredths of a point (0.0035 mm, 1/25 of a 300-dpi pixel): finer than anything printed,
/// and it keeps numbers in the content streams short.
fn round_pt(pt: f32) -> f32 {
    (pt * 100.0).round() / 100.0
}

fn all_finite<const N: usize>(values: [f32; N]) -> bool {
    values.iter().all(|v| v.is_finite())
}

fn all_sizes<const N: usize>(values: [f32; N]) -> bool {
    values.iter().all(|v| v.is_finite() && *v >= 0.0)
}

/// A box in scene millimetres.
#[derive(Debug, Clone, Copy)]
struct MmRect {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

/// Why a text item could not be drawn (made a [`PdfError`] with the page and element).
enum TextError {
    Font(PdfError),
    MissingGlyph(char),
}

#[derive(Debug, Clone, Copy)]
struct TextStyle {
    face: Face,
    size_pt: f32,
    color: Rgb,
}

/// The graphics state already set in this page's content stream, so that a colour or font
/// shared by consecutive items is set once.
#[derive(Debug, Default)]
struct Pen {
    fill: Option<Rgb>,
    stroke: Option<(Rgb, u32)>,
    /// Face and size (bits of the f32) of the last `Tf`: text state outlives `ET`.
    font: Option<(Face, u32)>,
}

impl Pen {
    fn fill(&mut self, ops: &mut Vec<Op>, color: Rgb) {
        if self.fill != Some(color) {
            ops.push(Op::SetFillColor {
                col: pdf_color(color),
            });
            self.fill = Some(color);
        }
    }

    fn stroke(&mut self, ops: &mut Vec<Op>, color: Rgb, width_mm: f32) {
        let width = len_pt(width_mm);
        match self.stroke {
            Some((c, w)) if c == color && w == width.to_bits() => {}
            _ => {
                ops.push(Op::SetOutlineColor {
                    col: pdf_color(color),
                });
                ops.push(Op::SetOutlineThickness { pt: Pt(width) });
                self.stroke = Some((color, width.to_bits()));
            }
        }
    }
}

/// The scene's sRGB bytes as PDF's 0-1 RGB.
fn pdf_color(c: Rgb) -> Color {
    Color::Rgb(printpdf::Rgb {
        r: f32::from(c.0) / 255.0,
        g: f32::from(c.1) / 255.0,
        b: f32::from(c.2) / 255.0,
        icc_profile: None,
    })
}

/// A rectangle, filled and/or stroked (the stroke centred on the outline), with optional
/// rounded corners.
fn draw_rect(
    ops: &mut Vec<Op>,
    pen: &mut Pen,
    frame: Frame,
    r: MmRect,
    fill: Option<Rgb>,
    stroke: Option<(Rgb, f32)>,
    radius: f32,
) {
    let mode = match (fill, stroke) {
        (Some(_), Some(_)) => PaintMode::FillStroke,
        (Some(_), None) => PaintMode::Fill,
        (None, Some(_)) => PaintMode::Stroke,
        (None, None) => return,
    };
    if r.w <= 0.0 || r.h <= 0.0 {
        return;
    }
    if let Some(color) = fill {
        pen.fill(ops, color);
    }
    if let Some((color, width)) = stroke {
        pen.stroke(ops, color, width);
    }
    let radius = radius.min(r.w / 2.0).min(r.h / 2.0);
    if radius <= 0.0 {
        ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: frame.x(r.x),
                y: frame.y(r.y + r.h),
                width: Pt(len_pt(r.w)),
                height: Pt(len_pt(r.h)),
                // `None` would paint nothing (printpdf's default).
                mode: Some(mode),
                winding_order: Some(WindingOrder::NonZero),
            },
        });
        return;
    }
    ops.push(Op::DrawPolygon {
        polygon: Polygon {
            rings: vec![rounded_ring(frame, r, radius)],
            mode,
            winding_order: WindingOrder::NonZero,
        },
    });
}

/// The outline of a rounded rectangle: four sides joined by quarter-circle Béziers.
fn rounded_ring(frame: Frame, r: MmRect, radius: f32) -> PolygonRing {
    let k = radius * (1.0 - KAPPA);
    let (x0, y0, x1, y1) = (r.x, r.y, r.x + r.w, r.y + r.h);
    let p = |x: f32, y: f32, bezier: bool| LinePoint {
        p: frame.point(x, y),
        bezier,
    };
    // A corner: two handles, then the end point (printpdf's `c` convention).
    let corner = |points: &mut Vec<LinePoint>, c1: (f32, f32), c2: (f32, f32), end: (f32, f32)| {
        points.push(p(c1.0, c1.1, true));
        points.push(p(c2.0, c2.1, true));
        points.push(p(end.0, end.1, false));
    };
    let mut points = Vec::with_capacity(16);
    points.push(p(x0 + radius, y0, false));
    points.push(p(x1 - radius, y0, false));
    corner(&mut points, (x1 - k, y0), (x1, y0 + k), (x1, y0 + radius));
    points.push(p(x1, y1 - radius, false));
    corner(&mut points, (x1, y1 - k), (x1 - k, y1), (x1 - radius, y1));
    points.push(p(x0 + radius, y1, false));
    corner(&mut points, (x0 + k, y1), (x0, y1 - k), (x0, y1 - radius));
    points.push(p(x0, y0 + radius, false));
    corner(&mut points, (x0, y0 + k), (x0 + k, y0), (x0 + radius, y0));
    PolygonRing { points }
}

fn draw_polygon(ops: &mut Vec<Op>, pen: &mut Pen, frame: Frame, points: &[(f32, f32)], fill: Rgb) {
    if points.len() < 3 {
        return;
    }
    pen.fill(ops, fill);
    let points = points
        .iter()
        .map(|&(x, y)| LinePoint {
            p: frame.point(x, y),
            bezier: false,
        })
        .collect();
    ops.push(Op::DrawPolygon {
        polygon: Polygon {
            rings: vec![PolygonRing { points }],
            mode: PaintMode::Fill,
            winding_order: WindingOrder::NonZero,
        },
    });
}

/// Barcode modules as one filled path of horizontal runs: adjacent modules of a row become
/// one rectangle (fewer operators), and one fill for the whole code leaves no hairline seams
/// between touching modules when a viewer anti-aliases.
fn draw_modules(
    ops: &mut Vec<Op>,
    pen: &mut Pen,
    frame: Frame,
    rects: &[(f32, f32, f32, f32)],
    color: Rgb,
) {
    const SAME: f32 = 1e-4; // mm: far below a module, far above f32 noise at card scale
    let mut sorted: Vec<(f32, f32, f32, f32)> = rects
        .iter()
        .copied()
        .filter(|&(_, _, w, h)| w > 0.0 && h > 0.0)
        .collect();
    if sorted.is_empty() {
        return;
    }
    sorted.sort_by(|a, b| {
        a.1.total_cmp(&b.1)
            .then(a.3.total_cmp(&b.3))
            .then(a.0.total_cmp(&b.0))
    });
    let mut runs: Vec<(f32, f32, f32, f32)> = Vec::with_capacity(sorted.len());
    for r in sorted {
        match runs.last_mut() {
            Some(last)
                if (last.1 - r.1).abs() < SAME
                    && (last.3 - r.3).abs() < SAME
                    && r.0 <= last.0 + last.2 + SAME =>
            {
                last.2 = last.2.max(r.0 + r.2 - last.0);
            }
            _ => runs.push(r),
        }
    }
    pen.fill(ops, color);
    let point = |x: f32, y: f32| LinePoint {
        p: frame.point(x, y),
        bezier: false,
    };
    let rings = runs
        .iter()
        .map(|&(x, y, w, h)| PolygonRing {
            points: vec![
                point(x, y + h),
                point(x + w, y + h),
                point(x + w, y),
                point(x, y),
            ],
        })
        .collect();
    ops.push(Op::DrawPolygon {
        polygon: Polygon {
            rings,
            mode: PaintMode::Fill,
            winding_order: WindingOrder::NonZero,
        },
    });
}

/// An image XObject stretched over the box (the pictures are prepared to their boxes'
/// proportions, as for the bitmaps).
fn draw_image(ops: &mut Vec<Op>, frame: Frame, r: MmRect, id: XObjectId) {
    if r.w <= 0.0 || r.h <= 0.0 {
        return;
    }
    ops.push(Op::UseXobject {
        id,
        transform: XObjectTransform {
            translate_x: Some(frame.x(r.x)),
            translate_y: Some(frame.y(r.y + r.h)),
            rotate: None,
            scale_x: Some(len_pt(r.w)),
            scale_y: Some(len_pt(r.h)),
            dpi: None,
            no_auto_scale: true,
        },
    });
}

fn image_dict(
    width: u32,
    height: u32,
    colour_space: &str,
    filter: Option<&str>,
) -> BTreeMap<String, DictItem> {
    let mut dict = BTreeMap::from([
        ("Type".to_owned(), name("XObject")),
        ("Subtype".to_owned(), name("Image")),
        ("Width".to_owned(), DictItem::Int(i64::from(width))),
        ("Height".to_owned(), DictItem::Int(i64::from(height))),
        ("ColorSpace".to_owned(), name(colour_space)),
        ("BitsPerComponent".to_owned(), DictItem::Int(8)),
    ]);
    if let Some(filter) = filter {
        dict.insert("Filter".to_owned(), name(filter));
    }
    dict
}

fn name(n: &str) -> DictItem {
    DictItem::Name(n.as_bytes().to_vec())
}

/// `/DecodeParms` for PNG-filtered rows of one 8-bit grey channel.
fn png_predictor_parms(width: u32) -> DictItem {
    DictItem::Dict {
        map: BTreeMap::from([
            ("Predictor".to_owned(), DictItem::Int(15)),
            ("Colors".to_owned(), DictItem::Int(1)),
            ("BitsPerComponent".to_owned(), DictItem::Int(8)),
            ("Columns".to_owned(), DictItem::Int(i64::from(width))),
        ]),
    }
}

/// Greyscale pixels as a FlateDecode stream with PNG predictors, made by the PNG encoder:
/// a PNG's IDAT data *is* such a stream, and the encoder's fast mode is far quicker than the
/// maximum-effort Flate lopdf applies to every uncompressed stream (lossless either way).
fn flate_with_png_predictor(pixels: &[u8], w: u32, h: u32) -> Result<Vec<u8>, SignatureProblem> {
    let mut png = Vec::new();
    PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Adaptive)
        .write_image(pixels, w, h, ExtendedColorType::L8)
        .map_err(SignatureProblem::Encode)?;
    let mut idat = Vec::with_capacity(png.len());
    let mut at = 8; // after the PNG signature
    while let Some(length) = be32(&png, at) {
        let length = length as usize;
        let data = png
            .get(at + 8..at + 8 + length)
            .ok_or(SignatureProblem::NoImageData)?;
        if png.get(at + 4..at + 8) == Some(b"IDAT".as_slice()) {
            idat.extend_from_slice(data);
        }
        at += 12 + length; // length, type, data, CRC
    }
    if idat.is_empty() {
        return Err(SignatureProblem::NoImageData);
    }
    Ok(idat)
}

/// What the JPEG frame header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct JpegFrame {
    width: u32,
    height: u32,
    components: u8,
}

/// Reads the frame header (SOFn) of a JPEG without decoding it: enough to describe the file
/// to a PDF reader, and to refuse what DCTDecode cannot read before it reaches a printer.
fn jpeg_frame(data: &[u8]) -> Result<JpegFrame, JpegProblem> {
    if data.get(..2) != Some([0xFF, 0xD8].as_slice()) {
        return Err(JpegProblem::NotJpeg);
    }
    let mut at = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if data.get(at) != Some(&0xFF) {
            return Err(JpegProblem::NoFrameHeader);
        }
        while data.get(at) == Some(&0xFF) {
            at += 1;
        }
        let marker = *data.get(at).ok_or(JpegProblem::NoFrameHeader)?;
        at += 1;
        match marker {
            // Standalone markers: no length.
            0x01 | 0xD0..=0xD7 => continue,
            // Start of scan or end of image before any frame header.
            0xDA | 0xD9 => return Err(JpegProblem::NoFrameHeader),
            _ => {}
        }
        let length = usize::from(be16(data, at).ok_or(JpegProblem::NoFrameHeader)?);
        let is_frame = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_frame {
            let process = marker - 0xC0;
            if !matches!(process, 0..=2) {
                return Err(JpegProblem::Process(process));
            }
            let precision = *data.get(at + 2).ok_or(JpegProblem::NoFrameHeader)?;
            if precision != 8 {
                return Err(JpegProblem::Precision(precision));
            }
            let height = be16(data, at + 3).ok_or(JpegProblem::NoFrameHeader)?;
            let width = be16(data, at + 5).ok_or(JpegProblem::NoFrameHeader)?;
            let components = *data.get(at + 7).ok_or(JpegProblem::NoFrameHeader)?;
            return Ok(JpegFrame {
                width: u32::from(width),
                height: u32::from(height),
                components,
            });
        }
        at += length;
    }
}

/// Picture bytes as a map key, so that pages showing the same picture share one image object.
/// Equal bytes are equal keys; the hash samples the bytes (length and up to 64 of them) because
/// a batch looks up thousands of 30 KB photos and full hashing would cost more than it saves.
#[derive(Debug, Clone, Copy)]
struct BytesKey<'a>(&'a [u8]);

impl PartialEq for BytesKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0) || self.0 == other.0
    }
}

impl Eq for BytesKey<'_> {}

impl Hash for BytesKey<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let bytes = self.0;
        state.write_usize(bytes.len());
        let step = (bytes.len() / 64).max(1);
        for b in bytes.iter().step_by(step).take(64) {
            state.write_u8(*b);
        }
        // The tail differs between JPEGs even when their headers are identical.
        for b in bytes.iter().rev().take(16) {
            state.write_u8(*b);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use ::image::codecs::jpeg::JpegEncoder;
    use ::image::{GrayImage, Luma};
    use ab_glyph::{Font, FontRef};

    use super::super::scene::{Item, Layer};
    use super::*;

    const CARD_W: f32 = 85.60;
    const CARD_H: f32 = 53.98;
    const BACKGROUND: Rgb = Rgb(200, 215, 235);
    const NAME: &str = "ÉLÉONORE Żółkiewski Ștefan";
    const BLACK_BOX: (f32, f32, f32, f32) = (45.0, 40.0, 4.0, 4.0);
    const PHOTO_BOX: (f32, f32, f32, f32) = (60.0, 8.0, 20.0, 25.71);
    const SIGNATURE_BOX: (f32, f32, f32, f32) = (5.0, 40.0, 30.0, 10.0);
    const PHOTO_PX: (u32, u32) = (413, 531);

    fn item(element: &str, layer: Layer, primitive: Primitive) -> Item {
        Item {
            element: element.to_owned(),
            layer,
            primitive,
        }
    }

    fn rect(x: f32, y: f32, w: f32, h: f32, fill: Rgb) -> Primitive {
        Primitive::Rect {
            x,
            y,
            w,
            h,
            fill: Some(fill),
            stroke: None,
            radius: 0.0,
        }
    }

    /// A five-pointed star like the EU emblem's, as the layout emits it.
    fn star(cx: f32, cy: f32, r: f32) -> Vec<(f32, f32)> {
        (0..10)
            .map(|i| {
                let radius = if i % 2 == 0 { r } else { r * 0.382 };
                let a = std::f32::consts::PI * (i as f32) / 5.0 - std::f32::consts::FRAC_PI_2;
                (cx + radius * a.cos(), cy + radius * a.sin())
            })
            .collect()
    }

    /// Width of a line as the layout measures it (ab_glyph: advances plus `kern` pairs),
    /// independently of this module's own kerning code.
    fn layout_width_mm(face: Face, size_pt: f32, text: &str) -> f32 {
        let font = FontRef::try_from_slice(fonts::bytes(face)).expect("font");
        let mut units = 0.0;
        let mut previous = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = previous {
                units += font.kern_unscaled(p, id);
            }
            units += font.h_advance_unscaled(id);
            previous = Some(id);
        }
        units * size_pt / PT_PER_MM / font.units_per_em().expect("upm")
    }

    /// Where the ink of a line starts and ends, from its origin, in mm (from ab_glyph: the
    /// first glyph's left and the last glyph's right outline edge).
    fn ink_extent_mm(face: Face, size_pt: f32, text: &str) -> (f32, f32) {
        let font = FontRef::try_from_slice(fonts::bytes(face)).expect("font");
        let mm_per_unit = size_pt / PT_PER_MM / font.units_per_em().expect("upm");
        let first = font.glyph_id(text.chars().next().expect("text"));
        let last = font.glyph_id(text.chars().last().expect("text"));
        let left = font.outline(first).expect("outline").bounds.min.x;
        let right = layout_width_mm(face, size_pt, text) / mm_per_unit
            - font.h_advance_unscaled(last)
            + font.outline(last).expect("outline").bounds.max.x;
        (left * mm_per_unit, right * mm_per_unit)
    }

    fn text(face: Face, size_pt: f32, x: f32, baseline: f32, s: &str) -> Primitive {
        Primitive::Text {
            face,
            size_pt,
            color: Rgb::BLACK,
            lines: vec![Line {
                x_mm: x,
                baseline_mm: baseline,
                text: s.to_owned(),
                width_mm: layout_width_mm(face, size_pt, s),
            }],
        }
    }

    fn hand_built_scene() -> Scene {
        use Layer::{Personalisation as P, Preprint as Pre};
        // A barcode-like run of modules, adjacent ones included (they merge into runs).
        let pitch = 0.254;
        let modules = [1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1]
            .iter()
            .enumerate()
            .filter(|(_, on)| **on == 1)
            .map(|(i, _)| (52.0 + i as f32 * pitch, 46.0, pitch, 5.0))
            .collect();
        let (bx, by, bw, bh) = BLACK_BOX;
        let (px, py, pw, ph) = PHOTO_BOX;
        let (sx, sy, sw, sh) = SIGNATURE_BOX;
        Scene {
            width_mm: CARD_W,
            height_mm: CARD_H,
            items: vec![
                item(
                    "background",
                    Pre,
                    Primitive::Rect {
                        x: 0.0,
                        y: 0.0,
                        w: CARD_W,
                        h: CARD_H,
                        fill: Some(BACKGROUND),
                        stroke: None,
                        radius: 3.18,
                    },
                ),
                item(
                    "frame",
                    Pre,
                    Primitive::Rect {
                        x: 2.0,
                        y: 2.0,
                        w: 36.0,
                        h: 5.0,
                        fill: None,
                        stroke: Some((Rgb(0, 51, 153), 0.2)),
                        radius: 1.0,
                    },
                ),
                item(
                    "emblem",
                    Pre,
                    Primitive::Polygon {
                        points: star(40.0, 12.0, 2.5),
                        fill: Rgb(255, 204, 0),
                    },
                ),
                item("black", Pre, rect(bx, by, bw, bh, Rgb::BLACK)),
                item("name", P, text(Face::Regular, 8.0, 5.0, 20.0, NAME)),
                item("surname", P, text(Face::Bold, 8.0, 5.0, 26.0, "DUPONT AVÉ")),
                item(
                    "barcode",
                    P,
                    Primitive::Modules {
                        rects: modules,
                        color: Rgb::BLACK,
                    },
                ),
                item(
                    "photo",
                    P,
                    Primitive::Image {
                        x: px,
                        y: py,
                        w: pw,
                        h: ph,
                        picture: Picture::Photo,
                    },
                ),
                item(
                    "signature",
                    P,
                    Primitive::Image {
                        x: sx,
                        y: sy,
                        w: sw,
                        h: sh,
                        picture: Picture::Signature,
                    },
                ),
            ],
        }
    }

    /// A 413 x 531 greyscale JPEG of about 30 KB: a black top-left quarter (to check the
    /// picture is placed upright), white elsewhere, under a fine texture that gives it the
    /// byte size of a real photo.
    fn test_photo() -> Vec<u8> {
        let (w, h) = PHOTO_PX;
        let mut seed = 0x2545_f491_u32;
        let img = GrayImage::from_fn(w, h, |x, y| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let noise = (seed % 48) as u8;
            Luma([if x < w / 2 && y < h / 2 {
                noise / 2
            } else {
                255 - noise
            }])
        });
        for quality in (20..=95).rev().step_by(5) {
            let mut jpeg = Vec::new();
            JpegEncoder::new_with_quality(&mut jpeg, quality)
                .encode_image(&img)
                .expect("encode test photo");
            if jpeg.len() <= 32_000 {
                return jpeg;
            }
        }
        panic!("cannot make a 30 KB test photo");
    }

    /// A prepared signature: paper-white with a dark, anti-aliased stroke.
    fn test_signature() -> GrayImage {
        GrayImage::from_fn(600, 200, |x, y| {
            let curve = 100.0 + 60.0 * (x as f32 / 40.0).sin();
            let d = (y as f32 - curve).abs();
            Luma([if d < 4.0 {
                0
            } else if d < 6.0 {
                128
            } else {
                255
            }])
        })
    }

    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("cqcfab-pdf-{}-{name}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            Self(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Whether a Debian tool is installed; tests that need it skip (loudly) without it.
    fn have(tool: &str) -> bool {
        let ok = Command::new(tool).arg("-v").output().is_ok();
        if !ok {
            eprintln!("SKIPPED: `{tool}` is not installed (apt-get install poppler-utils qpdf)");
        }
        ok
    }

    fn run(tool: &str, args: &[&str]) -> String {
        let out = Command::new(tool).args(args).output().expect(tool);
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn mm_to_px(mm: f32) -> f32 {
        mm / 25.4 * 300.0
    }

    fn write(dir: &Path, name: &str, pdf: &[u8]) -> String {
        let path = dir.join(name);
        std::fs::write(&path, pdf).expect("write pdf");
        path.to_string_lossy().into_owned()
    }

    fn render_page(dir: &Path, pdf: &str, page: u32) -> GrayImage {
        let prefix = dir.join(format!("page{page}"));
        let prefix = prefix.to_string_lossy();
        let p = page.to_string();
        run(
            "pdftoppm",
            &[
                "-r",
                "300",
                "-png",
                "-f",
                &p,
                "-l",
                &p,
                "-singlefile",
                pdf,
                &prefix,
            ],
        );
        ::image::open(format!("{prefix}.png"))
            .expect("rendered page")
            .to_luma8()
    }

    /// Dark pixels' bounding box inside a window (in px): (x0, y0, x1, y1), inclusive.
    fn ink_box(
        img: &GrayImage,
        x0: u32,
        y0: u32,
        x1: u32,
        y1: u32,
    ) -> Option<(u32, u32, u32, u32)> {
        let mut found: Option<(u32, u32, u32, u32)> = None;
        for y in y0..=y1.min(img.height() - 1) {
            for x in x0..=x1.min(img.width() - 1) {
                if img.get_pixel(x, y).0[0] < 128 {
                    found = Some(match found {
                        None => (x, y, x, y),
                        Some((a, b, c, d)) => (a.min(x), b.min(y), c.max(x), d.max(y)),
                    });
                }
            }
        }
        found
    }

    fn mean(img: &GrayImage, x0: f32, y0: f32, x1: f32, y1: f32) -> f32 {
        let (x0, y0, x1, y1) = (
            mm_to_px(x0) as u32,
            mm_to_px(y0) as u32,
            mm_to_px(x1) as u32,
            mm_to_px(y1) as u32,
        );
        let mut sum = 0u64;
        let mut n = 0u64;
        for y in y0..y1 {
            for x in x0..x1 {
                sum += u64::from(img.get_pixel(x, y).0[0]);
                n += 1;
            }
        }
        sum as f32 / n as f32
    }

    #[test]
    fn two_page_proof_passes_poppler_and_qpdf() {
        if !(have("pdfinfo") && have("qpdf") && have("pdffonts") && have("pdftoppm")) {
            return;
        }
        let scene = hand_built_scene();
        let photo = test_photo();
        let signature = test_signature();
        let pictures = ProofPictures {
            photo_jpeg: &photo,
            photo_px: PHOTO_PX,
            signature: &signature,
        };
        let pdf = proof(&[(&scene, Some(&pictures)), (&scene, Some(&pictures))]).expect("proof");
        let dir = Scratch::new("two-page");
        let file = write(&dir.0, "proof.pdf", &pdf);

        // Page size: 85.60 x 53.98 mm = 242.65 x 153.01 pt, on both pages.
        let info = run("pdfinfo", &["-f", "1", "-l", "2", &file]);
        assert!(info.contains("Pages:           2"), "{info}");
        let sizes: Vec<(f32, f32)> = info
            .lines()
            .filter(|l| l.starts_with("Page") && l.contains(" size: "))
            .map(|l| {
                let dims = l.split(" size: ").nth(1).expect("size");
                let mut it = dims.split_whitespace();
                let w: f32 = it.next().expect("w").parse().expect("w");
                assert_eq!(it.next(), Some("x"));
                let h: f32 = it.next().expect("h").parse().expect("h");
                (w, h)
            })
            .collect();
        assert_eq!(sizes.len(), 2, "{info}");
        for (w, h) in sizes {
            assert!(
                (w - 242.65).abs() < 0.1 && (h - 153.01).abs() < 0.1,
                "{w} x {h}"
            );
        }

        // Structure.
        let check = run("qpdf", &["--check", &file]);
        assert!(
            check.contains("No syntax or stream encoding errors"),
            "{check}"
        );

        // Fonts: both faces, embedded and subset.
        let fonts_out = run("pdffonts", &[&file]);
        let rows: Vec<&str> = fonts_out.lines().skip(2).collect();
        assert_eq!(rows.len(), 2, "{fonts_out}");
        for row in rows {
            let cols: Vec<&str> = row.split_whitespace().collect();
            assert!(
                cols[0].contains('+') && cols[0].contains("DejaVuSansCondensed"),
                "{row}"
            );
            // name type(2 words) encoding emb sub uni object ID
            let n = cols.len();
            assert_eq!(
                &cols[n - 5..n - 2],
                ["yes", "yes", "yes"],
                "emb/sub/uni: {row}"
            );
        }

        // Text is real text, accents included.
        if have("pdftotext") {
            let text = run("pdftotext", &["-f", "1", "-l", "1", &file, "-"]);
            assert!(text.contains(NAME), "{text}");
        }

        let page = render_page(&dir.0, &file, 1);
        assert_eq!(page.width(), mm_to_px(CARD_W).ceil() as u32);

        // The black rectangle, within 1 px of where its millimetres say.
        let (bx, by, bw, bh) = BLACK_BOX;
        let margin = 20;
        let (x0, y0) = (mm_to_px(bx) as u32 - margin, mm_to_px(by) as u32 - margin);
        let (x1, y1) = (
            mm_to_px(bx + bw) as u32 + margin,
            mm_to_px(by + bh) as u32 + margin,
        );
        let (ix0, iy0, ix1, iy1) = ink_box(&page, x0, y0, x1, y1).expect("black rect rendered");
        for (got, want) in [
            (ix0 as f32, mm_to_px(bx)),
            (iy0 as f32, mm_to_px(by)),
            (ix1 as f32 + 1.0, mm_to_px(bx + bw)),
            (iy1 as f32 + 1.0, mm_to_px(by + bh)),
        ] {
            assert!(
                (got - want).abs() <= 1.0,
                "rect edge at {got} px, expected {want} px"
            );
        }

        // Text ink lies inside each line box (left end to measured width, ascent to
        // descent), and reaches both ends: glyphs sit where the layout measured them.
        for (face, baseline, s) in [
            (Face::Regular, 20.0, NAME),
            (Face::Bold, 26.0, "DUPONT AVÉ"),
        ] {
            let font = FontRef::try_from_slice(fonts::bytes(face)).expect("font");
            let mm_per_unit = 8.0 / PT_PER_MM / font.units_per_em().expect("upm");
            let ascent = font.ascent_unscaled() * mm_per_unit;
            let descent = -font.descent_unscaled() * mm_per_unit;
            let width = layout_width_mm(face, 8.0, s);
            let (lx0, lx1) = (5.0, 5.0 + width);
            let (ly0, ly1) = (baseline - ascent, baseline + descent);
            // Search a window 1 mm larger all round (nothing else is drawn there).
            let found = ink_box(
                &page,
                mm_to_px(lx0 - 1.0) as u32,
                mm_to_px(ly0 - 1.0) as u32,
                mm_to_px(lx1 + 1.0) as u32,
                mm_to_px(ly1 + 1.0) as u32,
            )
            .expect("text rendered");
            let (ix0, iy0, ix1, iy1) = (
                found.0 as f32,
                found.1 as f32,
                found.2 as f32,
                found.3 as f32,
            );
            assert!(
                ix0 >= mm_to_px(lx0) - 1.0 && ix1 <= mm_to_px(lx1) + 1.0,
                "{s}: x {ix0}..{ix1}"
            );
            assert!(
                iy0 >= mm_to_px(ly0) - 1.0 && iy1 <= mm_to_px(ly1) + 1.0,
                "{s}: y {iy0}..{iy1}"
            );
            // And the ink starts and ends where the layout's metrics put the first glyph's
            // left edge and the last glyph's right edge (side bearings included).
            let (ink_left, ink_right) = ink_extent_mm(face, 8.0, s);
            for (got, want) in [
                (ix0, mm_to_px(lx0 + ink_left)),
                (ix1 + 1.0, mm_to_px(lx0 + ink_right)),
            ] {
                assert!(
                    (got - want).abs() <= 1.5,
                    "{s}: ink edge at {got} px, expected {want} px"
                );
            }
        }

        // The photo is upright in its box: dark top-left quarter, light bottom-right.
        let (px, py, pw, ph) = PHOTO_BOX;
        let top_left = mean(
            &page,
            px + 1.0,
            py + 1.0,
            px + pw / 2.0 - 1.0,
            py + ph / 2.0 - 1.0,
        );
        let bottom_right = mean(
            &page,
            px + pw / 2.0 + 1.0,
            py + ph / 2.0 + 1.0,
            px + pw - 1.0,
            py + ph - 1.0,
        );
        assert!(
            top_left < 40.0 && bottom_right > 200.0,
            "{top_left} {bottom_right}"
        );

        // The signature: ink where it signed, the card's background (not white paper) where
        // it did not.
        let (sx, sy, sw, sh) = SIGNATURE_BOX;
        let ink = ink_box(
            &page,
            mm_to_px(sx) as u32,
            mm_to_px(sy) as u32,
            mm_to_px(sx + sw) as u32,
            mm_to_px(sy + sh) as u32,
        );
        assert!(ink.is_some(), "signature ink rendered");
        let paper = mean(&page, sx + 0.5, sy + 0.3, sx + sw - 0.5, sy + 1.0);
        let background = 0.299 * 200.0 + 0.587 * 215.0 + 0.114 * 235.0;
        assert!(
            (paper - background).abs() < 6.0,
            "paper {paper} vs background {background}"
        );
    }

    #[test]
    fn photo_jpeg_is_embedded_verbatim_and_once() {
        let scene = hand_built_scene();
        let photo = test_photo();
        let signature = test_signature();
        let pictures = ProofPictures {
            photo_jpeg: &photo,
            photo_px: PHOTO_PX,
            signature: &signature,
        };
        // The second page's pictures are equal bytes at another address: still one object.
        let photo_copy = photo.clone();
        let signature_copy = signature.clone();
        let copies = ProofPictures {
            photo_jpeg: &photo_copy,
            photo_px: PHOTO_PX,
            signature: &signature_copy,
        };
        let pdf = proof(&[(&scene, Some(&pictures)), (&scene, Some(&copies))]).expect("proof");
        let found = pdf
            .windows(photo.len())
            .filter(|w| *w == photo.as_slice())
            .count();
        assert_eq!(found, 1, "the JPEG bytes appear verbatim, once");
        let dct = pdf.windows(9).filter(|w| *w == b"DCTDecode").count();
        assert_eq!(dct, 1);
    }

    #[test]
    fn one_card_proof_is_small() {
        let scene = hand_built_scene();
        let photo = test_photo();
        assert!(
            (25_000..=32_000).contains(&photo.len()),
            "photo {} bytes",
            photo.len()
        );
        let signature = test_signature();
        let pictures = ProofPictures {
            photo_jpeg: &photo,
            photo_px: PHOTO_PX,
            signature: &signature,
        };
        let pdf = proof(&[(&scene, Some(&pictures)), (&scene, Some(&pictures))]).expect("proof");
        std::fs::write("/tmp/onecard.pdf", &pdf).ok();
        eprintln!(
            "one-card (2-page) proof: {} bytes with a {} byte photo",
            pdf.len(),
            photo.len()
        );
        assert!(pdf.len() < 150_000, "{} bytes", pdf.len());
    }

    #[test]
    fn layout_proof_draws_grey_placeholders() {
        if !have("pdftoppm") {
            return;
        }
        let scene = hand_built_scene();
        let pdf = proof(&[(&scene, None)]).expect("proof");
        assert!(!pdf.windows(9).any(|w| w == b"DCTDecode"));
        let dir = Scratch::new("placeholder");
        let file = write(&dir.0, "layout.pdf", &pdf);
        let page = render_page(&dir.0, &file, 1);
        let (px, py, pw, ph) = PHOTO_BOX;
        let photo_box = mean(&page, px + 0.5, py + 0.5, px + pw - 0.5, py + ph - 0.5);
        assert!((photo_box - 217.0).abs() < 2.0, "{photo_box}");
    }

    #[test]
    fn errors_name_the_page_and_element() {
        assert!(matches!(proof(&[]), Err(PdfError::NoPages)));

        let mut scene = hand_built_scene();
        scene.items.push(item(
            "given_names",
            Layer::Personalisation,
            text(Face::Regular, 8.0, 5.0, 30.0, "Li 李"),
        ));
        match proof(&[(&hand_built_scene(), None), (&scene, None)]) {
            Err(PdfError::MissingGlyph {
                page: 2,
                element,
                ch: '李',
                ..
            }) => assert_eq!(element, "given_names"),
            other => panic!("{other:?}"),
        }

        let mut scene = hand_built_scene();
        scene.items.push(item(
            "broken",
            Layer::Preprint,
            rect(f32::NAN, 1.0, 1.0, 1.0, Rgb::BLACK),
        ));
        assert!(matches!(
            proof(&[(&scene, None)]),
            Err(PdfError::Geometry { page: 1, element }) if element == "broken"
        ));

        let scene = Scene {
            width_mm: 0.0,
            ..hand_built_scene()
        };
        assert!(matches!(
            proof(&[(&scene, None)]),
            Err(PdfError::PageSize { .. })
        ));

        let scene = hand_built_scene();
        let signature = test_signature();
        let photo = test_photo();
        let bad = ProofPictures {
            photo_jpeg: b"not a jpeg",
            photo_px: PHOTO_PX,
            signature: &signature,
        };
        assert!(matches!(
            proof(&[(&scene, Some(&bad))]),
            Err(PdfError::Photo {
                page: 1,
                problem: JpegProblem::NotJpeg
            })
        ));
        let wrong_size = ProofPictures {
            photo_jpeg: &photo,
            photo_px: (100, 100),
            signature: &signature,
        };
        assert!(matches!(
            proof(&[(&scene, Some(&wrong_size))]),
            Err(PdfError::Photo {
                problem: JpegProblem::SizeMismatch {
                    actual: (413, 531),
                    ..
                },
                ..
            })
        ));
        let truncated = ProofPictures {
            photo_jpeg: &photo[..20],
            photo_px: PHOTO_PX,
            signature: &signature,
        };
        assert!(matches!(
            proof(&[(&scene, Some(&truncated))]),
            Err(PdfError::Photo {
                problem: JpegProblem::NoFrameHeader,
                ..
            })
        ));
        let empty = GrayImage::new(0, 0);
        let no_signature = ProofPictures {
            photo_jpeg: &photo,
            photo_px: PHOTO_PX,
            signature: &empty,
        };
        assert!(matches!(
            proof(&[(&scene, Some(&no_signature))]),
            Err(PdfError::Signature {
                problem: SignatureProblem::Empty,
                ..
            })
        ));
    }

    #[test]
    fn kern_table_matches_ab_glyph() {
        for face in [Face::Regular, Face::Bold] {
            let data = fonts::bytes(face);
            let kerning = Kerning::parse(data);
            assert!(
                kerning.pairs.len() > 1000,
                "{face:?}: {} pairs",
                kerning.pairs.len()
            );
            let font = FontRef::try_from_slice(data).expect("font");
            for pair in ["AV", "To", "LT", "Yo", "AB"] {
                let mut c = pair.chars();
                let (a, b) = (
                    font.glyph_id(c.next().expect("a")),
                    font.glyph_id(c.next().expect("b")),
                );
                assert_eq!(
                    f32::from(kerning.pair(a.0, b.0)),
                    font.kern_unscaled(a, b),
                    "{face:?} {pair}"
                );
            }
            let (a, v) = (font.glyph_id('A'), font.glyph_id('V'));
            assert!(kerning.pair(a.0, v.0) < 0);
        }
        assert!(Kerning::parse(b"not a font").pairs.is_empty());
    }

    #[test]
    fn jpeg_frame_header_is_read_without_decoding() {
        let photo = test_photo();
        assert_eq!(
            jpeg_frame(&photo),
            Ok(JpegFrame {
                width: 413,
                height: 531,
                components: 1
            })
        );
        assert_eq!(
            jpeg_frame(&[0xFF, 0xD8, 0xFF, 0xD9]),
            Err(JpegProblem::NoFrameHeader)
        );
        // A lossless (SOF3) frame header.
        let lossless = [0xFF, 0xD8, 0xFF, 0xC3, 0, 11, 8, 0, 1, 0, 1, 1, 1, 0x11, 0];
        assert_eq!(jpeg_frame(&lossless), Err(JpegProblem::Process(3)));
    }

    #[test]
    fn adjacent_modules_merge_into_runs() {
        let mut ops = Vec::new();
        let frame = Frame { height_pt: 100.0 };
        let rects = [
            (1.0, 1.0, 0.5, 2.0),
            (1.5, 1.0, 0.5, 2.0),
            (3.0, 1.0, 0.5, 2.0),
            (1.0, 4.0, 0.5, 2.0),
        ];
        draw_modules(&mut ops, &mut Pen::default(), frame, &rects, Rgb::BLACK);
        let rings = ops
            .iter()
            .find_map(|op| match op {
                Op::DrawPolygon { polygon } => Some(polygon.rings.len()),
                _ => None,
            })
            .expect("one path");
        assert_eq!(rings, 3);
    }
}
