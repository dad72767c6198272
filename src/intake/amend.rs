//! A stored request made whole again (its document and its pictures, as the portal sent them)
//! and corrections laid over it. The quality desk's paid replacement and the driver's
//! correction of a stopped card both start here, then go through intake's own validation:
//! what they produce is checked exactly as a new request would be.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use crate::store::{Store, StoreError};

/// The pictures kept apart from the document (`request_media`).
pub const PICTURES: [&str; 2] = ["photo", "signature"];

/// A stored request, whole.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The document with its pictures in base64, as in a request body.
    pub document: Map<String, Value>,
    /// When intake received it (Unix ms).
    pub received_at: i64,
}

/// The request `request_id` as the portal sent it, corrections taken since included; `None`
/// when the request is unknown or its document purged.
pub async fn stored_request(store: &Store, request_id: &str) -> Result<Option<Stored>, StoreError> {
    let Some((Some(Value::Object(mut document)), received_at)) =
        store.request_document(request_id).await?
    else {
        return Ok(None);
    };
    with_pictures(store, request_id, &mut document).await?;
    Ok(Some(Stored {
        document,
        received_at,
    }))
}

/// Puts the stored pictures of `request_id` back into `doc`, in base64. A purged picture is
/// left out: validation then names it missing.
pub async fn with_pictures(
    store: &Store,
    request_id: &str,
    doc: &mut Map<String, Value>,
) -> Result<(), StoreError> {
    for role in PICTURES {
        if let Some(bytes) = store.request_picture(request_id, role).await? {
            doc.insert(role.into(), Value::String(STANDARD.encode(bytes)));
        }
    }
    Ok(())
}

/// Lays `corrections` over `doc`: each top-level key replaces the stored one, except `holder`,
/// whose fields replace the stored fields one by one (a correction of the surname keeps the
/// birth date). Whatever the result, validation decides.
pub fn lay_over(doc: &mut Map<String, Value>, corrections: &Map<String, Value>) {
    for (k, v) in corrections {
        match (doc.get_mut(k), v) {
            (Some(Value::Object(old)), Value::Object(new)) if k == "holder" => {
                for (hk, hv) in new {
                    old.insert(hk.clone(), hv.clone());
                }
            }
            _ => {
                doc.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_holder_is_corrected_field_by_field_and_the_rest_replaced() {
        let Value::Object(mut doc) = json!({
            "holder": { "surname": "A", "birth_date": "1984-04-12" },
            "photo": "old",
            "kind": "first_issue",
        }) else {
            unreachable!()
        };
        let Value::Object(c) = json!({ "holder": { "surname": "B" }, "photo": "new" }) else {
            unreachable!()
        };
        lay_over(&mut doc, &c);
        assert_eq!(
            Value::Object(doc),
            json!({
                "holder": { "surname": "B", "birth_date": "1984-04-12" },
                "photo": "new",
                "kind": "first_issue",
            })
        );
        // A holder that is not an object replaces the stored one: validation names it.
        let Value::Object(mut doc) = json!({ "holder": { "surname": "A" } }) else {
            unreachable!()
        };
        let Value::Object(c) = json!({ "holder": "B" }) else {
            unreachable!()
        };
        lay_over(&mut doc, &c);
        assert_eq!(doc["holder"], json!("B"));
    }
}
