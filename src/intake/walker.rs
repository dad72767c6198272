//! A JSON walker that collects every problem instead of stopping at the first.
//!
//! serde's typed deserialisation reports one error and gives up; the portal contract wants all
//! of them, each with its path. The walker reads a `serde_json::Value` field by field, records
//! violations as it goes and keeps walking past them.

use serde_json::{Map, Value};
use time::Date;
use time::macros::format_description;

use crate::domain::violation::{Code, Violation, join_path};

/// Accumulates violations while walking a document.
#[derive(Debug, Default)]
pub struct Walker {
    pub errors: Vec<Violation>,
}

/// An object being read: its path and which keys it may hold.
pub struct Obj<'v> {
    pub path: String,
    map: &'v Map<String, Value>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Walker {
    pub fn push(&mut self, v: Violation) {
        self.errors.push(v);
    }

    pub fn extend(&mut self, vs: impl IntoIterator<Item = Violation>) {
        self.errors.extend(vs);
    }

    fn wrong_type(&mut self, path: &str, expected: &str, got: &Value) {
        self.push(Violation::new(
            path,
            Code::WrongType,
            format!("expected {expected}, got {}", type_name(got)),
        ));
    }

    /// Opens `v` as an object allowing only `known` keys; every other key is reported.
    pub fn object<'v>(&mut self, v: &'v Value, path: &str, known: &[&str]) -> Option<Obj<'v>> {
        let Value::Object(map) = v else {
            self.wrong_type(if path.is_empty() { "$" } else { path }, "an object", v);
            return None;
        };
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                self.push(Violation::new(
                    join_path(path, key),
                    Code::UnknownField,
                    format!("unknown field {key:?}; allowed here: {}", known.join(", ")),
                ));
            }
        }
        Some(Obj {
            path: path.to_string(),
            map,
        })
    }

    /// A field that must be present and not null.
    pub fn required<'v>(&mut self, o: &Obj<'v>, key: &str) -> Option<&'v Value> {
        match o.map.get(key) {
            None | Some(Value::Null) => {
                self.push(Violation::new(
                    o.child(key),
                    Code::MissingField,
                    format!("{key} is required"),
                ));
                None
            }
            Some(v) => Some(v),
        }
    }

    /// A field that may be absent or null.
    pub fn optional<'v>(&mut self, o: &Obj<'v>, key: &str) -> Option<&'v Value> {
        match o.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn as_str<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v str> {
        match v {
            Value::String(s) => Some(s),
            other => {
                self.wrong_type(path, "a string", other);
                None
            }
        }
    }

    pub fn as_array<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Vec<Value>> {
        match v {
            Value::Array(a) => Some(a),
            other => {
                self.wrong_type(path, "an array", other);
                None
            }
        }
    }

    pub fn req_str<'v>(&mut self, o: &Obj<'v>, key: &str) -> Option<&'v str> {
        let v = self.required(o, key)?;
        self.as_str(v, &o.child(key))
    }

    /// `Some(None)` when absent or null, `None` when present with the wrong type.
    pub fn opt_str<'v>(&mut self, o: &Obj<'v>, key: &str) -> Option<Option<&'v str>> {
        match self.optional(o, key) {
            None => Some(None),
            Some(v) => self.as_str(v, &o.child(key)).map(Some),
        }
    }

    pub fn req_date(&mut self, o: &Obj<'_>, key: &str) -> Option<Date> {
        let s = self.req_str(o, key)?;
        self.date(s, &o.child(key))
    }

    /// Parses `YYYY-MM-DD`, naming an impossible day as such (2026-02-30).
    pub fn date(&mut self, s: &str, path: &str) -> Option<Date> {
        match Date::parse(s, format_description!("[year]-[month]-[day]")) {
            Ok(d) => Some(d),
            Err(e) => {
                let why = match e {
                    time::error::Parse::TryFromParsed(_) => "is not a calendar date",
                    _ => "is not a date in the form YYYY-MM-DD",
                };
                self.push(Violation::new(
                    path,
                    Code::InvalidDate,
                    format!("{s:?} {why}"),
                ));
                None
            }
        }
    }

    /// Reads an enumerated string value.
    pub fn enumerated<T>(
        &mut self,
        o: &Obj<'_>,
        key: &str,
        allowed: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let s = self.req_str(o, key)?;
        let r = parse(s);
        if r.is_none() {
            self.push(Violation::new(
                o.child(key),
                Code::InvalidValue,
                format!("{s:?} is not one of: {}", allowed.join(", ")),
            ));
        }
        r
    }
}

impl Obj<'_> {
    pub fn child(&self, key: &str) -> String {
        join_path(&self.path, key)
    }

    pub fn has(&self, key: &str) -> bool {
        !matches!(self.map.get(key), None | Some(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_unknown_missing_and_wrong_types_together() {
        let v = json!({"a": 1, "b": null, "zzz": true});
        let mut w = Walker::default();
        let o = w.object(&v, "", &["a", "b", "c"]).unwrap();
        assert_eq!(w.req_str(&o, "a"), None);
        assert_eq!(w.req_str(&o, "b"), None);
        assert_eq!(w.opt_str(&o, "c"), Some(None));
        let codes: Vec<_> = w.errors.iter().map(|e| (e.path.as_str(), e.code)).collect();
        assert_eq!(
            codes,
            vec![
                ("zzz", Code::UnknownField),
                ("a", Code::WrongType),
                ("b", Code::MissingField)
            ]
        );
    }

    #[test]
    fn impossible_and_malformed_dates_are_told_apart() {
        let mut w = Walker::default();
        assert!(w.date("2026-02-30", "d").is_none());
        assert!(w.date("30/01/2026", "d").is_none());
        assert!(w.date("2024-02-29", "d").is_some());
        assert!(w.errors[0].message.contains("not a calendar date"));
        assert!(w.errors[1].message.contains("YYYY-MM-DD"));
    }
}
