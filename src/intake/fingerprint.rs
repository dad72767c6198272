//! The fingerprint of a request body: SHA-256 of a canonical encoding of its JSON value.
//!
//! Idempotency compares *content*, not bytes: the portal may retry with its keys in another
//! order or other white space and still mean the same request. The encoding hashed is our
//! own, unambiguous and cheap: a type tag per value, strings as their length and raw UTF-8
//! bytes (no escaping pass over 60 KB of base64), numbers as serde_json prints them, object
//! keys sorted by code point. It does not depend on whether some crate turned on
//! serde_json's `preserve_order`. Fingerprints are compared, never shown: the encoding may
//! change only together with a migration of stored fingerprints.

use serde_json::Value;
use sha2::{Digest, Sha256};

struct HashWriter(Sha256);

/// Hex SHA-256 of the canonical form of `v`.
pub fn fingerprint(v: &Value) -> String {
    let mut w = HashWriter(Sha256::new());
    write_canonical(v, &mut w);
    hex::encode(w.0.finalize())
}

fn write_canonical(v: &Value, w: &mut HashWriter) {
    match v {
        Value::Null => w.0.update(b"n"),
        Value::Bool(b) => w.0.update(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            let text = n.to_string();
            w.0.update(b"#");
            bytes(&text, w);
        }
        Value::String(s) => {
            w.0.update(b"s");
            bytes(s, w);
        }
        Value::Array(items) => {
            w.0.update(b"[");
            w.0.update((items.len() as u64).to_be_bytes());
            for item in items {
                write_canonical(item, w);
            }
        }
        Value::Object(map) => {
            w.0.update(b"{");
            w.0.update((map.len() as u64).to_be_bytes());
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                bytes(k, w);
                if let Some(item) = map.get(k) {
                    write_canonical(item, w);
                }
            }
        }
    }
}

/// A length-prefixed string: no two different sequences of strings encode alike.
fn bytes(s: &str, w: &mut HashWriter) {
    w.0.update((s.len() as u64).to_be_bytes());
    w.0.update(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_and_white_space_do_not_matter_but_values_do() {
        let a: Value =
            serde_json::from_str(r#"{"b": [1, {"y": 2, "x": "é"}], "a": null}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":null,"b":[1,{"x":"\u00e9","y":2}]}"#).unwrap();
        let c: Value = serde_json::from_str(r#"{"a":null,"b":[1,{"x":"e","y":2}]}"#).unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
        // Structure is part of the content: moving a value between keys or levels changes it.
        let d: Value = serde_json::from_str(r#"{"a":"bc"}"#).unwrap();
        let e: Value = serde_json::from_str(r#"{"ab":"c"}"#).unwrap();
        let f: Value = serde_json::from_str(r#"{"a":["bc"]}"#).unwrap();
        let g: Value = serde_json::from_str(r#"{"a":1}"#).unwrap();
        let h: Value = serde_json::from_str(r#"{"a":"1"}"#).unwrap();
        let all = [&d, &e, &f, &g, &h].map(fingerprint);
        for i in 0..all.len() {
            for j in i + 1..all.len() {
                assert_ne!(all[i], all[j]);
            }
        }
    }
}
