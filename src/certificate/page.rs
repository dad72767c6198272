//! The certificate as an A4 page, in French, drawn with the post's sheet primitives and the
//! card's PDF writer (fonts embedded and subset, text selectable): docs/certificate.md.
//!
//! Annex 1 of the arrêté (as quoted by the FNA; the annex itself was not read) asks for a
//! PDF legible once printed on A4, with at least: the title « certificat de qualification de
//! conducteur » in large type and the mention « mis à disposition en application de l'article
//! R. 3314-27 du code des transports » (a), the company that established it (b), and the
//! holder's surname, given names and birth date (c). The rest of the page (qualification,
//! categories, dates, validity) is what the arrêté's articles require the certificate to
//! prove; docs/certificate.md says which is quoted and which is ours.

use time::Date;

use super::model::{Certificate, GroupEntry, Validity};
use crate::domain::qualification::{Group, Training};
use crate::post::sheet::{self, MM_PER_PT, PAGE_H, PAGE_W};
use crate::render::fit::{self, FitError, NameRule, TextBox};
use crate::render::fonts::Fonts;
use crate::render::pdf::{self, Meta, PdfError};
use crate::render::scene::{Face, Item, Layer, Primitive, Rgb, Scene};

/// The title, as annex 1 a) words it (capitalised as a title).
pub const TITLE: &str = "Certificat de qualification de conducteur";
/// Annex 1 a), verbatim but for the capital.
pub const MENTION: &str =
    "Mis à disposition en application de l'article R. 3314-27 du code des transports";

/// Left and right margins.
pub const LEFT: f32 = 20.0;
pub const RIGHT: f32 = PAGE_W - 20.0;
/// Nothing personal below this line: the footer (the arrêté's reference) lives under it.
pub const FOOTER_TOP: f32 = 270.0;
/// The title's size: the largest that fits the width, from 24 pt; never below 16 pt, which
/// is « gros caractères » beside 9.5-11 pt text.
pub const TITLE_MAX_PT: f32 = 24.0;
pub const TITLE_MIN_PT: f32 = 16.0;
/// Where the holder's values start, right of their labels.
const VALUE_X: f32 = 68.0;
const VALUE_PT: f32 = 11.0;
const BODY_PT: f32 = 9.5;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// A name the page cannot print (a glyph the font lacks, or too long even on three lines
    /// at 8 pt): refused, never clipped.
    #[error("certificate of request {request_id}: {field}: {source}")]
    Name {
        request_id: String,
        field: &'static str,
        #[source]
        source: FitError,
    },
    #[error("certificate of request {request_id}: the title does not fit at {TITLE_MIN_PT} pt")]
    Title { request_id: String },
    #[error(
        "certificate of request {request_id}: the text runs to {bottom_mm:.1} mm, into the footer ({FOOTER_TOP} mm)"
    )]
    Overflow { request_id: String, bottom_mm: f32 },
    #[error("certificate of request {request_id}: its validity is past the calendar")]
    Validity { request_id: String },
    #[error(transparent)]
    Pdf(#[from] PdfError),
}

/// 26/11/2026.
pub fn numeric(d: Date) -> String {
    format!("{:02}/{:02}/{}", d.day(), u8::from(d.month()), d.year())
}

fn group_fr(g: Group) -> &'static str {
    match g {
        Group::Goods => "Transport de marchandises",
        Group::Passengers => "Transport de voyageurs",
    }
}

/// What kind of qualification the training gave (R. 3314-2, -5, -7, -8, -10).
fn training_fr(t: Training) -> &'static str {
    match t {
        Training::Fimo => "Qualification initiale, formation accélérée (FIMO)",
        Training::Long => "Qualification initiale, formation longue",
        Training::Passerelle => "Qualification initiale par formation complémentaire (passerelle)",
        Training::Fco => "Formation continue (FCO)",
    }
}

