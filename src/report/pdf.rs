//! The run's report as an A4 PDF: the same figures as the page, drawn with the cards' own
//! scene primitives and PDF writer (bundled fonts, embedded and subset), so it prints the
//! same everywhere. Charts are bars: one row of slices per stage.

use super::{DayReport, decimal, rates};
use crate::console::html::count;
use crate::render::fonts::{self, Fonts};
use crate::render::scene::{Face, Item, Layer, Line, Primitive, Rgb, Scene};

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const LEFT: f32 = 16.0;
const RIGHT: f32 = PAGE_W - 16.0;
const BOTTOM: f32 = PAGE_H - 16.0;
const NAVY: Rgb = Rgb(0x12, 0x35, 0x5b);
const BLUE: Rgb = Rgb(0x1f, 0x5f, 0xa8);
const GREY: Rgb = Rgb(0x4a, 0x56, 0x65);
const RULE: Rgb = Rgb(0xd8, 0xde, 0xe5);
/// Rows of a long table printed; the rest are in summary.json.
const ROWS: usize = 40;
const GREEN: Rgb = Rgb(0x1c, 0x6b, 0x36);
const RED: Rgb = Rgb(0x9b, 0x23, 0x17);

#[derive(Debug, thiserror::Error)]
pub enum PdfReportError {
    #[error("the report's fonts: {0}")]
    Fonts(#[from] fonts::FontError),
    #[error("the report's PDF: {0}")]
    Pdf(#[from] crate::render::pdf::PdfError),
}

/// Pages filled top to bottom; a new page when the next block does not fit.
struct Pages<'f> {
    fonts: &'f Fonts,
    done: Vec<Scene>,
    items: Vec<Item>,
    y: f32,
}

impl<'f> Pages<'f> {
    fn new(fonts: &'f Fonts) -> Self {
        Pages {
            fonts,
            done: Vec::new(),
            items: Vec::new(),
            y: 18.0,
        }
    }

    /// Makes room for `h` mm, starting a new page if needed.
    fn room(&mut self, h: f32) {
        if self.y + h > BOTTOM && !self.items.is_empty() {
            self.done.push(Scene {
                width_mm: PAGE_W,
                height_mm: PAGE_H,
                items: std::mem::take(&mut self.items),
            });
            self.y = 18.0;
        }
    }

    /// Text at (x, baseline), shortened with "…" to fit `room` mm.
    fn text(&mut self, x: f32, y: f32, (face, size, color): (Face, f32, Rgb), s: &str, room: f32) {
        let text = fit(self.fonts, face, size, s, room);
        let width_mm = self.fonts.width_mm(face, size, &text);
        self.items.push(Item {
            element: "report-text".into(),
            layer: Layer::Personalisation,
            primitive: Primitive::Text {
                face,
                size_pt: size,
                color,
                lines: vec![Line {
                    x_mm: x,
                    baseline_mm: y,
                    width_mm,
                    text,
                }],
            },
        });
    }

    /// Right-aligned text ending at `right`.
    fn text_right(&mut self, right: f32, y: f32, size: f32, s: &str) {
        let w = self.fonts.width_mm(Face::Regular, size, s);
        self.text(right - w, y, (Face::Regular, size, Rgb::BLACK), s, w + 1.0);
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, fill: Rgb) {
        if w <= 0.0 || h <= 0.0 {
            return;
        }
        self.items.push(Item {
            element: "report-rect".into(),
            layer: Layer::Personalisation,
            primitive: Primitive::Rect {
                x,
                y,
                w,
                h,
                fill: Some(fill),
                stroke: None,
                radius: 0.0,
            },
        });
    }

    fn heading(&mut self, s: &str) {
        self.room(20.0);
        self.y += 7.0;
        self.text(LEFT, self.y, (Face::Bold, 13.0, NAVY), s, RIGHT - LEFT);
        self.y += 2.0;
        self.rect(LEFT, self.y, RIGHT - LEFT, 0.3, NAVY);
        self.y += 5.0;
    }

