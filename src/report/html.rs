//! The run's report as one self-contained HTML page (styles inline, charts as SVG, pictures
//! and files linked relative to the page, so the whole `--out` folder can be copied or served).

use super::chart::{self, Line, PALETTE};
use super::{DayReport, decimal, rates};
use crate::console::html::{Markup, count, h};

const STYLE: &str = "<style>
body{font-family:'DejaVu Sans',Arial,sans-serif;margin:0;color:#1d232b;background:#f4f6f8}
header{background:#12355b;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:24px}
header p{margin:2px 0;color:#d6e2f0;font-size:14px}
main{max-width:1100px;margin:0 auto;padding:8px 20px 40px}
section{background:#fff;border-radius:8px;margin:16px 0;padding:12px 20px;box-shadow:0 1px 2px #0002}
h2{font-size:19px;margin:6px 0 10px;color:#12355b}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e3e7ec;vertical-align:top}
th{background:#eef2f6}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.verdict{font-size:18px;font-weight:bold;padding:10px 14px;border-radius:6px;margin:12px 0}
.ok{background:#e3f4e8;color:#1c6b36}.ko{background:#fbe4e2;color:#9b2317}
.tiles{display:flex;flex-wrap:wrap;gap:12px}
.tile{flex:1 1 140px;background:#eef2f6;border-radius:8px;padding:10px 14px}
.tile b{display:block;font-size:26px;color:#12355b}
.tile span{font-size:13px;color:#4a5665}
svg.chart{width:100%;height:auto}
svg .grid{stroke:#e3e7ec}svg .axisline{stroke:#8a95a3}
svg .tick{font-size:11px;fill:#4a5665}svg .axis{font-size:11px;fill:#4a5665}
.legend span{margin-right:18px;font-size:13px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px}
.cards{display:flex;flex-wrap:wrap;gap:16px}
.card{flex:1 1 480px}
.card img{width:49%;border:1px solid #c9d1db;border-radius:6px}
.letters{display:flex;flex-wrap:wrap;gap:16px}
.letters figure{margin:0;flex:1 1 220px}
.letters img{width:100%;border:1px solid #c9d1db}
figcaption{font-size:13px;color:#4a5665}
code{font-size:13px}
</style>";

/// The whole page.
pub fn page(r: &DayReport) -> String {
    let mut m = Markup::new();
    h!(m; "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>cqcfab — journée de production</title>");
    m.raw(STYLE);
    h!(m; "</head><body><header><h1>Journée de production — cartes de qualification de conducteur</h1>"
        "<p>Commencée le " {r.started} " · " {count(r.requests as i64)} " demandes · durée "
        {decimal(r.seconds, 1)} " s</p><p>Base : " {r.database} " · lecteurs : " {r.readers} "</p></header><main>");
    m.push(verdict(r));
    m.push(tiles(r));
    m.push(stages(r));
    m.push(throughput(r));
    m.push(yields_and_states(r));
    m.push(samples(r));
    m.push(letters(r));
    m.push(batches(r));
    m.push(returns(r));
    m.push(quality(r));
    m.push(destructions(r));
    m.push(resources(r));
    m.push(checks(r));
    h!(m; "</main></body></html>");
    m.into_string()
}

fn verdict(r: &DayReport) -> Markup {
    let failed: Vec<&str> = r
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.what.as_str())
        .collect();
    let mut m = Markup::new();
    if failed.is_empty() {
        h!(m; "<p class=\"verdict ok\">Journée saine : les " {r.checks.len()}
            " vérifications tiennent (aucune carte perdue ni faite deux fois, registre des corps et chaîne d'audit vérifiés).</p>");
    } else {
        h!(m; "<p class=\"verdict ko\">À examiner : " {failed.join(" ; ")} "</p>");
    }
    m
}

fn stage_done(r: &DayReport, name: &str) -> u64 {
    r.stages
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.done)
        .sum()
}

fn tiles(r: &DayReport) -> Markup {
    let made = stage_done(r, super::STAGE_CHIP);
    let posted: u64 = r.batches.iter().map(|b| b.pieces).sum();
    let replaced = r.quality.iter().filter(|q| q.replacement.is_some()).count() as u64;
    let tiles = [
        (count(r.requests as i64), "demandes reçues"),
        (count(made as i64), "puces personnalisées"),
        (count(posted as i64), "plis remis à La Poste"),
        (count(r.returns.len() as i64), "plis revenus"),
        (count(r.quality.len() as i64), "retours qualité"),
        (count(replaced as i64), "cartes remplacées"),
        (
            count(stage_done(r, super::STAGE_RENDER) as i64),
            "cartes rendues",
        ),
    ];
    let mut m = Markup::new();
    h!(m; "<section><h2>Chiffres clés</h2><div class=\"tiles\">");
    for (v, label) in tiles {
        h!(m; "<div class=\"tile\"><b>" {v} "</b><span>" {label} "</span></div>");
    }
    h!(m; "</div></section>");
    m
}

fn stages(r: &DayReport) -> Markup {
    let mut m = Markup::new();
    h!(m; "<section><h2>Étapes</h2><table><tr><th>Étape</th><th>Jour</th><th class=\"n\">Faits</th>"
        "<th class=\"n\">Refusés</th><th class=\"n\">Durée</th><th class=\"n\">Débit</th><th>Remarque</th></tr>");
    for s in &r.stages {
        let rate = s
            .rate()
            .map_or_else(|| "—".to_string(), |v| format!("{} /s", decimal(v, 1)));
        h!(m; "<tr><td>" {s.name} "</td><td>" {s.day} "</td><td class=\"n\">" {count(s.done as i64)} " " {s.unit}
            "</td><td class=\"n\">" {count(s.refused as i64)} "</td><td class=\"n\">" {decimal(s.seconds, 2)} " s</td><td class=\"n\">"
            {rate} "</td><td>" {s.note} "</td></tr>");
    }
    h!(m; "</table></section>");
    m
}

fn throughput(r: &DayReport) -> Markup {
    let span = r
        .series
        .iter()
        .flat_map(|s| s.times.iter().copied())
        .fold(0.0, f64::max)
        .max(1.0);
    let buckets = 60;
    let width = span / buckets as f64;
    let lines: Vec<Line<'_>> = r
        .series
        .iter()
        .filter(|s| !s.times.is_empty())
        .enumerate()
        .map(|(i, s)| Line {
            name: &s.name,
            color: PALETTE[i % PALETTE.len()],
            points: rates(&s.times, span, buckets)
                .into_iter()
                .enumerate()
                .map(|(b, v)| ((b as f64 + 0.5) * width, v))
                .collect(),
        })
        .collect();
    let mut m = Markup::new();
    h!(m; "<section><h2>Débit au fil de la journée</h2><p>Unités terminées par seconde, en tranches de "
        {decimal(width, 1)} " s, depuis le début de la journée.</p>"
        [chart::lines("débit par étape", &lines, span, "secondes depuis le début", "par seconde")]
        "</section>");
    m
}

fn yields_and_states(r: &DayReport) -> Markup {
    let mut m = Markup::new();
    h!(m; "<section><h2>Rendements</h2><table><tr><th>Ce qui est mesuré</th><th class=\"n\">Bons</th><th class=\"n\">Tentés</th><th class=\"n\">Rendement</th></tr>");
    for y in &r.yields {
        h!(m; "<tr><td>" {y.what} "</td><td class=\"n\">" {count(y.good as i64)} "</td><td class=\"n\">"
            {count(y.total as i64)} "</td><td class=\"n\">" {decimal(y.percent(), 1)} " %</td></tr>");
    }
    h!(m; "</table><h2>Cartes par état en fin de journée</h2>");
    let rows: Vec<(String, f64)> = r
        .states
        .iter()
        .map(|(s, n)| (s.clone(), *n as f64))
        .collect();
    h!(m; [chart::bars("cartes par état", &rows, "")] "</section>");
    m
}

fn samples(r: &DayReport) -> Markup {
    let mut m = Markup::new();
    if r.samples.is_empty() {
        return m;
    }
    h!(m; "<section><h2>Cartes exemples</h2><p>Aperçus recto et verso à 300 dpi (réduits ici) ; "
        "l'épreuve PDF porte les polices incorporées.</p><div class=\"cards\">");
    for s in &r.samples {
        let front = format!("{}/{}", s.dir, crate::render::FRONT_PREVIEW);
        let back = format!("{}/{}", s.dir, crate::render::BACK_PREVIEW);
        let proof = format!("{}/{}", s.dir, crate::render::PROOF);
        h!(m; "<div class=\"card\"><a href=\"" {front} "\"><img src=\"" {front} "\" alt=\"recto " {s.card_number} "\"></a> "
            "<a href=\"" {back} "\"><img src=\"" {back} "\" alt=\"verso " {s.card_number} "\"></a>"
            "<figcaption>" {s.card_number} " — " {s.holder} " · <a href=\"" {proof} "\">épreuve PDF</a></figcaption></div>");
    }
    h!(m; "</div></section>");
    m
}

fn letters(r: &DayReport) -> Markup {
    let mut m = Markup::new();
    if r.letters.is_empty() {
        return m;
    }
    h!(m; "<section><h2>Lettres porte-carte et coupons retour</h2><div class=\"letters\">");
    for l in &r.letters {
        for (png, pdf, what) in [
            (&l.carrier_png, &l.carrier_pdf, "lettre porte-carte"),
            (&l.coupon_png, &l.coupon_pdf, "coupon retour"),
        ] {
            h!(m; "<figure>");
            if let Some(png) = png {
                h!(m; "<a href=\"" {pdf} "\"><img src=\"" {png} "\" alt=\"" {what} " " {l.piece_id} "\"></a>");
            }
            h!(m; "<figcaption><a href=\"" {pdf} "\">" {what} "</a> — pli " {l.piece_id} ", carte " {l.card_number} "</figcaption></figure>");
        }
    }
    h!(m; "</div></section>");
    m
}

fn batches(r: &DayReport) -> Markup {
    let mut m = Markup::new();
    h!(m; "<section><h2>Lots postaux</h2><table><tr><th>Lot</th><th>Jour</th><th class=\"n\">Plis</th>"
        "<th class=\"n\">Poids</th><th>SHA-256 du manifeste</th><th>Fichiers</th></tr>");
    for b in &r.batches {
        h!(m; "<tr><td>" {b.batch_id} "</td><td>" {b.day} "</td><td class=\"n\">" {count(b.pieces as i64)}
            "</td><td class=\"n\">" {decimal(b.weight_g as f64 / 1000.0, 2)} " kg</td><td><code>" {&b.sha256[..b.sha256.len().min(16)]} "…</code></td><td>");
        for (label, path) in &b.files {
            h!(m; "<a href=\"" {path} "\">" {label} "</a> ");
        }
        h!(m; "</td></tr>");
    }
    h!(m; "</table></section>");
    m
}

fn returns(r: &DayReport) -> Markup {
    let mut m = Markup::new();
    h!(m; "<section><h2>Courrier revenu (PND)</h2><table><tr><th>Pli</th><th>Carte</th><th>Motif de La Poste</th>"
        "<th class=\"n\">Casier</th><th>Réponse du titulaire</th><th>Nouveau pli</th></tr>");
    for l in r.returns.iter().take(TABLE_ROWS) {
        h!(m; "<tr><td>" {l.piece_id} "</td><td>" {l.card_number} "</td><td>" {l.reason} "</td><td class=\"n\">"
            {l.slot.map_or_else(|| "—".to_string(), |s| s.to_string())} "</td><td>" {l.decision} "</td><td>"
            {l.new_piece.as_deref().unwrap_or("—")} "</td></tr>");
    }
    h!(m; "</table>" [more(r.returns.len())] "</section>");
    m
}

/// Rows shown in a long table; the rest are in summary.json and the database.
const TABLE_ROWS: usize = 40;

/// "… and N more" under a table cut at [`TABLE_ROWS`].
fn more(rows: usize) -> Markup {
    let mut m = Markup::new();
    if rows > TABLE_ROWS {
        h!(m; "<p>… et " {count((rows - TABLE_ROWS) as i64)} " autres (summary.json, console).</p>");
    }
    m
}

fn quality(r: &DayReport) -> Markup {
    let mut m = Markup::new();
    h!(m; "<section><h2>Retours qualité</h2><table><tr><th>Dossier</th><th>Carte</th><th>Défauts déclarés et constatés</th>"
        "<th>Puce</th><th>Verdict</th><th>Règle</th><th>Remplacement</th></tr>");
    for q in &r.quality {
        h!(m; "<tr><td>" {q.case_id} "</td><td>" {q.card_number} "</td><td>" {q.defects} "</td><td>" {q.chip}
            "</td><td>" {q.verdict} "</td><td><code>" {q.rule} "</code></td><td>"
            {q.replacement.as_deref().unwrap_or("—")} " (" {q.paid_by} ")</td></tr>");
    }
    h!(m; "</table></section>");
    m
}

fn destructions(r: &DayReport) -> Markup {
    let mut m = Markup::new();
    h!(m; "<section><h2>Destructions (quatre yeux)</h2><table><tr><th>Carte</th><th>Motif</th><th>Demandée par</th><th>Constatée par</th></tr>");
    for d in r.destructions.iter().take(TABLE_ROWS) {
        h!(m; "<tr><td>" {d.card_number} "</td><td>" {d.reason} "</td><td>" {d.requested_by} "</td><td>" {d.approved_by} "</td></tr>");
    }
    h!(m; "</table>" [more(r.destructions.len())] "</section>");
    m
}

fn resources(r: &DayReport) -> Markup {
    let mut m = Markup::new();
    if r.resources.is_empty() {
        return m;
    }
    let span = r.resources.iter().map(|s| s.t).fold(0.0, f64::max);
    let rss = [Line {
        name: "mémoire résidente (Mio)",
        color: PALETTE[0],
        points: r
            .resources
            .iter()
            .map(|s| (s.t, s.rss_kib as f64 / 1024.0))
            .collect(),
    }];
    let fds = [Line {
        name: "descripteurs de fichiers ouverts",
        color: PALETTE[1],
        points: r.resources.iter().map(|s| (s.t, s.fds as f64)).collect(),
    }];
    h!(m; "<section><h2>Le processus pendant la journée</h2>"
        [chart::lines("mémoire", &rss, span, "secondes depuis le début", "Mio")]
        [chart::lines("descripteurs", &fds, span, "secondes depuis le début", "fichiers")]
        "</section>");
    m
}

fn checks(r: &DayReport) -> Markup {
    let mut m = Markup::new();
    h!(m; "<section><h2>Vérifications de fin de journée</h2><table><tr><th></th><th>Vérification</th><th>Constat</th></tr>");
    for c in &r.checks {
        if c.ok {
            h!(m; "<tr><td class=\"ok\">✔</td>");
        } else {
            h!(m; "<tr><td class=\"ko\">✘</td>");
        }
        h!(m; "<td>" {c.what} "</td><td>" {c.detail} "</td></tr>");
    }
    h!(m; "</table></section>");
    m
}
