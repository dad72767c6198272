//! Who pays for a defective card: the attribution rules of docs/quality.md, applied in order,
//! the first that matches decides. Written as one pure function so the table in the docs and
//! the table test below are the same rules.

use serde::{Deserialize, Serialize};

use super::diagnostic::{ChipState, DataVsRequest};

/// Why a declared defect is there, as the analyst found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Printing: colour, smudge, misregistration, missing field.
    Print,
    /// Lamination: bubbles, peeling, overlay lifting.
    Lamination,
    /// The chip fails without marks of damage.
    Chip,
    /// A wrong datum on the card.
    Data,
    /// Bent, cracked, cut, burnt, pierced: damage by the holder.
    PhysicalDamage,
    /// Worn by normal use (scratches, faded print from friction).
    Wear,
}

impl Cause {
    pub const ALL: [Cause; 6] = [
        Cause::Print,
        Cause::Lamination,
        Cause::Chip,
        Cause::Data,
        Cause::PhysicalDamage,
        Cause::Wear,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Print => "print",
            Cause::Lamination => "lamination",
            Cause::Chip => "chip",
            Cause::Data => "data",
            Cause::PhysicalDamage => "physical_damage",
            Cause::Wear => "wear",
        }
    }

    pub fn parse(s: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// A fault of making the card, whoever holds it now.
    fn is_manufacturing(self) -> bool {
        matches!(self, Cause::Print | Cause::Lamination | Cause::Chip)
    }

    /// What the holder did to the card.
    fn is_use(self) -> bool {
        matches!(self, Cause::PhysicalDamage | Cause::Wear)
    }
}

/// One defect the holder declared, as the analyst found it. A confirmed defect always has a
/// cause; an unconfirmed one may say what the analyst saw instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defect {
    /// What the holder named (photo, surname, chip, lamination …).
    pub element: String,
    pub finding: Finding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    Confirmed(Cause),
    NotConfirmed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Ours: a free replacement at once.
    ManufacturerFault,
    /// The holder's: the portal asks for a correction and the fee.
    HolderFault,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::ManufacturerFault => "manufacturer_fault",
            Verdict::HolderFault => "holder_fault",
        }
    }
}

/// A verdict and the rule (with what triggered it) that gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribution {
    pub verdict: Verdict,
    /// The rule's code (docs/quality.md), e.g. `data_differs_from_request`.
    pub rule: &'static str,
    /// The elements or fields behind it.
    pub because: Vec<String>,
}

fn decided(verdict: Verdict, rule: &'static str, because: Vec<String>) -> Attribution {
    Attribution {
        verdict,
        rule,
        because,
    }
}

