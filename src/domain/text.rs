//! Text helpers shared by the domain rules: Unicode normalisation and accent folding.
//!
//! Names arrive from the portal in either NFC (precomposed `é`) or NFD (`e` + combining acute);
//! both must compare, print and fit the same, so everything is normalised to NFC on entry.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Canonical composition (NFC), the form every stored name uses.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// Removes diacritics and maps the Latin letters that have no decomposition (`Ł`, `Ø`, `ß`,
/// `Đ`, `Æ`, `Œ` ...) to their usual ASCII transcription. Used where La Poste asks for capitals
/// without accents.
pub fn fold_to_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'Ł' => out.push('L'),
            'ł' => out.push('l'),
            'Ø' => out.push('O'),
            'ø' => out.push('o'),
            'Đ' | 'Ð' => out.push('D'),
            'đ' | 'ð' => out.push('d'),
            'Ħ' => out.push('H'),
            'ħ' => out.push('h'),
            'Þ' => out.push_str("TH"),
            'þ' => out.push_str("th"),
            'ß' => out.push_str("ss"),
            'ẞ' => out.push_str("SS"),
            'Æ' => out.push_str("AE"),
            'æ' => out.push_str("ae"),
            'Œ' => out.push_str("OE"),
            'œ' => out.push_str("oe"),
            'ı' => out.push('i'),
            _ => out.push(c),
        }
    }
    out
}

/// Collapses runs of white space into one space and trims both ends.
pub fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Number of characters as a reader counts them (NFC scalar values), the unit of the
/// 38-character address line and of the card's field widths.
pub fn char_len(s: &str) -> usize {
    s.nfc().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_european_latin_to_ascii() {
        assert_eq!(fold_to_ascii("Łukasz Żółkiewski"), "Lukasz Zolkiewski");
        assert_eq!(fold_to_ascii("Ștefan Păun"), "Stefan Paun");
        assert_eq!(fold_to_ascii("Zoltán Kővári"), "Zoltan Kovari");
        assert_eq!(fold_to_ascii("Straße Œuvre"), "Strasse OEuvre");
    }

    #[test]
    fn nfd_and_nfc_become_the_same_string() {
        let nfd = "Ele\u{0301}onore";
        assert_eq!(nfc(nfd), "El\u{e9}onore");
        assert_eq!(char_len(nfd), 8);
    }

    #[test]
    fn collapses_spaces() {
        assert_eq!(
            collapse_spaces("  12   rue \t des  Lilas "),
            "12 rue des Lilas"
        );
    }
}
