//! Why an accepted request waits for a supervisor before anything is printed.
//!
//! A date that will be printed on a legal document is never guessed: when the portal expects
//! other dates than ours, when the previous card's dates differ from our record of what we
//! printed, or when the public texts leave a date open ([`Doubt`]), the request is accepted
//! but held. The supervisor sees both dates side by side and releases (ours are printed) or
//! rejects (the driver is told why). Codes are part of the portal contract
//! (docs/validity.md, "Review reasons").

use time::Date;

use super::qualification::Group;
use super::validity::{Doubt, DoubtKind};

/// One reason to hold a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewReason {
    /// The portal's `expected_expiry` is not our field 4b.
    ExpectedExpiry { expected: Date, computed: Date },
    /// The portal's `expected_code95` for a group is not our date.
    ExpectedCode95 {
        group: Group,
        expected: Date,
        computed: Date,
    },
    /// `previous_card.expiry` is not the field 4b we printed on that card.
    PreviousExpiry { portal: Date, ours: Date },
    /// A group's `previous_expiry` is not the date we printed on the previous card.
    PreviousCode95 {
        group: Group,
        portal: Date,
        ours: Date,
    },
    /// The texts leave the date open.
    Doubt(Doubt),
}

impl ReviewReason {
    /// Stable code, part of the portal contract.
    pub fn code(&self) -> &'static str {
        match self {
            ReviewReason::ExpectedExpiry { .. } => "expected_expiry_differs",
            ReviewReason::ExpectedCode95 { .. } => "expected_code95_differs",
            ReviewReason::PreviousExpiry { .. } => "previous_expiry_differs",
            ReviewReason::PreviousCode95 { .. } => "previous_code95_differs",
            ReviewReason::Doubt(d) => d.kind.as_str(),
        }
    }

    /// The group concerned; `None` for field 4b.
    pub fn group(&self) -> Option<Group> {
        match *self {
            ReviewReason::ExpectedCode95 { group, .. }
            | ReviewReason::PreviousCode95 { group, .. } => Some(group),
            ReviewReason::ExpectedExpiry { .. } | ReviewReason::PreviousExpiry { .. } => None,
            ReviewReason::Doubt(d) => d.group,
        }
    }

    /// (the date production holds or would print, the other date), for a side-by-side view.
    pub fn dates(&self) -> (Date, Date) {
        match *self {
            ReviewReason::ExpectedExpiry { expected, computed }
            | ReviewReason::ExpectedCode95 {
                expected, computed, ..
            } => (computed, expected),
            ReviewReason::PreviousExpiry { portal, ours }
            | ReviewReason::PreviousCode95 { portal, ours, .. } => (ours, portal),
            ReviewReason::Doubt(d) => (d.chosen, d.other),
        }
    }

    /// What the supervisor reads (French: the console's language).
    pub fn explain_fr(&self) -> String {
        let (ours, other) = self.dates();
        let what = match self.group() {
            Some(Group::Goods) => "la date du code 95 (marchandises)",
            Some(Group::Passengers) => "la date du code 95 (voyageurs)",
            None => "la date d'expiration (4b)",
        };
        match self {
            ReviewReason::ExpectedExpiry { .. } | ReviewReason::ExpectedCode95 { .. } => {
                format!("Le portail attend {other} pour {what} ; la production calcule {ours}.")
            }
            ReviewReason::PreviousExpiry { .. } | ReviewReason::PreviousCode95 { .. } => format!(
                "Le portail indique {other} pour {what} de la carte précédente ; nous avons imprimé {ours}."
            ),
            ReviewReason::Doubt(d) => format!(
                "{} Lecture retenue : {ours} ; autre lecture : {other}.",
                doubt_fr(d.kind)
            ),
        }
    }
}

/// The open question, in the supervisor's words.
fn doubt_fr(kind: DoubtKind) -> &'static str {
    match kind {
        DoubtKind::PeriodicWindowEdge => {
            "La FCO s'est achevée exactement un an avant l'échéance : l'article R. 3314-12 ne dit pas si ce premier jour est « dans l'année qui précède »."
        }
        DoubtKind::PeriodicBeforeDecree => {
            "La FCO s'est achevée avant le 1er février 2022 (fenêtre de six mois) ; aucune disposition transitoire n'a été trouvée pour la fenêtre d'un an."
        }
        DoubtKind::PasserelleAlignment => {
            "La passerelle est la formation la plus récente : l'article R. 3314-13 fixe la prochaine FCO cinq ans après elle, mais l'article R. 3314-12 fait courir la FCO anticipée du groupe déjà détenu à partir de l'échéance précédente, plus tardive."
        }
        DoubtKind::PeriodicWithoutPasserelle => {
            "La FCO de l'autre groupe ne couvre ce groupe, selon l'article R. 3314-13, que pour un titulaire de la passerelle."
        }
        DoubtKind::CardExpiry => {
            "Les deux groupes expirent à des dates différentes : aucun texte trouvé ne dit laquelle porte le champ 4b."
        }
    }
}

/// Our record of the previous card when we issued it: its field 4b and each group's date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousRecord {
    pub expiry: Date,
    pub groups: Vec<(Group, Date)>,
}

impl PreviousRecord {
    pub fn group(&self, group: Group) -> Option<Date> {
        self.groups
            .iter()
            .find(|(g, _)| *g == group)
            .map(|&(_, d)| d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn each_reason_has_its_code_group_and_both_dates() {
        let doubt = Doubt {
            kind: DoubtKind::PeriodicWindowEdge,
            group: Some(Group::Goods),
            chosen: date!(2031 - 09 - 15),
            other: date!(2030 - 09 - 15),
        };
        let rows = [
            (
                ReviewReason::ExpectedExpiry {
                    expected: date!(2031 - 01 - 01),
                    computed: date!(2031 - 02 - 01),
                },
                "expected_expiry_differs",
                None,
                (date!(2031 - 02 - 01), date!(2031 - 01 - 01)),
            ),
            (
                ReviewReason::PreviousCode95 {
                    group: Group::Passengers,
                    portal: date!(2027 - 01 - 01),
                    ours: date!(2027 - 05 - 10),
                },
                "previous_code95_differs",
                Some(Group::Passengers),
                (date!(2027 - 05 - 10), date!(2027 - 01 - 01)),
            ),
            (
                ReviewReason::Doubt(doubt),
                "periodic_window_edge",
                Some(Group::Goods),
                (date!(2031 - 09 - 15), date!(2030 - 09 - 15)),
            ),
        ];
        for (reason, code, group, dates) in rows {
            assert_eq!(reason.code(), code);
            assert_eq!(reason.group(), group);
            assert_eq!(reason.dates(), dates);
            let text = reason.explain_fr();
            assert!(text.contains(&dates.0.to_string()), "{text}");
            assert!(text.contains(&dates.1.to_string()), "{text}");
        }
    }
}
