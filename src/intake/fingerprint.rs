//! The fingerprint of a request body: SHA-256 of its canonical JSON.
//!
//! Idempotency compares *content*, not bytes: the portal may retry with its keys in another
//! order or other white space and still mean the same request. Canonical form here: objects
//! with keys sorted by code point, no white space, strings and numbers as serde_json writes
//! them. It does not depend on whether some crate turned on serde_json's `preserve_order`.

use std::io::Write;

use serde_json::Value;
use sha2::{Digest, Sha256};

struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Hex SHA-256 of the canonical form of `v`.
pub fn fingerprint(v: &Value) -> String {
    let mut w = HashWriter(Sha256::new());
    write_canonical(v, &mut w);
    hex::encode(w.0.finalize())
}

fn write_canonical(v: &Value, w: &mut HashWriter) {
    match v {
        Value::Object(map) => {
            w.0.update(b"{");
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    w.0.update(b",");
                }
                // Writing into a hasher cannot fail.
                let _ = serde_json::to_writer(&mut *w, k);
                w.0.update(b":");
                if let Some(item) = map.get(k) {
                    write_canonical(item, w);
                }
            }
            w.0.update(b"}");
        }
        Value::Array(items) => {
            w.0.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    w.0.update(b",");
                }
                write_canonical(item, w);
            }
            w.0.update(b"]");
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *w, scalar);
        }
    }
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
    }
}
