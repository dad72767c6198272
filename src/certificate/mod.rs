//! The certificate of qualification (docs/certificate.md): the A4 PDF a driver shows, with an
//! identity document, while his card is made (arrêté du 18 janvier 2022; code des transports
//! R. 3314-27, R. 3315-2 II). Served to the portal by `GET
//! /v1/requests/{id}/certificate.pdf` and written by `cqcfab certificate`.
//!
//! - `acceptance`: which requests get one, and its date of establishment (recorded, stable);
//! - `fill`: the one function that turns the records into the certificate's data;
//! - `model`: that data, and the four-month validity rule (minors: from their majority);
//! - `page`: the page and its PDF.

pub mod acceptance;
pub mod fill;
pub mod model;
pub mod page;

use crate::domain::lifecycle::CardState;
use crate::store::{Store, StoreError};

pub use acceptance::Refusal;
pub use model::Certificate;

/// Who establishes the certificates when the configuration does not say
/// (`[certificate] issuer`): the bureau, as on every sheet it sends.
pub const DEFAULT_ISSUER: &str = crate::post::sheet::SENDER[0];

/// Why there is no certificate to give.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("no request {0}")]
    UnknownRequest(String),
    #[error("request {request_id} is {state}: {}", refusal.explain())]
    NotAccepted {
        request_id: String,
        state: String,
        refusal: Refusal,
    },
    #[error(transparent)]
    Fill(#[from] fill::FillError),
    #[error("request {request_id}: {what}")]
    Corrupt { request_id: String, what: String },
    #[error(transparent)]
    Page(#[from] page::PageError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The certificate of `request_id`, established by `issuer`; refused for a request that is
/// not accepted (`acceptance::accepted`).
pub async fn for_request(
    store: &Store,
    request_id: &str,
    issuer: &str,
) -> Result<Certificate, CertificateError> {
    let card = store
        .card_by_request(request_id)
        .await?
        .ok_or_else(|| CertificateError::UnknownRequest(request_id.to_string()))?;
    let corrupt = |what: String| CertificateError::Corrupt {
        request_id: request_id.to_string(),
        what,
    };
    let state = CardState::parse(&card.state)
        .ok_or_else(|| corrupt(format!("unknown card state {:?}", card.state)))?;
    acceptance::accepted(state).map_err(|refusal| CertificateError::NotAccepted {
        request_id: request_id.to_string(),
        state: card.state.clone(),
        refusal,
    })?;
    let history = store.audit_history("card", &card.card_number).await?;
    let at = acceptance::accepted_at(&history).ok_or_else(|| {
        corrupt(format!(
            "card {} is {} but no approval is recorded",
            card.card_number, card.state
        ))
    })?;
    let document = match store.request_document(request_id).await? {
        Some(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| corrupt(format!("stored request document: {e}")))?,
        ),
        None => None,
    };
    Ok(fill::from_records(
        &card,
        document.as_ref(),
        crate::clock::paris_date(at),
        issuer,
    )?)
}

/// The certificate as a PDF (CPU work: call it off the async workers).
pub fn render(c: &Certificate) -> Result<Vec<u8>, CertificateError> {
    let fonts = crate::render::fonts::fonts().map_err(|e| CertificateError::Corrupt {
        request_id: c.request_id.clone(),
        what: format!("the bundled fonts: {e}"),
    })?;
    Ok(page::pdf(c, fonts)?)
}
