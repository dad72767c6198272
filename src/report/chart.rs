//! Charts as inline SVG: no script, no library, nothing fetched; the page opens from a file.
//! Numbers are placed with `{value}` like any text, so a label can never become markup.

use crate::console::html::{Markup, h};

/// Line colours, in the order series are given (readable on white and in greyscale).
pub const PALETTE: [&str; 6] = [
    "#1f5fa8", "#d9822b", "#2e8b57", "#8e44ad", "#c0392b", "#555555",
];

/// The smallest of 1, 2, 5 × 10^k that is at least `v` (an axis's top).
pub fn nice_max(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|c| *c >= v * 0.999_999)
        .unwrap_or(10.0 * p)
}

/// A tick label without useless decimals ("0,5", "20", "1 500").
fn tick(v: f64) -> String {
    if v.fract().abs() < 1e-9 {
        crate::console::html::count(v.round() as i64)
    } else {
        super::decimal(v, 1)
    }
}

/// One line of a line chart: name, colour, points (x, y).
pub struct Line<'a> {
    pub name: &'a str,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
}

const W: f64 = 760.0;
const H: f64 = 240.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = 34.0;

/// A line chart over `[0, x_max]`, its y axis from 0 to a round number above the data.
pub fn lines(label: &str, lines: &[Line<'_>], x_max: f64, x_unit: &str, y_unit: &str) -> Markup {
    let y_top = nice_max(
        lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .fold(0.0, f64::max),
    );
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |v: f64| LEFT + v / x_max * pw;
    let y = |v: f64| TOP + ph - v / y_top * ph;
    let mut m = Markup::new();
    h!(m; "<svg class=\"chart\" viewBox=\"0 0 " {W} " " {H} "\" role=\"img\" aria-label=\"" {label} "\">");
    // Grid and y ticks.
    for i in 0..=4 {
        let v = y_top * f64::from(i) / 4.0;
        h!(m; "<line class=\"grid\" x1=\"" {LEFT} "\" x2=\"" {W - RIGHT} "\" y1=\"" {y(v)} "\" y2=\"" {y(v)} "\"/>"
            "<text class=\"tick\" x=\"" {LEFT - 6.0} "\" y=\"" {y(v) + 4.0} "\" text-anchor=\"end\">" {tick(v)} "</text>");
    }
    // X ticks: about six round steps.
    let step = nice_max(x_max / 6.0);
    let mut v = 0.0;
    while v <= x_max * 1.000_001 {
        h!(m; "<text class=\"tick\" x=\"" {x(v)} "\" y=\"" {H - BOTTOM + 16.0} "\" text-anchor=\"middle\">" {tick(v)} "</text>");
        v += step;
    }
    h!(m; "<text class=\"axis\" x=\"" {W - RIGHT} "\" y=\"" {H - 4.0} "\" text-anchor=\"end\">" {x_unit} "</text>"
        "<text class=\"axis\" x=\"4\" y=\"12\">" {y_unit} "</text>"
        "<line class=\"axisline\" x1=\"" {LEFT} "\" x2=\"" {LEFT} "\" y1=\"" {TOP} "\" y2=\"" {TOP + ph} "\"/>"
        "<line class=\"axisline\" x1=\"" {LEFT} "\" x2=\"" {W - RIGHT} "\" y1=\"" {TOP + ph} "\" y2=\"" {TOP + ph} "\"/>");
    for l in lines {
        let mut pts = String::new();
        for (px, py) in &l.points {
            pts.push_str(&format!("{:.1},{:.1} ", x(*px), y(*py)));
        }
        h!(m; "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" {l.color} "\" points=\"" {pts.trim_end()} "\"/>");
    }
    h!(m; "</svg><p class=\"legend\">");
    for l in lines {
        h!(m; "<span><i style=\"background:" {l.color} "\"></i>" {l.name} "</span>");
    }
    h!(m; "</p>");
    m
}

/// Horizontal bars, one per row (label, value), scaled to the largest.
pub fn bars(label: &str, rows: &[(String, f64)], unit: &str) -> Markup {
    let top = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1e-9);
    let row_h = 22.0;
    let label_w = 250.0;
    let bar_w = W - label_w - 90.0;
    let height = row_h * rows.len().max(1) as f64 + 6.0;
    let mut m = Markup::new();
    h!(m; "<svg class=\"chart\" viewBox=\"0 0 " {W} " " {height} "\" role=\"img\" aria-label=\"" {label} "\">");
    for (i, (name, value)) in rows.iter().enumerate() {
        let y = 3.0 + row_h * i as f64;
        let w = (value / top * bar_w).max(if *value > 0.0 { 1.0 } else { 0.0 });
        h!(m; "<text class=\"tick\" x=\"" {label_w - 8.0} "\" y=\"" {y + 15.0} "\" text-anchor=\"end\">" {name} "</text>"
            "<rect x=\"" {label_w} "\" y=\"" {y + 3.0} "\" width=\"" {format!("{w:.1}")} "\" height=\"" {row_h - 6.0} "\" fill=\"" {PALETTE[0]} "\"/>"
            "<text class=\"tick\" x=\"" {label_w + w + 6.0} "\" y=\"" {y + 15.0} "\">" {tick(*value)} " " {unit} "</text>");
    }
    h!(m; "</svg>");
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round_and_above_the_data() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(f64::NAN), 1.0);
        assert_eq!(nice_max(0.7), 1.0);
        assert_eq!(nice_max(1.0), 1.0);
        assert_eq!(nice_max(1.2), 2.0);
        assert_eq!(nice_max(3.0), 5.0);
        assert_eq!(nice_max(57.0), 100.0);
        assert_eq!(nice_max(120.0), 200.0);
    }

    #[test]
    fn labels_are_escaped_and_every_line_drawn() {
        let l = [
            Line {
                name: "<b>rendu</b>",
                color: PALETTE[0],
                points: vec![(0.0, 1.0), (10.0, 3.0)],
            },
            Line {
                name: "puce",
                color: PALETTE[1],
                points: vec![(0.0, 2.0)],
            },
        ];
        let svg = lines("débit", &l, 10.0, "s", "cartes/s").into_string();
        assert!(svg.contains("&lt;b&gt;rendu&lt;/b&gt;"));
        assert!(!svg.contains("<b>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        // The top of the y axis is 5 (data up to 3): its label is there.
        assert!(svg.contains(">5</text>"), "{svg}");
        let b = bars(
            "étapes",
            &[("a & b".into(), 4.0), ("c".into(), 0.0)],
            "cartes",
        )
        .into_string();
        assert!(b.contains("a &amp; b"));
        assert_eq!(b.matches("<rect").count(), 2);
    }
}
