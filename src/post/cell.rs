//! Text cells of the CSV files a bureau hands out (manifests, exports) made safe to open in a
//! spreadsheet: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is run
//! as a formula by Excel or LibreOffice ("CSV injection"). Such a cell gets a leading
//! apostrophe, which spreadsheets show as text and which a program reading the CSV can strip.
//! Quoting of separators and quotes is the `csv` writer's job, not this one.

use std::borrow::Cow;

/// The first characters a spreadsheet treats as the start of a formula.
const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `value`, or `'value` when a spreadsheet would run it.
pub fn text(value: &str) -> Cow<'_, str> {
    match value.chars().next() {
        Some(c) if TRIGGERS.contains(&c) => Cow::Owned(format!("'{value}")),
        _ => Cow::Borrowed(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_starts_are_neutralised_and_the_rest_left_alone() {
        let cases = [
            (
                "=HYPERLINK(\"http://x\",\"clic\")",
                "'=HYPERLINK(\"http://x\",\"clic\")",
            ),
            ("+33 1 23 45 67 89", "'+33 1 23 45 67 89"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("12 RUE DES LILAS", "12 RUE DES LILAS"),
            ("SAINT-ÉTIENNE", "SAINT-ÉTIENNE"),
            ("a=b", "a=b"),
            ("", ""),
            ("'déjà cité", "'déjà cité"),
        ];
        for (input, want) in cases {
            assert_eq!(text(input), want, "{input:?}");
        }
        assert!(matches!(text("LYON"), Cow::Borrowed(_)));
    }
}
