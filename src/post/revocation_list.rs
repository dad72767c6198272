//! The revocation list as files for the bodies that check cards: a CSV for people and
//! spreadsheets (cells neutralised against formulas) and the same list as a JSON Web
//! Signature (RFC 7515, flattened JSON serialization, ES256) signed by the document-signer
//! key with its certificate in `x5c`, so a relying party verifies the list with the same
//! trust it already has in the cards' EF.SOD.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use der::Encode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::chip::signer::{DocumentSigner, SignerError};
use crate::clock::rfc3339;
use crate::post::cell;
use crate::store::revocations::Revocation;

/// Why the list could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("signing the list: {0}")]
    Sign(#[from] SignerError),
    #[error("encoding the signer certificate: {0}")]
    Certificate(String),
}

/// The CSV: `card_number,reason,revoked_at`, one row per revoked number, sorted.
pub fn csv(list: &[Revocation]) -> Result<Vec<u8>, ListError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(["card_number", "reason", "revoked_at"])?;
    for r in list {
        w.write_record([
            cell::text(&r.card_number).as_ref(),
            cell::text(&r.reason).as_ref(),
            rfc3339(r.revoked_at).as_str(),
        ])?;
    }
    w.into_inner()
        .map_err(|e| ListError::Csv(csv::Error::from(e.into_error())))
}

/// The payload that is signed: issuer, time of issue and the list.
pub fn payload(list: &[Revocation], issuer: &str, issued_at: i64) -> Value {
    json!({
        "type": "cqc-revocation-list",
        "issuer": issuer,
        "issued_at": rfc3339(issued_at),
        "count": list.len(),
        "revoked": list.iter().map(|r| json!({
            "card_number": r.card_number,
            "reason": r.reason,
            "revoked_at": rfc3339(r.revoked_at),
        })).collect::<Vec<_>>(),
    })
}

/// The JWS (flattened JSON serialization) of `payload`, signed with ES256.
pub fn jws(payload: &Value, signer: &dyn DocumentSigner) -> Result<Value, ListError> {
    let cert = signer
        .certificate()
        .to_der()
        .map_err(|e| ListError::Certificate(e.to_string()))?;
    let protected = json!({ "alg": "ES256", "typ": "JWT", "x5c": [STANDARD.encode(cert)] });
    let protected = URL_SAFE_NO_PAD.encode(protected.to_string());
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    let signing_input = format!("{protected}.{payload}");
    let digest: [u8; 32] = Sha256::digest(signing_input.as_bytes()).into();
    // ES256 signatures are the raw 64-byte r || s, not DER (RFC 7518 §3.4).
    let signature = signer.sign_digest(&digest)?.to_bytes();
    Ok(json!({
        "protected": protected,
        "payload": payload,
        "signature": URL_SAFE_NO_PAD.encode(signature),
    }))
}