    /// A table: columns (header, x, right-aligned), then rows.
    fn table(&mut self, cols: &[(&str, f32, bool)], rows: &[Vec<String>]) {
        let size = 8.0;
        let header = |p: &mut Pages<'_>| {
            for (i, (name, x, right)) in cols.iter().enumerate() {
                let end = cols.get(i + 1).map_or(RIGHT, |c| c.1) - 2.0;
                if *right {
                    p.text(
                        end - p.fonts.width_mm(Face::Bold, size, name),
                        p.y,
                        (Face::Bold, size, GREY),
                        name,
                        end - x,
                    );
                } else {
                    p.text(*x, p.y, (Face::Bold, size, GREY), name, end - x);
                }
            }
            p.y += 1.6;
            p.rect(LEFT, p.y, RIGHT - LEFT, 0.2, RULE);
            p.y += 3.6;
        };
        header(self);
        for row in rows {
            if self.y + 4.6 > BOTTOM {
                self.room(BOTTOM);
                header(self);
            }
            for (i, (_, x, right)) in cols.iter().enumerate() {
                let end = cols.get(i + 1).map_or(RIGHT, |c| c.1) - 2.0;
                let cell = row.get(i).map_or("", String::as_str);
                if *right {
                    let shown = fit(self.fonts, Face::Regular, size, cell, end - x);
                    self.text_right(end, self.y, size, &shown);
                } else {
                    self.text(*x, self.y, (Face::Regular, size, Rgb::BLACK), cell, end - x);
                }
            }
            self.y += 4.4;
        }
        self.y += 2.0;
    }

    fn finish(mut self) -> Vec<Scene> {
        if !self.items.is_empty() {
            self.done.push(Scene {
                width_mm: PAGE_W,
                height_mm: PAGE_H,
                items: self.items,
            });
        }
        self.done
    }
}

/// `s`, shortened with "…" until it fits `room` mm.
fn fit(fonts: &Fonts, face: Face, size: f32, s: &str, room: f32) -> String {
    if fonts.width_mm(face, size, s) <= room {
        return s.to_string();
    }
    let mut chars: Vec<char> = s.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let t: String = chars.iter().collect::<String>() + "…";
        if fonts.width_mm(face, size, &t) <= room {
            return t;
        }
    }
    String::new()
}

