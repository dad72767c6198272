//! The demo's returned mail: days after posting, the post brings back a share of the pieces.
//! The mailroom scans them as a clerk would (the reason from the reason sheet, then each
//! piece, with a piece scanned twice, a card number and some noise among them), the cards go
//! to their slots; the holders answer through the portal (resend, readdress) or do not; the
//! new carriers take the cards out of their slots; the unclaimed cards are destroyed under
//! four eyes once the time to answer is over.

use std::time::Instant;

use anyhow::Context;

use crate::domain::address::{self, AddressInput};
use crate::post::pnd::ReturnReason;
use crate::report::{DestructionLine, ReturnLine};
use crate::station::mailroom::{self, Outcome};
use crate::store::Store;
use crate::store::destruction::{DestructionReason, Method};
use crate::store::returns::{Decision, Scanner};

/// One piece in every this many comes back (5 %).
pub const RETURN_EVERY: usize = 20;
/// The reasons the post ticks, in turn.
const REASONS: [ReturnReason; 5] = [
    ReturnReason::Npai,
    ReturnReason::AddressIncomplete,
    ReturnReason::NotCollected,
    ReturnReason::Refused,
    ReturnReason::NoLetterBox,
];
const MAILROOM: Scanner<'static> = Scanner {
    station: "demo-mailroom",
    clerk: "Camille (courrier)",
};
pub const SUPERVISORS: [&str; 2] = ["Sam (superviseur)", "Noor (superviseure)"];

/// What the mailroom did.
pub struct Scanned {
    /// Pieces held in a slot, waiting for their holder: (piece, card, reason, slot).
    pub held: Vec<(String, String, ReturnReason, i64)>,
    pub scans: u64,
    /// Scans answered in red (a card number, noise): nothing recorded.
    pub refused: u64,
    pub seconds: f64,
}

/// Picks the pieces the post brings back: one in [`RETURN_EVERY`], at least three when
/// there are that many.
pub fn returned(posted: &[(String, String)]) -> Vec<(String, String)> {
    let mut picked: Vec<(String, String)> = posted
        .iter()
        .enumerate()
        .filter(|(i, _)| i % RETURN_EVERY == RETURN_EVERY / 2)
        .map(|(_, p)| p.clone())
        .collect();
    for p in posted.iter().rev() {
        if picked.len() >= 3.min(posted.len()) {
            break;
        }
        if !picked.contains(p) {
            picked.push(p.clone());
        }
    }
    picked
}

