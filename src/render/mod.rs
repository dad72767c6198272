//! Rendering: card layouts to PDF proofs and 300-dpi printer/engraver bitmaps.
//!
//! ```text
//!  layouts/card-{front,back}.toml ─┐
//!  card record ─ CardData ─────────┼─ build ─▶ Scene ─┬─▶ pdf::proof        (proof.pdf, 2 pages)
//!  photo, signature ─ prepare ─────┘                  └─▶ raster::preview / personalisation (PNG)
//! ```
//! Both renderers draw the same scene, so geometry cannot drift between the proof and the
//! printed bytes. See `docs/layouts.md` and `docs/rendering.md`.

pub mod build;
pub mod card_data;
pub mod fit;
pub mod fonts;
pub mod glyphs;
pub mod layout;
pub mod pdf;
pub mod prepare;
pub mod printable;
pub mod raster;
pub mod scene;
mod stop;
pub mod worker;

use std::cell::RefCell;
use std::io::Cursor;
use std::sync::OnceLock;

use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, GrayImage, ImageEncoder, RgbImage};
use sha2::{Digest, Sha256};
use thiserror::Error;

use build::BuildError;
use card_data::{CardData, DataError};
use fonts::{FontError, Fonts};
use glyphs::GlyphCache;
use layout::{Kind, Layout, LayoutError};
use prepare::PrepareError;
use raster::{DPI, Pictures, Preprint};
use scene::{Picture, Scene};

