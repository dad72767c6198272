//! Stopping a card: the one way production leaves a card for a correction or a supervisor,
//! whichever stage (rendering, encoding) finds it cannot be made.

use serde_json::json;

use crate::domain::lifecycle::{CardEvent, CardState};
use crate::domain::review::Stop;
use crate::store::cards::{self, CardRecord, TransitionError};
use crate::store::outbox;

/// Stops `card` and tells the portal what the driver must correct (`card.stopped`), in the
/// caller's transaction. The audit record carries the code, the fields and a detail without
/// the text that failed: never the holder's name (docs/architecture.md, audit trail).
pub async fn stop_card(
    tx: &mut crate::store::Tx,
    now: i64,
    card: &CardRecord,
    stop: &Stop,
    actor: &str,
) -> Result<(), TransitionError> {
    let paths = stop.paths();
    cards::apply(
        tx,
        now,
        card,
        CardEvent::Stop,
        actor,
        Some(&format!("{}: {}", stop.code, stop.detail)),
        json!({ "stop": { "code": stop.code.as_str(), "fields": paths } }),
    )
    .await?;
    let mut data = json!({
        "request_id": card.request_id,
        "card_number": card.card_number,
        "status": CardState::Stopped.as_str(),
        "reason": stop.code.as_str(),
        "fields": paths,
        "message": stop.message_fr(),
    });
    if stop.driver_can_correct() {
        data["links"] = json!({
            "correction": format!("/v1/requests/{}/correction", card.request_id)
        });
    }
    outbox::push(tx, now, "card.stopped", data).await?;
    Ok(())
}