/// What the validity lines say.
fn validity_lines(v: &Validity) -> Vec<String> {
    if v.minor {
        vec![
            "Titulaire mineur à la date d'établissement : les quatre mois courent à compter de sa majorité.".into(),
            format!(
                "Valable du {} au {} inclus, sur le territoire national.",
                numeric(v.from),
                numeric(v.until)
            ),
        ]
    } else {
        vec![format!(
            "Valable jusqu'au {} inclus, sur le territoire national.",
            numeric(v.until)
        )]
    }
}

/// Lines of text placed down the page, each paragraph wrapped to the margins.
struct Cursor<'f> {
    fonts: &'f Fonts,
    items: Vec<Item>,
    y: f32,
}

impl Cursor<'_> {
    /// A paragraph at the left margin (or `x`), wrapped to the right margin; the cursor ends
    /// on its last baseline.
    fn para(&mut self, element: &str, face: Face, size: f32, x: f32, text: &str) {
        let step = size * MM_PER_PT * 1.3;
        let mut lines = Vec::new();
        for (i, l) in sheet::wrap(self.fonts, face, size, text, RIGHT - x)
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                self.y += step;
            }
            lines.push((x, self.y, l));
        }
        self.items
            .push(sheet::text(self.fonts, element, face, size, lines));
    }

    fn heading(&mut self, element: &str, text: &str) {
        self.y += 11.0;
        self.para(element, Face::Bold, 12.5, LEFT, text);
        self.y += 2.0;
        self.rule(&format!("{element}-rule"), 0.25);
    }

    fn rule(&mut self, element: &str, thickness: f32) {
        self.items.push(Item {
            element: element.to_string(),
            layer: Layer::Personalisation,
            primitive: Primitive::Rect {
                x: LEFT,
                y: self.y,
                w: RIGHT - LEFT,
                h: thickness,
                fill: Some(Rgb::BLACK),
                stroke: None,
                radius: 0.0,
            },
        });
    }

    /// A label and the holder's value beside it, fitted (never abbreviated, never clipped).
    fn field(
        &mut self,
        c: &Certificate,
        n: usize,
        label: &str,
        field: &'static str,
        value: &str,
    ) -> Result<(), PageError> {
        self.y += 7.5;
        self.items.push(sheet::line(
            self.fonts,
            &format!("label-{n}"),
            Face::Bold,
            10.0,
            LEFT,
            self.y,
            label,
        ));
        let line = self.fonts.line_height_mm(Face::Regular, VALUE_PT);
        let fitted = fit::fit(
            self.fonts,
            value,
            &TextBox {
                width_mm: RIGHT - VALUE_X,
                height_mm: 3.0 * line,
                size_pt: VALUE_PT,
                min_size_pt: 8.0,
                max_lines: 3,
                face: Face::Regular,
                names: NameRule::None,
            },
        )
        .map_err(|source| PageError::Name {
            request_id: c.request_id.clone(),
            field,
            source,
        })?;
        let pitch = self.fonts.line_height_mm(Face::Regular, fitted.size_pt);
        let mut lines = Vec::new();
        for (i, l) in fitted.lines.into_iter().enumerate() {
            if i > 0 {
                self.y += pitch;
            }
            lines.push((VALUE_X, self.y, l));
        }
        self.items.push(sheet::text(
            self.fonts,
            &format!("value-{n}"),
            Face::Regular,
            fitted.size_pt,
            lines,
        ));
        Ok(())
    }

    fn group(&mut self, n: usize, g: &GroupEntry) {
        let categories: Vec<&str> = g.categories.iter().map(|c| c.as_str()).collect();
        self.y += 8.0;
        self.para(
            &format!("group-{n}"),
            Face::Bold,
            11.0,
            LEFT,
            &format!(
                "{} — catégorie{} {}",
                group_fr(g.group),
                if categories.len() > 1 { "s" } else { "" },
                categories.join(", ")
            ),
        );
        self.y += 5.5;
        self.para(
            &format!("group-{n}-training"),
            Face::Regular,
            10.0,
            LEFT + 5.0,
            &format!(
                "{}, achevée le {}",
                training_fr(g.training),
                numeric(g.training_end)
            ),
        );
        self.y += 5.0;
        self.para(
            &format!("group-{n}-code95"),
            Face::Regular,
            10.0,
            LEFT + 5.0,
            &format!(
                "Code 95 (qualification du groupe) valable jusqu'au {}",
                numeric(g.code95_expiry)
            ),
        );
    }
}