/// The report as PDF bytes.
pub fn document(r: &DayReport) -> Result<Vec<u8>, PdfReportError> {
    let fonts = fonts::fonts()?;
    let mut p = Pages::new(fonts);
    let width = RIGHT - LEFT;
    p.text(
        LEFT,
        p.y,
        (Face::Bold, 17.0, NAVY),
        "Journée de production — cartes CQC",
        width,
    );
    p.y += 6.5;
    let sub = format!(
        "Commencée le {} · {} demandes · durée {} s",
        r.started,
        count(r.requests as i64),
        decimal(r.seconds, 1)
    );
    p.text(LEFT, p.y, (Face::Regular, 9.5, GREY), &sub, width);
    p.y += 4.6;
    let sub = format!("Base : {} · lecteurs : {}", r.database, r.readers);
    p.text(LEFT, p.y, (Face::Regular, 9.5, GREY), &sub, width);
    p.y += 6.0;
    let failed: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.what.as_str())
        .collect();
    let (fill, ink, line) = if failed.is_empty() {
        (
            Rgb(0xe3, 0xf4, 0xe8),
            GREEN,
            format!(
                "Journée saine : les {} vérifications tiennent.",
                r.checks.len()
            ),
        )
    } else {
        (
            Rgb(0xfb, 0xe4, 0xe2),
            RED,
            format!("À examiner : {}", failed.join(" ; ")),
        )
    };
    p.rect(LEFT, p.y, width, 9.0, fill);
    p.text(
        LEFT + 3.0,
        p.y + 6.0,
        (Face::Bold, 10.5, ink),
        &line,
        width - 6.0,
    );
    p.y += 12.0;

    p.heading("Étapes");
    let rows: Vec<Vec<String>> = r
        .stages
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.day.clone(),
                format!("{} {}", count(s.done as i64), s.unit),
                count(s.refused as i64),
                format!("{} s", decimal(s.seconds, 2)),
                s.rate()
                    .map_or_else(|| "—".into(), |v| format!("{} /s", decimal(v, 1))),
            ]
        })
        .collect();
    p.table(
        &[
            ("Étape", LEFT, false),
            ("Jour", LEFT + 62.0, false),
            ("Faits", LEFT + 76.0, true),
            ("Refusés", LEFT + 108.0, true),
            ("Durée", LEFT + 126.0, true),
            ("Débit", LEFT + 150.0, true),
        ],
        &rows,
    );

    throughput(&mut p, r);

    p.heading("Rendements");
    let rows: Vec<Vec<String>> = r
        .yields
        .iter()
        .map(|y| {
            vec![
                y.what.clone(),
                count(y.good as i64),
                count(y.total as i64),
                format!("{} %", decimal(y.percent(), 1)),
            ]
        })
        .collect();
    p.table(
        &[
            ("Ce qui est mesuré", LEFT, false),
            ("Bons", LEFT + 100.0, true),
            ("Tentés", LEFT + 126.0, true),
            ("Rendement", LEFT + 152.0, true),
        ],
        &rows,
    );

    p.heading("Cartes par état en fin de journée");
    let top = r.states.iter().map(|s| s.1).max().unwrap_or(1).max(1) as f32;
    for (state, n) in &r.states {
        p.room(6.0);
        p.text(
            LEFT,
            p.y + 3.2,
            (Face::Regular, 8.5, Rgb::BLACK),
            state,
            50.0,
        );
        let w = (*n as f32 / top * (width - 80.0)).max(0.4);
        p.rect(LEFT + 52.0, p.y, w, 4.0, BLUE);
        p.text(
            LEFT + 54.0 + w,
            p.y + 3.2,
            (Face::Regular, 8.5, GREY),
            &count(*n),
            25.0,
        );
        p.y += 5.5;
    }

    p.heading("Lots postaux");
    let rows: Vec<Vec<String>> = r
        .batches
        .iter()
        .map(|b| {
            vec![
                b.batch_id.clone(),
                b.day.clone(),
                count(b.pieces as i64),
                format!("{} kg", decimal(b.weight_g as f64 / 1000.0, 2)),
                b.sha256.clone(),
            ]
        })
        .collect();
    p.table(
        &[
            ("Lot", LEFT, false),
            ("Jour", LEFT + 44.0, false),
            ("Plis", LEFT + 58.0, true),
            ("Poids", LEFT + 72.0, true),
            ("SHA-256 du manifeste", LEFT + 92.0, false),
        ],
        &rows,
    );

    p.heading("Courrier revenu (PND)");
    let rows: Vec<Vec<String>> = r
        .returns
        .iter()
        .take(ROWS)
        .map(|l| {
            vec![
                l.piece_id.clone(),
                l.card_number.clone(),
                l.reason.clone(),
                l.slot.map_or_else(|| "—".into(), |s| s.to_string()),
                l.decision.clone(),
            ]
        })
        .collect();
    p.table(
        &[
            ("Pli", LEFT, false),
            ("Carte", LEFT + 28.0, false),
            ("Motif", LEFT + 62.0, false),
            ("Casier", LEFT + 110.0, true),
            ("Réponse du titulaire", LEFT + 124.0, false),
        ],
        &rows,
    );

    p.heading("Retours qualité");
    let rows: Vec<Vec<String>> = r
        .quality
        .iter()
        .map(|q| {
            vec![
                q.case_id.to_string(),
                q.card_number.clone(),
                q.defects.clone(),
                q.verdict.clone(),
                format!(
                    "{} ({})",
                    q.replacement.as_deref().unwrap_or("—"),
                    q.paid_by
                ),
            ]
        })
        .collect();
    p.table(
        &[
            ("Dossier", LEFT, false),
            ("Carte", LEFT + 14.0, false),
            ("Défauts", LEFT + 48.0, false),
            ("Verdict", LEFT + 96.0, false),
            ("Remplacement", LEFT + 124.0, false),
        ],
        &rows,
    );

    p.heading("Destructions (quatre yeux)");
    let rows: Vec<Vec<String>> = r
        .destructions
        .iter()
        .take(ROWS)
        .map(|d| {
            vec![
                d.card_number.clone(),
                d.reason.clone(),
                d.requested_by.clone(),
                d.approved_by.clone(),
            ]
        })
        .collect();
    p.table(
        &[
            ("Carte", LEFT, false),
            ("Motif", LEFT + 34.0, false),
            ("Demandée par", LEFT + 100.0, false),
            ("Constatée par", LEFT + 140.0, false),
        ],
        &rows,
    );

    p.heading("Vérifications de fin de journée");
    let rows: Vec<Vec<String>> = r
        .checks
        .iter()
        .map(|c| {
            vec![
                if c.ok { "OK" } else { "ÉCHEC" }.to_string(),
                c.what.clone(),
                c.detail.clone(),
            ]
        })
        .collect();
    p.table(
        &[
            ("", LEFT, false),
            ("Vérification", LEFT + 12.0, false),
            ("Constat", LEFT + 80.0, false),
        ],
        &rows,
    );

    let pages = p.finish();
    let refs: Vec<(&Scene, Option<&crate::render::pdf::ProofPictures<'_>>)> =
        pages.iter().map(|s| (s, None)).collect();
    Ok(crate::render::pdf::proof(&refs)?)
}