/// The rules, in order (docs/quality.md):
/// 1. a chip not signed under our CSCA is not a card we made: holder;
/// 2. the card differs from the validated request: ours;
/// 3. a confirmed print, lamination or chip defect: ours;
/// 4. a chip altered or unreadable without confirmed damage by use: ours;
/// 5. a confirmed data defect on data as the holder submitted it: holder;
/// 6. confirmed damage by use: holder;
/// 7. nothing confirmed: holder (no defect found).
pub fn attribute(chip: ChipState, data: DataVsRequest, defects: &[Defect]) -> Attribution {
    use Verdict::{HolderFault as Holder, ManufacturerFault as Ours};
    let confirmed = |pred: fn(Cause) -> bool| -> Vec<String> {
        defects
            .iter()
            .filter(|d| matches!(d.finding, Finding::Confirmed(c) if pred(c)))
            .map(|d| d.element.clone())
            .collect()
    };
    if chip == ChipState::NotOurs {
        return decided(Holder, "not_issued_by_bureau", Vec::new());
    }
    if data == DataVsRequest::Differs {
        return decided(Ours, "data_differs_from_request", Vec::new());
    }
    let making = confirmed(Cause::is_manufacturing);
    if !making.is_empty() {
        return decided(Ours, "manufacturing_defect", making);
    }
    let used = confirmed(Cause::is_use);
    if matches!(chip, ChipState::Altered | ChipState::Unreadable) && used.is_empty() {
        return decided(
            Ours,
            "chip_failed_without_damage",
            vec![chip.as_str().into()],
        );
    }
    let data_defects = confirmed(|c| c == Cause::Data);
    if !data_defects.is_empty() {
        let rule = if data == DataVsRequest::Unavailable {
            "data_as_recorded_request_purged"
        } else {
            "data_as_submitted"
        };
        return decided(Holder, rule, data_defects);
    }
    if !used.is_empty() {
        return decided(Holder, "damage_by_use", used);
    }
    decided(Holder, "no_defect_found", Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChipState::{Altered, Intact, NotOurs, Unreadable};
    use DataVsRequest::{Differs, Matches, Unavailable};
    use Verdict::{HolderFault as H, ManufacturerFault as M};

    fn d(element: &str, cause: Option<Cause>) -> Defect {
        Defect {
            element: element.into(),
            finding: cause.map_or(Finding::NotConfirmed, Finding::Confirmed),
        }
    }

    #[test]
    fn the_rules_table() {
        use Cause::*;
        #[rustfmt::skip]
        type Row = (&'static str, ChipState, DataVsRequest, Vec<Defect>, Verdict, &'static str);
        let table: Vec<Row> = vec![
            (
                "counterfeit chip, even with a print defect",
                NotOurs,
                Matches,
                vec![d("photo", Some(Print))],
                H,
                "not_issued_by_bureau",
            ),
            (
                "card differs from the request, nothing declared",
                Intact,
                Differs,
                vec![],
                M,
                "data_differs_from_request",
            ),
            (
                "card differs from the request, holder also bent it",
                Intact,
                Differs,
                vec![d("carte", Some(PhysicalDamage))],
                M,
                "data_differs_from_request",
            ),
            (
                "print defect confirmed",
                Intact,
                Matches,
                vec![d("photo", Some(Print))],
                M,
                "manufacturing_defect",
            ),
            (
                "lamination confirmed beside wear",
                Intact,
                Matches,
                vec![d("film", Some(Lamination)), d("verso", Some(Wear))],
                M,
                "manufacturing_defect",
            ),
            (
                "chip defect confirmed",
                Intact,
                Matches,
                vec![d("puce", Some(Chip))],
                M,
                "manufacturing_defect",
            ),
            (
                "altered chip, no damage",
                Altered,
                Matches,
                vec![],
                M,
                "chip_failed_without_damage",
            ),
            (
                "unreadable chip, defect not confirmed",
                Unreadable,
                Matches,
                vec![d("puce", None)],
                M,
                "chip_failed_without_damage",
            ),
            (
                "unreadable chip on a cracked card",
                Unreadable,
                Matches,
                vec![d("puce", Some(PhysicalDamage))],
                H,
                "damage_by_use",
            ),
            (
                "data defect, card as submitted",
                Intact,
                Matches,
                vec![d("nom", Some(Data))],
                H,
                "data_as_submitted",
            ),
            (
                "data defect, request purged",
                Intact,
                Unavailable,
                vec![d("nom", Some(Data))],
                H,
                "data_as_recorded_request_purged",
            ),
            (
                "worn card",
                Intact,
                Matches,
                vec![d("recto", Some(Wear))],
                H,
                "damage_by_use",
            ),
            (
                "nothing confirmed",
                Intact,
                Matches,
                vec![d("photo", None), d("nom", None)],
                H,
                "no_defect_found",
            ),
            (
                "nothing declared, nothing found",
                Intact,
                Matches,
                vec![],
                H,
                "no_defect_found",
            ),
        ];
        for (case, chip, data, defects, verdict, rule) in table {
            let a = attribute(chip, data, &defects);
            assert_eq!((a.verdict, a.rule), (verdict, rule), "{case}");
        }
    }

    #[test]
    fn the_elements_behind_a_verdict_are_named() {
        let a = attribute(
            Intact,
            Matches,
            &[
                d("photo", Some(Cause::Print)),
                d("nom", None),
                d("film", Some(Cause::Lamination)),
            ],
        );
        assert_eq!(a.because, ["photo", "film"]);
    }

    #[test]
    fn causes_round_trip() {
        for c in Cause::ALL {
            assert_eq!(Cause::parse(c.as_str()), Some(c));
        }
        assert_eq!(Cause::parse("coffee"), None);
    }
}