/// The page.
pub fn scene(c: &Certificate, fonts: &Fonts) -> Result<Scene, PageError> {
    let validity = c.validity().ok_or_else(|| PageError::Validity {
        request_id: c.request_id.clone(),
    })?;
    let mut k = Cursor {
        fonts,
        items: Vec::new(),
        y: 20.0,
    };

    // Who established it (annex 1 b), and the reference of the request.
    k.para(
        "issuer-label",
        Face::Regular,
        8.5,
        LEFT,
        "Établi et mis à disposition par",
    );
    let reference = format!("Référence : {}", c.request_id);
    let rw = fonts.width_mm(Face::Regular, 8.5, &reference);
    k.items.push(sheet::line(
        fonts,
        "reference",
        Face::Regular,
        8.5,
        RIGHT - rw,
        k.y,
        &reference,
    ));
    k.y += 5.5;
    k.para("issuer", Face::Bold, 12.0, LEFT, &c.issuer);

    // The title in large type and the R. 3314-27 mention (annex 1 a).
    let mut size = TITLE_MAX_PT;
    while fonts.width_mm(Face::Bold, size, TITLE) > RIGHT - LEFT {
        size -= 0.5;
        if size < TITLE_MIN_PT {
            return Err(PageError::Title {
                request_id: c.request_id.clone(),
            });
        }
    }
    k.y += 17.0;
    k.para("title", Face::Bold, size, LEFT, TITLE);
    k.y += 7.5;
    k.para("mention", Face::Regular, 10.5, LEFT, MENTION);
    k.y += 4.0;
    k.rule("title-rule", 0.6);

    // The holder (annex 1 c).
    k.heading("holder", "Titulaire");
    k.field(c, 0, "Nom", "surname", &c.holder.surname)?;
    k.field(c, 1, "Prénom(s)", "given_names", &c.holder.given_names)?;
    k.field(
        c,
        2,
        "Date de naissance",
        "birth_date",
        &numeric(c.holder.birth_date),
    )?;

    // The qualification, group by group.
    k.heading("qualification", "Qualification");
    for (n, g) in c.groups.iter().enumerate() {
        k.group(n, g);
    }

    // Its own validity.
    k.heading("validity", "Validité du certificat");
    k.y += 7.0;
    k.para(
        "established",
        Face::Bold,
        10.5,
        LEFT,
        &format!("Date d'établissement : {}", numeric(c.established)),
    );
    for (n, l) in validity_lines(&validity).iter().enumerate() {
        k.y += 5.5;
        k.para(&format!("validity-{n}"), Face::Bold, 10.5, LEFT, l);
    }
    k.y += 7.0;
    k.para(
        "validity-rule",
        Face::Regular,
        BODY_PT,
        LEFT,
        "Accompagné d'un titre d'identité, ce certificat permet à son titulaire de justifier sur \
         le territoire national de la régularité de sa situation au regard des obligations de \
         qualification initiale ou de formation continue pendant une durée de quatre mois à \
         compter de sa date d'établissement ou, pour les personnes mineures à la date \
         d'établissement du certificat, pendant une durée de quatre mois à compter de leur \
         majorité. Il peut être présenté aux agents visés à l'article L. 3315-1 du code des \
         transports en format papier ou électronique.",
    );
    k.y += 6.0;
    k.para(
        "not-a-card",
        Face::Regular,
        BODY_PT,
        LEFT,
        "Ce certificat n'est pas la carte de qualification de conducteur : il justifie de la \
         qualification dans l'attente de la carte (article R. 3315-2, II, du code des \
         transports).",
    );
    let bottom = k.y + fonts.descent_mm(Face::Regular, BODY_PT);
    if bottom > FOOTER_TOP - 3.0 {
        return Err(PageError::Overflow {
            request_id: c.request_id.clone(),
            bottom_mm: bottom,
        });
    }

    // The text it is made under.
    k.y = FOOTER_TOP;
    k.rule("footer-rule", 0.25);
    k.y += 4.5;
    k.para(
        "footer",
        Face::Regular,
        7.5,
        LEFT,
        "Arrêté du 18 janvier 2022 relatif au certificat et à la carte de qualification des \
         conducteurs de certains véhicules routiers affectés aux transports de marchandises ou \
         de voyageurs (JORF n° 0024 du 29 janvier 2022) ; articles R. 3314-27 et R. 3315-2 du \
         code des transports.",
    );

    Ok(Scene {
        width_mm: PAGE_W,
        height_mm: PAGE_H,
        items: k.items,
    })
}