/// Scans the returned pieces in the mailroom, grouped by reason.
pub async fn scan(
    store: &Store,
    pieces: &[(String, String)],
    decision_wait_ms: i64,
) -> anyhow::Result<Scanned> {
    let started = Instant::now();
    let bar = super::super::progress(pieces.len() as u64, "mailroom");
    let mut out = Scanned {
        held: Vec::new(),
        scans: 0,
        refused: 0,
        seconds: 0.0,
    };
    let mut reason = None;
    for (i, (piece, card)) in pieces.iter().enumerate() {
        let r = REASONS[i % REASONS.len()];
        let mut codes = Vec::new();
        if reason != Some(r) {
            codes.push(r.scan_code().to_string());
        }
        codes.push(piece.clone());
        if i == 0 {
            // The same envelope again, the card's own number, and a smudged label.
            codes.extend([piece.clone(), card.clone(), "]C0%%7#".to_string()]);
        }
        for code in codes {
            let a = mailroom::handle(store, MAILROOM, &code, reason, decision_wait_ms)
                .await
                .with_context(|| format!("mailroom scan {code}"))?;
            out.scans += 1;
            if !a.ok {
                out.refused += 1;
            }
            match a.outcome {
                Outcome::ReasonSet => reason = Some(r),
                Outcome::Held => {
                    let slot = a.slot.context("a held card has a slot")?;
                    out.held.push((piece.clone(), card.clone(), r, slot));
                }
                _ => {}
            }
            tracing::debug!(code, answer = %a.message, "mailroom");
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    out.seconds = started.elapsed().as_secs_f64();
    println!(
        "mailroom: {} piece(s) back, {} scan(s), {} answered in red (nothing recorded), cards in slots {}",
        pieces.len(),
        out.scans,
        out.refused,
        out.held
            .iter()
            .map(|h| h.3.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(out)
}

/// A new address the holder gives when asking to readdress.
fn new_address(recipient: &str, i: usize) -> AddressInput {
    let streets = [
        ("12 RUE DES LILAS", "69003", "LYON"),
        ("4 AVENUE JEAN JAURES", "31000", "TOULOUSE"),
        ("27 BOULEVARD DE LA LIBERTE", "59800", "LILLE"),
    ];
    // Readdresses are one answer in three: `i / 3` takes each street in turn.
    let (street, postcode, city) = streets[(i / 3) % streets.len()];
    AddressInput {
        recipient: recipient.to_string(),
        street: Some(street.to_string()),
        postcode: postcode.to_string(),
        city: city.to_string(),
        country: "FR".to_string(),
        ..AddressInput::default()
    }
}

/// The holders answer: one in three readdresses (paid), one in three asks to resend, the
/// others stay silent. Returns the report's lines (the new pieces are filled in later).
pub async fn decide(
    store: &Store,
    held: &[(String, String, ReturnReason, i64)],
) -> anyhow::Result<Vec<ReturnLine>> {
    let mut lines = Vec::new();
    for (i, (piece, card, reason, slot)) in held.iter().enumerate() {
        let record = store
            .card_by_number(card)
            .await?
            .with_context(|| format!("card {card} vanished"))?;
        let recipient = format!(
            "{} {}",
            record.given_names.as_deref().unwrap_or(""),
            record.surname.as_deref().unwrap_or("")
        )
        .trim()
        .to_uppercase();
        let decision = match i % 3 {
            0 => Some(Decision::Readdress {
                payment_ref: format!("PAY-DEMO-{:04}", i + 1),
                address: address::format(&new_address(&recipient, i))
                    .map_err(|v| anyhow::anyhow!("the demo's new address is refused: {v:?}"))?,
            }),
            1 => Some(Decision::Resend),
            _ => None,
        };
        let said = match &decision {
            Some(d) => {
                store
                    .decide(piece, d, "portal")
                    .await
                    .with_context(|| format!("decision on piece {piece}"))?;
                match d {
                    Decision::Readdress { address, .. } => format!(
                        "nouvelle adresse ({}), payée",
                        address
                            .lines()
                            .last()
                            .map_or_else(String::new, |l| l.text.clone())
                    ),
                    Decision::Resend => "renvoyer à la même adresse".to_string(),
                }
            }
            None => "pas de réponse".to_string(),
        };
        lines.push(ReturnLine {
            piece_id: piece.clone(),
            card_number: card.clone(),
            reason: reason.label_fr().to_string(),
            slot: Some(*slot),
            decision: said,
            new_piece: None,
        });
    }
    let answered = lines
        .iter()
        .filter(|l| l.decision != "pas de réponse")
        .count();
    println!(
        "holders answered {answered} of {} return(s) through the portal",
        lines.len()
    );
    Ok(lines)
}

/// The mailroom scans each new carrier of an answered return: the answer says which slot to
/// take the card from, for the inserting line. Returns how many were retrieved.
pub async fn retrieve(
    store: &Store,
    pairs: &[(String, String)],
    lines: &mut [ReturnLine],
    decision_wait_ms: i64,
) -> anyhow::Result<u64> {
    let mut retrieved = 0;
    for (piece, card) in pairs {
        let Some(line) = lines.iter_mut().find(|l| &l.card_number == card) else {
            continue;
        };
        let a = mailroom::handle(store, MAILROOM, piece, None, decision_wait_ms).await?;
        if a.outcome == Outcome::Retrieve {
            retrieved += 1;
        } else {
            tracing::warn!(piece, answer = %a.message, "new carrier of a returned card not retrieved");
        }
        line.new_piece = Some(piece.clone());
    }
    Ok(retrieved)
}

/// Destroys the cards nobody claimed in time, and the cards the quality desk took back:
/// one supervisor asks, the same one may not approve (the store refuses and audits), a
/// second one does. Returns the report's lines and how many self-approvals were refused.
pub async fn destroy(
    store: &Store,
    quality_cards: &[String],
) -> anyhow::Result<(Vec<DestructionLine>, u64)> {
    let [first, second] = SUPERVISORS;
    let mut todo: Vec<(String, DestructionReason)> = store
        .unclaimed_returns()
        .await?
        .into_iter()
        .map(|(card, _, _)| (card, DestructionReason::Unclaimed))
        .collect();
    todo.extend(
        quality_cards
            .iter()
            .map(|c| (c.clone(), DestructionReason::QualityReturn)),
    );
    let mut lines = Vec::new();
    let mut refused = 0;
    for (card, reason) in todo {
        let id = store
            .request_destruction(&card, reason, Method::CrossCutShredder, first)
            .await
            .with_context(|| format!("destruction of card {card}"))?;
        if store.approve_destruction(id, first).await.is_err() {
            refused += 1;
        }
        store
            .approve_destruction(id, second)
            .await
            .with_context(|| format!("approving destruction {id}"))?;
        lines.push(DestructionLine {
            card_number: card,
            reason: match reason {
                DestructionReason::Unclaimed => "non réclamée dans le délai".to_string(),
                _ => "retour qualité analysé".to_string(),
            },
            requested_by: first.to_string(),
            approved_by: second.to_string(),
        });
    }
    println!(
        "{} card(s) destroyed under four eyes ({refused} approval(s) by the requester refused)",
        lines.len()
    );
    Ok((lines, refused))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted(n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("P{i}"), format!("C{i}"))).collect()
    }

    #[test]
    fn one_piece_in_twenty_comes_back_and_at_least_three() {
        assert_eq!(returned(&posted(200)).len(), 10);
        assert_eq!(returned(&posted(20)).len(), 3);
        assert_eq!(returned(&posted(2)).len(), 2);
        assert!(returned(&posted(0)).is_empty());
        let r = returned(&posted(40));
        let unique: std::collections::BTreeSet<_> = r.iter().collect();
        assert_eq!(unique.len(), r.len());
    }

    #[test]
    fn the_demo_s_new_addresses_are_valid_postal_addresses() {
        for i in 0..3 {
            let a = address::format(&new_address("MARIE DUPONT", i)).expect("valid");
            assert!(a.lines().len() >= 3);
        }
    }
}
