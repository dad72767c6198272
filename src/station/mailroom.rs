//! The mailroom station (docs/returns.md): a clerk scans what the post brought back and is
//! told at once, in French, what to do with it. The service answers (this module runs inside
//! `cqcfab serve`); the station program only reads the scanner and shows the answer.
//!
//! The clerk first scans the reason ticked on La Poste's label, from the reason sheet
//! (`PND-NPAI`...); it stays the current reason, shown in every answer, until another is
//! scanned. Each returned piece is then scanned by the piece barcode on its carrier letter.
//! A code that is not a piece id is never taken for one: a coupon goes to the quality desk, a
//! card number is refused (the envelope's code is what identifies the return), two codes glued
//! together are refused whole, anything else is logged and said.

use serde::Serialize;

use crate::domain::card_number::CardNumber;
use crate::post::coupon::CouponCode;
use crate::post::pnd::ReturnReason;
use crate::post::s10::S10Id;
use crate::store::Store;
use crate::store::returns::{ReturnError, ReturnOutcome, Scanner};

/// What one scanned code is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailroomScan {
    Piece(S10Id),
    Coupon(CouponCode),
    Reason(ReturnReason),
    Card(CardNumber),
    /// Two or more codes read as one (a missing terminator): never acted on.
    Glued(Vec<String>),
    Unknown(String),
}

impl MailroomScan {
    /// Identifies a code (spaces around and inside ignored: ids are printed in groups).
    pub fn read(code: &str) -> MailroomScan {
        let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if let Some(scan) = Self::known(&compact) {
            return scan;
        }
        // Glued codes: a split where both halves are codes we know.
        for (i, _) in compact.char_indices().skip(1) {
            let (a, b) = compact.split_at(i);
            if Self::known(a).is_some() && Self::known(b).is_some() {
                return MailroomScan::Glued(vec![a.to_string(), b.to_string()]);
            }
        }
        MailroomScan::Unknown(code.trim().to_string())
    }

    fn known(code: &str) -> Option<MailroomScan> {
        if let Some(reason) = ReturnReason::from_scan(code) {
            return Some(MailroomScan::Reason(reason));
        }
        if let Ok(id) = code.parse::<S10Id>() {
            return Some(MailroomScan::Piece(id));
        }
        if let Ok(coupon) = code.parse::<CouponCode>() {
            return Some(MailroomScan::Coupon(coupon));
        }
        if let Ok(card) = CardNumber::parse(code) {
            return Some(MailroomScan::Card(card));
        }
        None
    }
}

/// The kind of answer; the station colours and beeps by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The card goes into the slot shown.
    Held,
    /// This piece was scanned before: nothing changed, the slot is shown again.
    AlreadyHeld,
    /// The card is no longer valid: destruction tray.
    ToDestruction,
    /// An old envelope whose return was settled long ago: nothing changed.
    AlreadySettled,
    /// The new carrier of a returned card whose holder answered: take the card out of its
    /// slot for the inserting station.
    Retrieve,
    /// A piece that never left: supervisor.
    NotPosted,
    /// A piece id the bureau never issued.
    UnknownPiece,
    /// The reason for the next pieces is set.
    ReasonSet,
    /// A piece was scanned before any reason.
    ReasonNeeded,
    /// A return coupon: the quality desk's business, not the mailroom's.
    QualityCoupon,
    /// A card number: the envelope's code is wanted.
    CardNotPiece,
    /// Several codes read as one.
    Glued,
    /// Not a code of ours.
    UnknownCode,
}

impl Outcome {
    /// True when the operator's action went through as intended (green); false asks for
    /// attention (red, a beep).
    pub fn is_ok(self) -> bool {
        matches!(
            self,
            Outcome::Held | Outcome::AlreadyHeld | Outcome::ReasonSet | Outcome::Retrieve
        )
    }
}

/// The answer shown to the clerk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub outcome: Outcome,
    pub ok: bool,
    /// What to do, in French, one line.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub piece_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_number: Option<String>,
    /// The reason in force after this scan (the station keeps sending it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

fn answer(outcome: Outcome, message: String) -> Answer {
    Answer {
        outcome,
        ok: outcome.is_ok(),
        message,
        slot: None,
        piece_id: None,
        card_number: None,
        reason: None,
    }
}

