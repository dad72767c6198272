//! The moment a card becomes its holder's: chip written and verified, body bound (the encoding
//! station, src/station/encode.rs). Three things happen in the station's transaction, so that
//! none can be seen without the others: the card moves to `personalised` (audited with the
//! chip's hashes), the renewal or replacement it is supersedes its predecessor
//! (src/store/succession.rs), and the portal is told (`card.personalised`).

use serde_json::{Value, json};

use super::card_groups::code95_map;
use super::cards::{self, CardRecord, TransitionError};
use super::{Tx, outbox, succession};
use crate::clock::rfc3339;
use crate::domain::lifecycle::{CardEvent, CardState};

/// Personalises `card` inside `tx`; `details` (chip serial, hashes...) go to the audit trail,
/// never to the portal.
pub async fn record(
    tx: &mut Tx,
    now: i64,
    card: &CardRecord,
    actor: &str,
    details: Value,
) -> Result<CardState, TransitionError> {
    let to = cards::apply(tx, now, card, CardEvent::Personalise, actor, None, details).await?;
    let previous = succession::successor_personalised(tx, now, card, actor).await?;
    let code95 = code95_map(&card.groups()?);
    outbox::push(
        tx,
        now,
        "card.personalised",
        payload(card, now, code95, previous.as_ref()),
    )
    .await?;
    Ok(to)
}

/// The event the portal receives: what it needs to update the driver's tracking, and no
/// personal data (the card number and dates are already in `request.accepted`).
fn payload(
    card: &CardRecord,
    now: i64,
    code95: Value,
    previous: Option<&succession::Predecessor>,
) -> Value {
    json!({
        "request_id": card.request_id,
        "card_number": card.card_number,
        "kind": card.kind,
        "personalised_at": rfc3339(now),
        "issue_date": card.issue_date,
        "expiry_date": card.expiry_date,
        // Each group's code-95 date, as in `request.accepted` and `GET /v1/requests/{id}`.
        "code95": code95,
        "previous_card": previous.map(|p| json!({
            "card_number": p.card_number,
            "state": p.state,
        })),
    })
}
