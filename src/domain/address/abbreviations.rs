//! La Poste's standard abbreviations, and the word-by-word shortening that uses them.
//!
//! NF Z10-011 lets a line that does not fit be shortened with *standard* abbreviations only:
//! a sorting machine or a postman must be able to read `BD` as BOULEVARD without guessing,
//! so we never invent one (no truncation, no dropped vowels). The tables hold the forms of the
//! AFNOR / La Poste list of street types (the same codes INSEE and SIRENE use) and of the
//! titles and building words that La Poste abbreviates, written in capitals without accents
//! as lines 4 to 6 are. See `docs/address.md` for the list and its sources.

use super::super::text;

/// One standard abbreviation: the full form (one or more words, capitals, no accents, single
/// spaces) and the form La Poste prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abbreviation {
    pub long: &'static str,
    pub short: &'static str,
}

const fn ab(long: &'static str, short: &'static str) -> Abbreviation {
    Abbreviation { long, short }
}

/// Street types (*types de voie*). They are tried first because the type is the least
/// informative part of a street name: `BD` loses nothing, while a shortened title can.
pub static STREET_TYPES: &[Abbreviation] = &[
    ab("ALLEE", "ALL"),
    ab("AVENUE", "AV"),
    ab("BOULEVARD", "BD"),
    ab("CARREFOUR", "CAR"),
    ab("CENTRE COMMERCIAL", "CCAL"),
    ab("CHAUSSEE", "CHS"),
    ab("CHEMIN", "CHE"),
    ab("CHEMIN DEPARTEMENTAL", "CD"),
    ab("CORNICHE", "COR"),
    ab("COURS", "CRS"),
    ab("DESCENTE", "DSC"),
    ab("DOMAINE", "DOM"),
    ab("ECART", "ECA"),
    ab("ESPLANADE", "ESP"),
    ab("FAUBOURG", "FG"),
    ab("GRANDE RUE", "GR"),
    ab("HALLE", "HLE"),
    ab("HAMEAU", "HAM"),
    ab("IMPASSE", "IMP"),
    ab("LIEU DIT", "LD"),
    ab("LOTISSEMENT", "LOT"),
    ab("MARCHE", "MAR"),
    ab("MONTEE", "MTE"),
    ab("PARVIS", "PRV"),
    ab("PASSAGE", "PAS"),
    ab("PLACE", "PL"),
    ab("PLAINE", "PLN"),
    ab("PLATEAU", "PLT"),
    ab("PROMENADE", "PRO"),
    ab("QUARTIER", "QUA"),
    ab("RESIDENCE", "RES"),
    ab("ROCADE", "ROC"),
    ab("ROND POINT", "RPT"),
    ab("ROUTE", "RTE"),
    ab("ROUTE DEPARTEMENTALE", "RD"),
    ab("ROUTE NATIONALE", "RN"),
    ab("RUELLE", "RLE"),
    ab("SENTE", "SEN"),
    ab("SENTIER", "SEN"),
    ab("SQUARE", "SQ"),
    ab("TERRE PLEIN", "TPL"),
    ab("TRAVERSE", "TRA"),
    ab("VILLA", "VLA"),
    ab("VILLAGE", "VLGE"),
    ab("VOIE COMMUNALE", "VC"),
    ab("ZONE ARTISANALE", "ZA"),
    ab("ZONE INDUSTRIELLE", "ZI"),
];

/// Other words La Poste abbreviates: titles found in street names, and the words of the
/// delivery-point and building lines (2 and 3).
pub static WORDS: &[Abbreviation] = &[
    ab("ADJUDANT", "ADJ"),
    ab("APPARTEMENT", "APP"),
    ab("BATIMENT", "BAT"),
    ab("BOITE POSTALE", "BP"),
    ab("CAPITAINE", "CNE"),
    ab("CENTRE", "CTRE"),
    ab("COLONEL", "COL"),
    ab("COMMANDANT", "CDT"),
    ab("DOCTEUR", "DR"),
    ab("ENTREE", "ENT"),
    ab("ESCALIER", "ESC"),
    ab("ETAGE", "ETG"),
    ab("GENERAL", "GAL"),
    ab("GRAND", "GD"),
    ab("GRANDE", "GDE"),
    ab("IMMEUBLE", "IMM"),
    ab("INGENIEUR", "ING"),
    ab("LIEUTENANT", "LT"),
    ab("LOGEMENT", "LOG"),
    ab("MARECHAL", "MAL"),
    ab("MONSEIGNEUR", "MGR"),
    ab("NOTRE DAME", "ND"),
    ab("PRESIDENT", "PDT"),
    ab("PROFESSEUR", "PR"),
    ab("REZ DE CHAUSSEE", "RDC"),
    ab("SAINT", "ST"),
    ab("SAINTE", "STE"),
    ab("SERGENT", "SGT"),
];

/// The only abbreviations allowed in a town name on the postcode line, as in La Poste's own
/// *libellés d'acheminement* (`ST MAUR DES FOSSES`).
pub static SAINTS: &[Abbreviation] = &[ab("SAINT", "ST"), ab("SAINTE", "STE")];

/// Width of a line made of `tokens` joined by single spaces, in characters (NFC).
fn width(tokens: &[String]) -> usize {
    let letters: usize = tokens.iter().map(|t| text::char_len(t)).sum();
    letters + tokens.len().saturating_sub(1)
}