/// Answers one scan. `reason` is the reason in force at the station; `decision_wait_ms` how
/// long a held card waits for its holder.
pub async fn handle(
    store: &Store,
    by: Scanner<'_>,
    code: &str,
    reason: Option<ReturnReason>,
    decision_wait_ms: i64,
) -> Result<Answer, ReturnError> {
    let scan = MailroomScan::read(code);
    let in_force = match &scan {
        MailroomScan::Reason(r) => Some(*r),
        _ => reason,
    };
    let mut a = match scan {
        MailroomScan::Reason(r) => answer(
            Outcome::ReasonSet,
            format!(
                "MOTIF : {} — scannez maintenant les plis de ce motif",
                r.label_fr()
            ),
        ),
        MailroomScan::Piece(id) => {
            let Some(reason) = reason else {
                // A new carrier for a card in a slot needs no reason: nothing is recorded.
                if let Some(a) = retrieval(store, &id.to_string()).await? {
                    return Ok(a);
                }
                let mut a = answer(
                    Outcome::ReasonNeeded,
                    format!(
                        "MOTIF ? Pli {id} non enregistré : scannez d'abord le motif coché sur \
                         l'étiquette de La Poste (feuille des motifs), puis le pli"
                    ),
                );
                a.piece_id = Some(id.to_string());
                return Ok(a);
            };
            piece(store, by, &id.to_string(), reason, decision_wait_ms).await?
        }
        MailroomScan::Coupon(c) => answer(
            Outcome::QualityCoupon,
            format!(
                "COUPON RETOUR {c} (carte {}) : retour qualité, transmettre le pli fermé au \
                 service qualité ; rien enregistré ici",
                c.card()
            ),
        ),
        MailroomScan::Card(n) => answer(
            Outcome::CardNotPiece,
            format!(
                "Numéro de carte {n} : scannez le code du pli (sur la lettre, dans la fenêtre), \
                 pas la carte ; rien enregistré"
            ),
        ),
        MailroomScan::Glued(parts) => answer(
            Outcome::Glued,
            format!(
                "DEUX CODES COLLÉS ({}) : rien enregistré, rescannez chaque code seul",
                parts.join(" + ")
            ),
        ),
        MailroomScan::Unknown(raw) => {
            tracing::warn!(station = by.station, code = %raw.escape_debug(), "unknown code scanned in the mailroom");
            answer(
                Outcome::UnknownCode,
                format!(
                    "CODE INCONNU « {} » : rien enregistré, mettez le pli de côté",
                    raw.escape_debug()
                ),
            )
        }
    };
    a.reason = in_force.map(ReturnReason::as_str);
    Ok(a)
}

/// The answer to the new carrier of a card waiting in a slot: take the card out for the
/// inserting station. `None` when `piece_id` is no such carrier.
async fn retrieval(store: &Store, piece_id: &str) -> Result<Option<Answer>, ReturnError> {
    let Some((card_number, slot)) = store.retrieval_for(piece_id).await? else {
        return Ok(None);
    };
    let mut a = answer(
        Outcome::Retrieve,
        format!(
            "RETRAIT — sortez la carte {card_number} de la CASE {slot} et portez-la avec ce pli \
             {piece_id} au poste d'insertion"
        ),
    );
    a.slot = Some(slot);
    a.piece_id = Some(piece_id.to_string());
    a.card_number = Some(card_number);
    Ok(Some(a))
}