#[derive(Debug, Error)]
pub enum RenderError {
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Font(#[from] FontError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error("{side} side: {source}")]
    Build {
        side: &'static str,
        #[source]
        source: BuildError,
    },
    /// The photo or the signature cannot be prepared; `picture` says which, so production
    /// can ask the driver for that one.
    #[error("{source}")]
    Picture {
        picture: Picture,
        #[source]
        source: PrepareError,
    },
    #[error("PDF proof: {0}")]
    Pdf(#[from] pdf::PdfError),
    #[error("PNG encoding: {0}")]
    Png(String),
    #[error("layout {layout} has no {picture:?} box")]
    NoPictureBox { layout: String, picture: Picture },
}

impl RenderError {
    /// True when the card itself cannot be produced as requested (a name that does not fit, a
    /// picture that cannot be used): production stops with this reason, retrying cannot help.
    /// [`RenderError::stop`] says why, for the portal.
    pub fn stops_the_card(&self) -> bool {
        self.stop().is_some()
    }
}

/// One rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub name: &'static str,
    pub mime: &'static str,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

impl Output {
    fn new(name: &'static str, mime: &'static str, bytes: Vec<u8>) -> Output {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Output {
            name,
            mime,
            bytes,
            sha256,
        }
    }
}

/// Everything rendered for one card.
#[derive(Debug, Clone)]
pub struct CardRender {
    pub front: Scene,
    pub back: Scene,
    /// proof.pdf, then the bitmaps: the personalisation layers (what is printed) and the
    /// colour previews (what an operator looks at).
    pub outputs: Vec<Output>,
}

impl CardRender {
    pub fn output(&self, name: &str) -> Option<&Output> {
        self.outputs.iter().find(|o| o.name == name)
    }
}

/// Names of the files of a render.
pub const PROOF: &str = "proof.pdf";
pub const FRONT_PERSONALISATION: &str = "front-personalisation.png";
pub const BACK_PERSONALISATION: &str = "back-personalisation.png";
/// The pictures the chip holds (DG6, DG5), kept so the encoding station need not decode the
/// holder's originals again.
pub const CHIP_PORTRAIT: &str = "chip-portrait.jpg";
pub const CHIP_SIGNATURE: &str = "chip-signature.png";
pub const FRONT_PREVIEW: &str = "front-preview.png";
pub const BACK_PREVIEW: &str = "back-preview.png";

/// The renderer: the two layouts, checked once, and their preprint layers, drawn once.
pub struct Renderer {
    pub front: Layout,
    pub back: Layout,
    authority: String,
    fonts: &'static Fonts,
    preprint: OnceLock<(Preprint, Preprint)>,
}

thread_local! {
    /// Glyph coverage at 300 dpi, per worker thread: glyphs repeat from card to card.
    static GLYPHS: RefCell<GlyphCache> = RefCell::new(GlyphCache::new(DPI));
}

/// The photo and signature boxes of the front layout, in pixels at 300 dpi.
fn picture_box(layout: &Layout, picture: Picture) -> Result<(u32, u32), RenderError> {
    layout
        .elements
        .iter()
        .find(|e| e.kind == Kind::Image(picture))
        .map(|e| {
            (
                raster::px(e.w).round() as u32,
                raster::px(e.h).round() as u32,
            )
        })
        .ok_or(RenderError::NoPictureBox {
            layout: layout.name.clone(),
            picture,
        })
}

impl Renderer {
    /// The shipped layouts (the ones intake judges requests by, `printable::shipped`);
    /// `authority` is printed in field 4c.
    pub fn new(authority: &str) -> Result<Renderer, RenderError> {
        let shipped = printable::shipped()?;
        Self::with_layouts(shipped.front.clone(), shipped.back.clone(), authority)
    }

    pub fn with_layouts(
        front: Layout,
        back: Layout,
        authority: &str,
    ) -> Result<Renderer, RenderError> {
        Ok(Renderer {
            front,
            back,
            authority: authority.to_string(),
            fonts: fonts::fonts()?,
            preprint: OnceLock::new(),
        })
    }

    pub fn authority(&self) -> &str {
        &self.authority
    }

    pub fn fonts(&self) -> &'static Fonts {
        self.fonts
    }

    /// Both sides as scenes: every text fitted, or the reason it cannot be.
    pub fn scenes(&self, data: &CardData) -> Result<(Scene, Scene), RenderError> {
        let front =
            build::build(&self.front, data, self.fonts).map_err(|source| RenderError::Build {
                side: "front",
                source,
            })?;
        let back =
            build::build(&self.back, data, self.fonts).map_err(|source| RenderError::Build {
                side: "back",
                source,
            })?;
        Ok((front, back))
    }

    fn preprints(&self, front: &Scene, back: &Scene) -> &(Preprint, Preprint) {
        self.preprint.get_or_init(|| {
            GLYPHS.with_borrow_mut(|cache| {
                (
                    Preprint::draw(front, self.fonts, cache),
                    Preprint::draw(back, self.fonts, cache),
                )
            })
        })
    }

    /// Renders one card: the proof and the four bitmaps, PNG-encoded, each with its SHA-256.
    pub fn render(
        &self,
        data: &CardData,
        photo: &[u8],
        signature: &[u8],
    ) -> Result<CardRender, RenderError> {
        self.render_with(data, photo, signature, Previews::Yes)
    }

    /// What production keeps: the proof and the personalisation bitmaps. The colour previews
    /// are left out; they cost as much as everything else together (PNG-encoding two RGB
    /// images) and can be re-rendered, identical, whenever someone wants to look.
    pub fn render_for_production(
        &self,
        data: &CardData,
        photo: &[u8],
        signature: &[u8],
    ) -> Result<CardRender, RenderError> {
        self.render_with(data, photo, signature, Previews::No)
    }

    fn render_with(
        &self,
        data: &CardData,
        photo: &[u8],
        signature: &[u8],
        previews: Previews,
    ) -> Result<CardRender, RenderError> {
        let (front, back) = self.scenes(data)?;
        let pictures = self.prepare(photo, signature)?;
        let proof = pdf::proof(&[
            (&front, Some(&pictures.for_proof())),
            (&back, Some(&pictures.for_proof())),
        ])?;
        let mut outputs = vec![Output::new(PROOF, "application/pdf", proof)];
        outputs.extend(self.bitmaps(&front, &back, &pictures, previews)?);
        // The chip's DG6 and DG5: the proof's photo bytes and the cleaned signature.
        outputs.push(Output::new(
            CHIP_PORTRAIT,
            "image/jpeg",
            pictures.photo_jpeg.clone(),
        ));
        outputs.push(Output::new(
            CHIP_SIGNATURE,
            "image/png",
            png_gray(&pictures.signature)?,
        ));
        Ok(CardRender {
            front,
            back,
            outputs,
        })
    }

    /// The photo and signature prepared for this layout's boxes (docs/pictures.md).
    pub fn prepare(&self, photo: &[u8], signature: &[u8]) -> Result<Prepared, RenderError> {
        let (pw, ph) = picture_box(&self.front, Picture::Photo)?;
        let (sw, sh) = picture_box(&self.front, Picture::Signature)?;
        let of = |picture| move |source| RenderError::Picture { picture, source };
        let photo = prepare::prepare_photo(photo, pw, ph).map_err(of(Picture::Photo))?;
        let photo_dithered = prepare::dither(&photo);
        let signature =
            prepare::prepare_signature(signature, sw, sh).map_err(of(Picture::Signature))?;
        let photo_jpeg = prepare::grey_jpeg(&photo).map_err(of(Picture::Photo))?;
        Ok(Prepared {
            photo,
            photo_dithered,
            signature,
            photo_jpeg,
        })
    }

    /// The bitmaps of a card, PNG-encoded: the personalisation layers (what is printed) and,
    /// with [`Previews::Yes`], the colour previews (what an operator looks at).
    pub fn bitmaps(
        &self,
        front: &Scene,
        back: &Scene,
        prepared: &Prepared,
        previews: Previews,
    ) -> Result<Vec<Output>, RenderError> {
        let pictures = Pictures {
            photo: &prepared.photo,
            photo_dithered: &prepared.photo_dithered,
            signature: &prepared.signature,
        };
        let mut outputs = Vec::with_capacity(4);
        // Drawn (once) before the cache is borrowed: drawing them borrows it too.
        let preprints = (previews == Previews::Yes).then(|| self.preprints(front, back));
        GLYPHS.with_borrow_mut(|cache| -> Result<(), RenderError> {
            let front_perso = raster::personalisation(front, &pictures, self.fonts, cache);
            outputs.push(Output::new(
                FRONT_PERSONALISATION,
                "image/png",
                png_gray(&front_perso)?,
            ));
            let back_perso = raster::personalisation(back, &pictures, self.fonts, cache);
            outputs.push(Output::new(
                BACK_PERSONALISATION,
                "image/png",
                png_gray(&back_perso)?,
            ));
            if let Some((pre_front, pre_back)) = preprints {
                let front_preview = raster::preview(front, pre_front, &pictures, self.fonts, cache);
                outputs.push(Output::new(
                    FRONT_PREVIEW,
                    "image/png",
                    png_rgb(&front_preview)?,
                ));
                let back_preview = raster::preview(back, pre_back, &pictures, self.fonts, cache);
                outputs.push(Output::new(
                    BACK_PREVIEW,
                    "image/png",
                    png_rgb(&back_preview)?,
                ));
            }
            Ok(())
        })?;
        Ok(outputs)
    }
}

/// Whether to draw the colour previews.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Previews {
    Yes,
    No,
}