/// The comparison key of a token: without the punctuation around it, folded to capitals
/// without accents, so that `Bâtiment,` on line 3 is recognised as BATIMENT.
fn key(token: &str) -> String {
    let core = token.trim_matches(|c: char| !c.is_alphanumeric());
    text::fold_to_ascii(core).to_uppercase()
}

/// The longest entry of `table` whose words are the tokens starting at `at`, with how many
/// tokens it covers.
fn longest_match(
    tokens: &[String],
    at: usize,
    table: &[Abbreviation],
) -> Option<(Abbreviation, usize)> {
    let mut best: Option<(Abbreviation, usize)> = None;
    for entry in table {
        let words: Vec<&str> = entry.long.split(' ').collect();
        let n = words.len();
        let Some(slice) = tokens.get(at..at + n) else {
            continue;
        };
        let matches = slice.iter().zip(&words).all(|(t, w)| key(t) == *w);
        if matches && best.is_none_or(|(_, len)| n > len) {
            best = Some((*entry, n));
        }
    }
    best
}

/// Shortens `line` (words separated by single spaces) with the abbreviations of `tables`,
/// one table after the other and word by word from the left, and stops as soon as the line
/// is at most `target` characters wide.
///
/// Stopping early matters: La Poste abbreviates only what is needed, because every
/// abbreviation makes the address a little harder to read for a person. The result may still
/// be wider than `target`; the caller decides whether that is an error. Punctuation around a
/// replaced word is kept (`BÂTIMENT,` becomes `BAT,`), since lines 2 and 3 may carry it.
pub fn shorten(line: &str, target: usize, tables: &[&[Abbreviation]]) -> String {
    let mut tokens: Vec<String> = line.split(' ').map(str::to_string).collect();
    for table in tables {
        let mut at = 0;
        while at < tokens.len() {
            if width(&tokens) <= target {
                return tokens.join(" ");
            }
            if let Some((entry, n)) = longest_match(&tokens, at, table) {
                let first = &tokens[at];
                let last = &tokens[at + n - 1];
                let lead_len = first.len()
                    - first
                        .trim_start_matches(|c: char| !c.is_alphanumeric())
                        .len();
                let trail_start = last.trim_end_matches(|c: char| !c.is_alphanumeric()).len();
                let replaced = format!(
                    "{}{}{}",
                    &first[..lead_len],
                    entry.short,
                    &last[trail_start..]
                );
                tokens.splice(at..at + n, [replaced]);
            }
            at += 1;
        }
    }
    tokens.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> impl Iterator<Item = &'static Abbreviation> {
        STREET_TYPES.iter().chain(WORDS).chain(SAINTS)
    }

    #[test]
    fn every_abbreviation_is_shorter_and_in_capitals_without_accents() {
        for a in all() {
            assert!(a.short.len() < a.long.len(), "{a:?} does not shorten");
            for s in [a.long, a.short] {
                assert!(
                    s.chars().all(|c| c.is_ascii_uppercase() || c == ' '),
                    "{s:?} is not plain capitals"
                );
                assert_eq!(s, text::collapse_spaces(s), "{s:?} has stray spaces");
            }
        }
    }

    #[test]
    fn no_full_form_is_listed_twice() {
        let mut longs: Vec<&str> = all().map(|a| a.long).collect();
        longs.sort_unstable();
        let before = longs.len();
        longs.dedup();
        // SAINT and SAINTE appear in WORDS and in SAINTS with the same forms.
        assert_eq!(before - longs.len(), SAINTS.len());
        for s in SAINTS {
            assert!(WORDS.contains(s));
        }
    }

    #[test]
    fn street_types_go_first_and_shortening_stops_once_it_fits() {
        let line = "1234 BOULEVARD DU GENERAL DE GAULLE";
        assert_eq!(
            shorten(line, 32, &[STREET_TYPES, WORDS]),
            "1234 BD DU GENERAL DE GAULLE"
        );
        assert_eq!(
            shorten(line, 20, &[STREET_TYPES, WORDS]),
            "1234 BD DU GAL DE GAULLE"
        );
        assert_eq!(shorten(line, 40, &[STREET_TYPES, WORDS]), line);
    }

    #[test]
    fn multi_word_forms_win_over_their_first_word() {
        assert_eq!(shorten("ROUTE NATIONALE 7", 5, &[STREET_TYPES]), "RN 7");
        assert_eq!(shorten("ROUTE DE LYON", 5, &[STREET_TYPES]), "RTE DE LYON");
        assert_eq!(shorten("12 GRANDE RUE", 5, &[STREET_TYPES, WORDS]), "12 GR");
    }

    #[test]
    fn accents_and_punctuation_around_a_word_are_tolerated_on_lines_2_and_3() {
        assert_eq!(
            shorten("BÂTIMENT, ESCALIER (ÉTAGE)", 10, &[STREET_TYPES, WORDS]),
            "BAT, ESC (ETG)"
        );
        assert_eq!(
            shorten("RÉSIDENCE DES PINS", 12, &[STREET_TYPES]),
            "RES DES PINS"
        );
    }

    #[test]
    fn words_that_only_contain_a_listed_word_are_left_alone() {
        assert_eq!(
            shorten("AVENUES SAINTES", 1, &[STREET_TYPES, WORDS]),
            "AVENUES SAINTES"
        );
    }
}