async fn piece(
    store: &Store,
    by: Scanner<'_>,
    piece_id: &str,
    reason: ReturnReason,
    decision_wait_ms: i64,
) -> Result<Answer, ReturnError> {
    let outcome = match store
        .record_return(piece_id, reason, by, decision_wait_ms)
        .await
    {
        Ok(o) => o,
        Err(ReturnError::UnknownPiece(id)) => {
            tracing::warn!(station = by.station, piece_id = %id, "unknown piece scanned in the mailroom");
            let mut a = answer(
                Outcome::UnknownPiece,
                format!(
                    "PLI INCONNU {id} : pas un pli du bureau, rien enregistré, mettez-le de côté"
                ),
            );
            a.piece_id = Some(id);
            return Ok(a);
        }
        Err(ReturnError::NotPosted { piece_id, state }) => {
            if let Some(a) = retrieval(store, &piece_id).await? {
                return Ok(a);
            }
            let mut a = answer(
                Outcome::NotPosted,
                format!(
                    "PLI {piece_id} JAMAIS EXPÉDIÉ (état {state}) : rien enregistré, remettez-le \
                     au superviseur"
                ),
            );
            a.piece_id = Some(piece_id);
            return Ok(a);
        }
        Err(e) => return Err(e),
    };
    Ok(match outcome {
        ReturnOutcome::Held {
            piece_id,
            card_number,
            slot,
            reason,
            now,
        } => {
            let mut a = if now {
                answer(
                    Outcome::Held,
                    format!(
                        "CASE {slot} — rangez la carte {card_number} (pli {piece_id}, motif : {})",
                        reason.label_fr()
                    ),
                )
            } else {
                answer(
                    Outcome::AlreadyHeld,
                    format!(
                        "DÉJÀ ENREGISTRÉ — pli {piece_id} : carte {card_number} en CASE {slot} ; \
                         rien changé"
                    ),
                )
            };
            a.slot = Some(slot);
            a.piece_id = Some(piece_id);
            a.card_number = Some(card_number);
            a
        }
        ReturnOutcome::ToDestruction {
            piece_id,
            card_number,
            card_state,
            superseded_by,
            now,
        } => {
            let why = match superseded_by {
                Some(successor) => format!("remplacée par la carte {successor}"),
                None => card_state,
            };
            let mut a = answer(
                Outcome::ToDestruction,
                format!(
                    "BAC DESTRUCTION — carte {card_number} plus valable ({why}) : ne pas \
                     ranger{}",
                    if now { "" } else { " (déjà enregistré)" }
                ),
            );
            a.piece_id = Some(piece_id);
            a.card_number = Some(card_number);
            a
        }
        ReturnOutcome::AlreadySettled { piece_id, state } => {
            let mut a = answer(
                Outcome::AlreadySettled,
                format!(
                    "PLI {piece_id} DÉJÀ TRAITÉ ({state}) : ancienne enveloppe, rien changé ; \
                     remettez-la au superviseur"
                ),
            );
            a.piece_id = Some(piece_id);
            a
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_told_apart() {
        assert!(matches!(
            MailroomScan::read("LA 471 108 151 FR"),
            MailroomScan::Piece(_)
        ));
        assert_eq!(
            MailroomScan::read("pnd-npai"),
            MailroomScan::Reason(ReturnReason::Npai)
        );
        assert!(matches!(
            MailroomScan::read("LA47110815"),
            MailroomScan::Unknown(_)
        ));
        assert!(matches!(MailroomScan::read(""), MailroomScan::Unknown(_)));
    }

    #[test]
    fn two_codes_glued_together_are_never_one() {
        assert_eq!(
            MailroomScan::read("LA471108151FRAB000717581FR"),
            MailroomScan::Glued(vec!["LA471108151FR".into(), "AB000717581FR".into()])
        );
        assert_eq!(
            MailroomScan::read("PND-NPAILA471108151FR"),
            MailroomScan::Glued(vec!["PND-NPAI".into(), "LA471108151FR".into()])
        );
    }

    #[test]
    fn only_a_done_action_is_ok() {
        let ok: Vec<Outcome> = [
            Outcome::Held,
            Outcome::AlreadyHeld,
            Outcome::ToDestruction,
            Outcome::AlreadySettled,
            Outcome::Retrieve,
            Outcome::NotPosted,
            Outcome::UnknownPiece,
            Outcome::ReasonSet,
            Outcome::ReasonNeeded,
            Outcome::QualityCoupon,
            Outcome::CardNotPiece,
            Outcome::Glued,
            Outcome::UnknownCode,
        ]
        .into_iter()
        .filter(|o| o.is_ok())
        .collect();
        assert_eq!(
            ok,
            [
                Outcome::Held,
                Outcome::AlreadyHeld,
                Outcome::Retrieve,
                Outcome::ReasonSet
            ]
        );
    }
}