/// A card's pictures, ready for both renderers.
pub struct Prepared {
    /// Grey, exactly the photo box at 300 dpi, tone curve applied.
    pub photo: GrayImage,
    /// The same, dithered to pure black and white for the engraver.
    pub photo_dithered: GrayImage,
    /// Black on white, trimmed and fitted to the signature box.
    pub signature: GrayImage,
    /// The grey photo as a JPEG, embedded verbatim in the proof.
    pub photo_jpeg: Vec<u8>,
}

impl Prepared {
    pub fn for_proof(&self) -> pdf::ProofPictures<'_> {
        pdf::ProofPictures {
            photo_jpeg: &self.photo_jpeg,
            photo_px: (self.photo.width(), self.photo.height()),
            signature: &self.signature,
        }
    }
}

/// PNG with fast compression: the default level costs 55 ms per card pair for a few percent
/// of size (dependencies.md, re-measured in docs/performance.md).
fn png(bytes: &[u8], w: u32, h: u32, color: ExtendedColorType) -> Result<Vec<u8>, RenderError> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(
        Cursor::new(&mut out),
        CompressionType::Fast,
        FilterType::Adaptive,
    )
    .write_image(bytes, w, h, color)
    .map_err(|e| RenderError::Png(e.to_string()))?;
    Ok(out)
}

pub fn png_rgb(img: &RgbImage) -> Result<Vec<u8>, RenderError> {
    png(
        img.as_raw(),
        img.width(),
        img.height(),
        ExtendedColorType::Rgb8,
    )
}

pub fn png_gray(img: &GrayImage) -> Result<Vec<u8>, RenderError> {
    png(
        img.as_raw(),
        img.width(),
        img.height(),
        ExtendedColorType::L8,
    )
}

/// A sheet of paper (carrier letter, coupon, cover sheet) as a PNG `width_px` wide, for people
/// to look at on a screen: drawn at 300 dpi like the cards, then scaled down. Sheets carry no
/// photo or signature.
pub fn sheet_png(
    scene: &scene::Scene,
    fonts: &fonts::Fonts,
    width_px: u32,
) -> Result<Vec<u8>, RenderError> {
    let none = GrayImage::new(1, 1);
    let pictures = raster::Pictures {
        photo: &none,
        photo_dithered: &none,
        signature: &none,
    };
    let mut cache = glyphs::GlyphCache::new(raster::DPI);
    let preprint = raster::Preprint::draw(scene, fonts, &mut cache);
    let full = raster::preview(scene, &preprint, &pictures, fonts, &mut cache);
    let height = (u64::from(full.height()) * u64::from(width_px) / u64::from(full.width().max(1)))
        .max(1) as u32;
    let small = image::imageops::resize(
        &full,
        width_px,
        height,
        image::imageops::FilterType::Triangle,
    );
    png_rgb(&small)
}