/// One row of slices per stage: units per second over the run, as bars.
fn throughput(p: &mut Pages<'_>, r: &DayReport) {
    let series: Vec<_> = r.series.iter().filter(|s| !s.times.is_empty()).collect();
    if series.is_empty() {
        return;
    }
    p.heading("Débit au fil de la journée (unités par seconde)");
    let span = series
        .iter()
        .flat_map(|s| s.times.iter().copied())
        .fold(0.0, f64::max)
        .max(1.0);
    let buckets = 60;
    let chart_x = LEFT + 44.0;
    let chart_w = RIGHT - chart_x - 18.0;
    let slice = chart_w / buckets as f32;
    let row_h = 12.0;
    for s in series {
        p.room(row_h + 2.0);
        let r = rates(&s.times, span, buckets);
        let top = r.iter().copied().fold(0.0, f64::max).max(1e-9);
        p.text(
            LEFT,
            p.y + row_h - 4.0,
            (Face::Regular, 8.5, Rgb::BLACK),
            &s.name,
            42.0,
        );
        for (i, v) in r.iter().enumerate() {
            let h = (*v / top) as f32 * row_h;
            p.rect(
                chart_x + slice * i as f32,
                p.y + row_h - h,
                slice * 0.8,
                h,
                BLUE,
            );
        }
        p.rect(chart_x, p.y + row_h, chart_w, 0.2, RULE);
        p.text(
            RIGHT - 17.0,
            p.y + row_h - 4.0,
            (Face::Regular, 7.5, GREY),
            &format!("max {}", decimal(top, 0)),
            17.0,
        );
        p.y += row_h + 2.5;
    }
    let axis = format!(
        "0 à {} s depuis le début, {buckets} tranches",
        decimal(span, 0)
    );
    p.text(
        chart_x,
        p.y + 1.0,
        (Face::Regular, 7.5, GREY),
        &axis,
        RIGHT - chart_x,
    );
    p.y += 5.0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_shortened_to_fit_and_short_text_kept() {
        let f = fonts::fonts().expect("fonts");
        assert_eq!(fit(f, Face::Regular, 8.0, "court", 50.0), "court");
        let long = "un motif de retour bien trop long pour sa colonne du tableau";
        let s = fit(f, Face::Regular, 8.0, long, 20.0);
        assert!(s.ends_with('…'), "{s}");
        assert!(f.width_mm(Face::Regular, 8.0, &s) <= 20.0);
    }
}
