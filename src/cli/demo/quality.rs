//! The demo's quality returns: a few holders post their card back with its return coupon.
//! The quality desk opens each case from the coupon, reads the chip (the very chip the
//! encoding station wrote, kept from its output hopper) and judges it by passive
//! authentication, records the defects the holder declared with their causes, and gives the
//! verdict by the attribution rules: our fault makes the free replacement at once; the
//! holder's fault waits for the holder to correct their data and pay, through the portal.

use std::time::Instant;

use anyhow::Context;
use serde_json::json;
use x509_cert::Certificate;

use crate::chip::data_groups::FID_DG1;
use crate::chip::script;
use crate::intake::Intake;
use crate::post::coupon::CouponCode;
use crate::quality::attribution::{Cause, Defect, Finding};
use crate::quality::desk::{self, Reading};
use crate::quality::diagnostic::{self, FILES, PassiveAuth};
use crate::report::QualityLine;
use crate::store::quality::{CaseOpened, Decision};
use cqcfab_simulator::card::VirtualCard;
use cqcfab_simulator::inprocess::InProcessReader;

const ANALYST: &str = "Inès (qualité)";
const STATION: &str = "demo-quality";

/// How each case of the demo goes.
#[derive(Debug, Clone, Copy)]
enum Story {
    /// The photo is printed smudged: a print defect, ours.
    SmudgedPhoto,
    /// The chip does not answer, the card is unmarked: ours.
    DeadChip,
    /// The given names are wrong, as the holder typed them: theirs; they correct and pay.
    TypoByHolder,
}

const STORIES: [Story; 3] = [Story::SmudgedPhoto, Story::DeadChip, Story::TypoByHolder];

pub struct Cases {
    pub lines: Vec<QualityLine>,
    /// The cards posted back (to be destroyed once analysed).
    pub cards: Vec<String>,
    pub seconds: f64,
}

/// The card number in a chip's DG1.
fn chip_card(chip: &VirtualCard) -> Option<String> {
    diagnostic::dg1_fields(chip.file(FID_DG1)?)
        .ok()?
        .remove("card_number")
}

/// Runs the cases on chips of cards that reached their holders (`eligible`).
pub async fn run(
    intake: &Intake,
    csca: &Certificate,
    chips: Vec<VirtualCard>,
    eligible: &[String],
) -> anyhow::Result<Cases> {
    let started = Instant::now();
    let store = intake.store();
    let chips: Vec<(String, VirtualCard)> = chips
        .into_iter()
        .filter_map(|c| chip_card(&c).map(|n| (n, c)))
        .filter(|(n, _)| eligible.contains(n))
        .take(STORIES.len())
        .collect();
    let bar = super::super::progress(chips.len() as u64, "quality");
    let mut out = Cases {
        lines: Vec::new(),
        cards: Vec::new(),
        seconds: 0.0,
    };
    for ((card, chip), story) in chips.into_iter().zip(STORIES) {
        // The coupon in the envelope opens the case.
        let coupon = CouponCode::for_card(crate::domain::card_number::CardNumber::parse(&card)?);
        let case = match store
            .open_quality_case(&coupon.card().to_string(), ANALYST, STATION)
            .await?
        {
            CaseOpened::Opened(c) | CaseOpened::Existing(c) => c,
        };
        let reading = match story {
            Story::DeadChip => Reading {
                chip_serial: None,
                files: Vec::new(),
                unreadable: Some("no answer to reset (mute)".into()),
            },
            _ => {
                // Out of the station's reader, into the desk's.
                let mut chip = chip;
                chip.reinsert();
                let mut reader = InProcessReader::new("quality desk", chip);
                let read = script::read_application(&mut reader, &FILES)
                    .with_context(|| format!("reading the chip of card {card}"))?;
                serde_json::from_value(Reading::of(&read))?
            }
        };
        let d = desk::diagnose(store, csca, case.id, &reading, ANALYST)
            .await
            .with_context(|| format!("diagnostic of case {}", case.id))?;
        let (element, cause, declared) = match story {
            Story::SmudgedPhoto => ("photo", Cause::Print, "photo tachée : impression"),
            Story::DeadChip => ("puce", Cause::Chip, "puce muette : puce"),
            Story::TypoByHolder => ("prénom", Cause::Data, "prénom erroné : saisi ainsi"),
        };
        store
            .record_defect(
                case.id,
                &Defect {
                    element: element.into(),
                    finding: Finding::Confirmed(cause),
                },
                None,
                ANALYST,
            )
            .await?;
        let verdict = desk::decide(intake, case.id, ANALYST, None).await?;
        let Decision::Decided { attribution, .. } = &verdict.decision else {
            anyhow::bail!("case {}: no verdict without a waiver asked", case.id);
        };
        let (replacement, paid_by) = match (&verdict.replacement, story) {
            (Some((_, number)), _) => (number.clone(), "gratuit, notre faute"),
            (None, Story::TypoByHolder) => {
                // The portal tells the holder, who corrects the given names and pays.
                let record = store
                    .card_by_number(&card)
                    .await?
                    .with_context(|| format!("card {card} vanished"))?;
                let given = format!("{}-Corrigé", record.given_names.as_deref().unwrap_or("X"));
                let corrections = json!({ "holder": { "given_names": given } });
                let (_, number) = desk::holder_correction(
                    intake,
                    case.id,
                    corrections.as_object().context("an object")?,
                    &format!("PAY-QUAL-{}", case.id),
                )
                .await?;
                (number, "payé par le titulaire après correction")
            }
            (None, _) => (None, "aucun"),
        };
        out.lines.push(QualityLine {
            case_id: case.id,
            card_number: card.clone(),
            defects: declared.to_string(),
            chip: format!(
                "{} ({})",
                d.chip.as_str(),
                match &d.passive_authentication {
                    PassiveAuth::Verified { .. } => "authentification passive vérifiée",
                    PassiveAuth::UnknownSigner { .. } => "signataire inconnu",
                    PassiveAuth::Failed { .. } => "authentification passive en échec",
                    PassiveAuth::NotDone { .. } => "non lue",
                }
            ),
            verdict: match attribution.verdict.as_str() {
                "manufacturer_fault" => "faute du fabricant",
                _ => "faute du titulaire",
            }
            .to_string(),
            rule: attribution.rule.to_string(),
            paid_by: paid_by.to_string(),
            replacement,
        });
        out.cards.push(card);
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.seconds = started.elapsed().as_secs_f64();
    println!(
        "quality desk: {} case(s) judged, {} replacement(s) ordered",
        out.lines.len(),
        out.lines.iter().filter(|l| l.replacement.is_some()).count()
    );
    Ok(out)
}