/// The page as a one-page PDF: titled, dated on its day of establishment, so that the same
/// certificate always gives the same bytes.
pub fn pdf(c: &Certificate, fonts: &Fonts) -> Result<Vec<u8>, PageError> {
    let scene = scene(c, fonts)?;
    Ok(pdf::document(
        &Meta {
            title: TITLE,
            created: Some(c.established),
        },
        &[(&scene, None)],
    )?)
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::domain::qualification::Category;

    fn certificate(surname: &str, birth: Date) -> Certificate {
        Certificate {
            issuer: "Bureau des cartes CQC".into(),
            holder: super::super::model::Holder {
                surname: surname.into(),
                given_names: "Jürgen Karl".into(),
                birth_date: birth,
            },
            groups: vec![
                GroupEntry {
                    group: Group::Goods,
                    categories: vec![Category::C, Category::CE],
                    training: Training::Fimo,
                    training_end: date!(2026 - 02 - 27),
                    code95_expiry: date!(2031 - 06 - 12),
                },
                GroupEntry {
                    group: Group::Passengers,
                    categories: vec![Category::D],
                    training: Training::Passerelle,
                    training_end: date!(2026 - 06 - 12),
                    code95_expiry: date!(2031 - 06 - 12),
                },
            ],
            established: date!(2026 - 11 - 26),
            request_id: "FIX-2026-000007".into(),
        }
    }

    fn fonts() -> &'static Fonts {
        crate::render::fonts::fonts().unwrap()
    }

    /// (element, size, x, baseline, width, text) of every line of text.
    fn lines(s: &Scene) -> Vec<(String, f32, f32, f32, f32, String)> {
        s.items
            .iter()
            .filter_map(|i| match &i.primitive {
                Primitive::Text { size_pt, lines, .. } => Some(
                    lines
                        .iter()
                        .map(|l| {
                            (
                                i.element.clone(),
                                *size_pt,
                                l.x_mm,
                                l.baseline_mm,
                                l.width_mm,
                                l.text.clone(),
                            )
                        })
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Every line inside the margins, none over another, nothing personal in the footer.
    fn check_geometry(s: &Scene) {
        let f = fonts();
        let all = lines(s);
        let boxes: Vec<_> = all
            .iter()
            .map(|(e, size, x, base, w, t)| {
                let top = base - f.ascent_mm(Face::Bold, *size);
                let bottom = base + f.descent_mm(Face::Bold, *size);
                (e, t, *x, top, x + w, bottom)
            })
            .collect();
        for (e, t, x0, top, x1, bottom) in &boxes {
            assert!(
                *x0 >= LEFT - 1e-3 && *x1 <= RIGHT + 1e-3,
                "{e} {t:?}: {x0}-{x1}"
            );
            assert!(
                *top >= 10.0 && *bottom <= PAGE_H - 10.0,
                "{e} {t:?}: {top}-{bottom}"
            );
            if e.as_str() != "footer" {
                assert!(*bottom < FOOTER_TOP, "{e} {t:?} runs into the footer");
            }
        }
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                let apart = a.4 <= b.2 || b.4 <= a.2 || a.5 <= b.3 || b.5 <= a.3;
                assert!(apart, "{} {:?} overlaps {} {:?}", a.0, a.1, b.0, b.1);
            }
        }
    }

    #[test]
    fn the_page_carries_the_mentions_in_place() {
        let c = certificate("GRÖSSMANN", date!(1982 - 01 - 09));
        let s = scene(&c, fonts()).unwrap();
        assert_eq!((s.width_mm, s.height_mm), (210.0, 297.0));
        check_geometry(&s);
        let all = lines(&s);
        let text: Vec<&str> = all.iter().map(|l| l.5.as_str()).collect();
        for wanted in [
            TITLE,
            MENTION,
            "Bureau des cartes CQC",
            "GRÖSSMANN",
            "Jürgen Karl",
            "09/01/1982",
            "Transport de marchandises — catégories C, CE",
            "Transport de voyageurs — catégorie D",
            "Qualification initiale, formation accélérée (FIMO), achevée le 27/02/2026",
            "Code 95 (qualification du groupe) valable jusqu'au 12/06/2031",
            "Date d'établissement : 26/11/2026",
            "Valable jusqu'au 26/03/2027 inclus, sur le territoire national.",
            "Référence : FIX-2026-000007",
        ] {
            assert!(text.contains(&wanted), "{wanted:?} not in {text:#?}");
        }
        // The title in large type: the biggest text of the page, never under 16 pt.
        let title = all.iter().find(|l| l.0 == "title").unwrap();
        assert!(
            title.1 >= TITLE_MIN_PT && title.1 <= TITLE_MAX_PT,
            "{}",
            title.1
        );
        assert!(all.iter().all(|l| l.0 == "title" || l.1 < title.1));
        assert!(!text.iter().any(|t| t.contains("mineur à la date")));
    }

    #[test]
    fn a_minor_is_told_his_four_months_start_at_his_majority() {
        let c = certificate("MARTIN", date!(2009 - 02 - 10));
        let s = scene(&c, fonts()).unwrap();
        check_geometry(&s);
        let text: Vec<String> = lines(&s).into_iter().map(|l| l.5).collect();
        assert!(
            text.contains(
                &"Valable du 10/02/2027 au 10/06/2027 inclus, sur le territoire national."
                    .to_string()
            ),
            "{text:#?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("Titulaire mineur à la date d'établissement"))
        );
    }

    #[test]
    fn the_longest_names_wrap_and_a_missing_glyph_is_refused() {
        let long = "DE LA TOUR D'AUVERGNE-LAURAGUAIS ".repeat(3);
        let long = &long.trim()[..80.min(long.trim().len())];
        let c = certificate(long, date!(1982 - 01 - 09));
        let s = scene(&c, fonts()).unwrap();
        check_geometry(&s);
        let surname: Vec<_> = lines(&s).into_iter().filter(|l| l.0 == "value-0").collect();
        assert!(surname.len() >= 2, "{surname:?}");
        let joined: String = surname
            .iter()
            .map(|l| l.5.clone())
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            joined.split_whitespace().collect::<Vec<_>>(),
            long.split_whitespace().collect::<Vec<_>>()
        );
        let e = scene(&certificate("漢字", date!(1982 - 01 - 09)), fonts()).unwrap_err();
        assert!(
            matches!(
                e,
                PageError::Name {
                    field: "surname",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn the_same_certificate_gives_the_same_bytes() {
        let c = certificate("GRÖSSMANN", date!(1982 - 01 - 09));
        let a = pdf(&c, fonts()).unwrap();
        assert_eq!(a, pdf(&c, fonts()).unwrap());
        assert!(a.starts_with(b"%PDF-"));
        let mut later = c.clone();
        later.established = date!(2026 - 11 - 27);
        assert_ne!(a, pdf(&later, fonts()).unwrap());
    }
}
