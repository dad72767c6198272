//! The way out of a held or stopped request (docs/corrections.md): the fixed catalogue of
//! reasons a supervisor gives when refusing one, the message for the driver that goes with it,
//! and what production tells the driver to correct when it stops a card.
//!
//! Codes are part of the portal contract (the portal keys on them, operators search for them):
//! never rename one, only add. Texts meant for the driver are French.

use std::fmt;

use super::text::{char_len, nfc};

/// What a card waits for when it leaves the production line before it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Waiting {
    /// `held_for_review`: the portal's expected dates differ from ours; a supervisor decides.
    Review,
    /// `stopped`: production cannot make it as accepted; the driver corrects, or a supervisor
    /// cancels (or releases it after a fix on our side).
    Correction,
}

/// Why a supervisor refuses a held request or cancels a stopped card. A fixed catalogue so the
/// portal can act on the code; the driver reads the message the supervisor writes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewReason {
    /// The training declared does not support the validity the portal expected.
    TrainingNotEstablished,
    /// The previous card declared does not match our records (number, expiry).
    PreviousCardInconsistent,
    /// The dates of the request contradict each other.
    DatesInconsistent,
    /// Another request for the same driver is already being made.
    DuplicateRequest,
    /// The driver asked us to stop.
    WithdrawnByDriver,
    /// A stopped card waited for a correction that never came.
    NoCorrectionReceived,
    /// A stopped card cannot be made even with the driver's help.
    CannotBeProduced,
    /// Anything else: the message says what.
    Other,
}

impl ReviewReason {
    pub const ALL: [ReviewReason; 8] = [
        ReviewReason::TrainingNotEstablished,
        ReviewReason::PreviousCardInconsistent,
        ReviewReason::DatesInconsistent,
        ReviewReason::DuplicateRequest,
        ReviewReason::WithdrawnByDriver,
        ReviewReason::NoCorrectionReceived,
        ReviewReason::CannotBeProduced,
        ReviewReason::Other,
    ];

    /// The stable code sent to the portal and written to the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewReason::TrainingNotEstablished => "training_not_established",
            ReviewReason::PreviousCardInconsistent => "previous_card_inconsistent",
            ReviewReason::DatesInconsistent => "dates_inconsistent",
            ReviewReason::DuplicateRequest => "duplicate_request",
            ReviewReason::WithdrawnByDriver => "withdrawn_by_driver",
            ReviewReason::NoCorrectionReceived => "no_correction_received",
            ReviewReason::CannotBeProduced => "cannot_be_produced",
            ReviewReason::Other => "other",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == code)
    }

    /// The French label a supervisor picks from.
    pub fn label_fr(self) -> &'static str {
        match self {
            ReviewReason::TrainingNotEstablished => "Formation déclarée non établie",
            ReviewReason::PreviousCardInconsistent => "Carte précédente incohérente",
            ReviewReason::DatesInconsistent => "Dates de la demande incohérentes",
            ReviewReason::DuplicateRequest => "Demande en double",
            ReviewReason::WithdrawnByDriver => "Retrait à la demande du conducteur",
            ReviewReason::NoCorrectionReceived => "Aucune correction reçue",
            ReviewReason::CannotBeProduced => "Carte impossible à fabriquer",
            ReviewReason::Other => "Autre motif",
        }
    }

    /// Whether this reason makes sense for a card waiting for `what`: the dates of a held
    /// request are judged, a stopped card waits for its driver.
    pub fn fits(self, what: Waiting) -> bool {
        use ReviewReason as R;
        match what {
            Waiting::Review => !matches!(self, R::NoCorrectionReceived | R::CannotBeProduced),
            Waiting::Correction => matches!(
                self,
                R::NoCorrectionReceived
                    | R::CannotBeProduced
                    | R::DuplicateRequest
                    | R::WithdrawnByDriver
                    | R::Other
            ),
        }
    }

    /// The reasons offered for a card waiting for `what`, in catalogue order.
    pub fn offered(what: Waiting) -> impl Iterator<Item = ReviewReason> {
        Self::ALL.into_iter().filter(move |r| r.fits(what))
    }
}

impl fmt::Display for ReviewReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest message to the driver, in characters: a few sentences, not a letter.
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// The supervisor's message to the driver, in French: what was decided and what to do next.
/// Sent to the portal with the decision; kept out of the audit trail (it may name the person),
/// which records its fingerprint instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverMessage(String);

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the message for the driver is empty: write what was decided and what to do next")]
    Empty,
    #[error("the message for the driver has {0} characters; at most {MAX_MESSAGE_CHARS}")]
    TooLong(usize),
    #[error("the message for the driver holds a control character (U+{0:04X})")]
    Control(u32),
}

impl DriverMessage {
    /// NFC, line ends made `\n`, trimmed; tabs and other control characters refused, since
    /// the portal shows the text as it is.
    pub fn parse(raw: &str) -> Result<Self, MessageError> {
        let s = nfc(raw).replace("\r\n", "\n").replace('\r', "\n");
        let s = s.trim();
        if s.is_empty() {
            return Err(MessageError::Empty);
        }
        if let Some(c) = s.chars().find(|&c| c.is_control() && c != '\n') {
            return Err(MessageError::Control(c as u32));
        }
        let n = char_len(s);
        if n > MAX_MESSAGE_CHARS {
            return Err(MessageError::TooLong(n));
        }
        Ok(DriverMessage(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why production stopped a card, as the portal receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopCode {
    /// A text of the request does not fit its box, even at the smallest size, on every line
    /// the layout allows, after the allowed abbreviations.
    TextDoesNotFit,
    /// A character of the request has no glyph in the card's font.
    MissingGlyph,
    /// The photo cannot be prepared for the card (decoding, size, framing).
    PhotoUnusable,
    /// The signature cannot be prepared for the card.
    SignatureUnusable,
    /// The card record lacks data it needs (purged, damaged): ours to fix, not the driver's.
    DataMissing,
    /// Our layout or configuration cannot draw the card: ours to fix, not the driver's.
    LayoutError,
}

impl StopCode {
    pub const ALL: [StopCode; 6] = [
        StopCode::TextDoesNotFit,
        StopCode::MissingGlyph,
        StopCode::PhotoUnusable,
        StopCode::SignatureUnusable,
        StopCode::DataMissing,
        StopCode::LayoutError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StopCode::TextDoesNotFit => "text_does_not_fit",
            StopCode::MissingGlyph => "missing_glyph",
            StopCode::PhotoUnusable => "photo_unusable",
            StopCode::SignatureUnusable => "signature_unusable",
            StopCode::DataMissing => "data_missing",
            StopCode::LayoutError => "layout_error",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// For the console.
    pub fn label_fr(self) -> &'static str {
        match self {
            StopCode::TextDoesNotFit => "texte trop long pour la carte",
            StopCode::MissingGlyph => "caractère impossible à imprimer",
            StopCode::PhotoUnusable => "photo inutilisable",
            StopCode::SignatureUnusable => "signature inutilisable",
            StopCode::DataMissing => "données de la carte manquantes",
            StopCode::LayoutError => "erreur de mise en page (de notre fait)",
        }
    }
}

impl fmt::Display for StopCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field of the request the driver can correct (`POST /v1/requests/{id}/correction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestField {
    Surname,
    GivenNames,
    BirthPlace,
    Photo,
    Signature,
}

impl RequestField {
    pub const ALL: [RequestField; 5] = [
        RequestField::Surname,
        RequestField::GivenNames,
        RequestField::BirthPlace,
        RequestField::Photo,
        RequestField::Signature,
    ];

    /// The path of the field in a request document, as in intake's violations.
    pub fn path(self) -> &'static str {
        match self {
            RequestField::Surname => "holder.surname",
            RequestField::GivenNames => "holder.given_names",
            RequestField::BirthPlace => "holder.birth_place",
            RequestField::Photo => "photo",
            RequestField::Signature => "signature",
        }
    }

    pub fn parse(path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.path() == path)
    }

    /// "votre …" in a sentence for the driver.
    pub fn name_fr(self) -> &'static str {
        match self {
            RequestField::Surname => "nom",
            RequestField::GivenNames => "prénom(s)",
            RequestField::BirthPlace => "lieu de naissance",
            RequestField::Photo => "photo",
            RequestField::Signature => "signature",
        }
    }
}

/// Production's account of a stopped card: the code, the request fields the driver must
/// correct (none when the fault is ours) and a detail for operators. The detail never repeats
/// the text that failed (it is the holder's name): it goes to the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub code: StopCode,
    pub fields: Vec<RequestField>,
    pub detail: String,
}

impl Stop {
    pub fn new(code: StopCode, fields: Vec<RequestField>, detail: impl Into<String>) -> Stop {
        Stop {
            code,
            fields,
            detail: detail.into(),
        }
    }

    /// Whether the driver can do something about it.
    pub fn driver_can_correct(&self) -> bool {
        !self.fields.is_empty()
    }

    /// The paths of the fields to correct.
    pub fn paths(&self) -> Vec<&'static str> {
        self.fields.iter().map(|f| f.path()).collect()
    }

    /// What the portal shows the driver, in French.
    pub fn message_fr(&self) -> String {
        let which = self
            .fields
            .iter()
            .map(|f| format!("votre {}", f.name_fr()))
            .collect::<Vec<_>>()
            .join(", ");
        match self.code {
            StopCode::TextDoesNotFit => format!(
                "La carte ne peut pas être imprimée : {which} ne tient pas dans la place prévue, \
                 même en petits caractères et abrégé. Envoyez-le sous la forme la plus courte \
                 que permet votre état civil (par exemple sans les prénoms secondaires)."
            ),
            StopCode::MissingGlyph => format!(
                "La carte ne peut pas être imprimée : un caractère de {which} n’existe pas dans \
                 la police de la carte. Vérifiez l’orthographe et envoyez la forme corrigée."
            ),
            StopCode::PhotoUnusable => "La photo ne peut pas être utilisée pour la carte. \
                 Envoyez une nouvelle photo d’identité, nette, de face, au format portrait."
                .to_string(),
            StopCode::SignatureUnusable => "La signature ne peut pas être utilisée pour la carte. \
                 Envoyez une nouvelle signature, à l’encre foncée sur fond blanc."
                .to_string(),
            StopCode::DataMissing | StopCode::LayoutError => {
                "La fabrication de votre carte est suspendue pour une raison technique qui ne \
                 dépend pas de vous. Nous la reprenons dès que possible ; vous n’avez rien à faire."
                    .to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        for r in ReviewReason::ALL {
            assert_eq!(ReviewReason::parse(r.as_str()), Some(r));
            // Every reason is offered for some waiting card.
            assert!(
                r.fits(Waiting::Review) || r.fits(Waiting::Correction),
                "{r}"
            );
        }
        for c in StopCode::ALL {
            assert_eq!(StopCode::parse(c.as_str()), Some(c));
        }
        for f in RequestField::ALL {
            assert_eq!(RequestField::parse(f.path()), Some(f));
        }
        assert_eq!(ReviewReason::parse("Other"), None);
        assert_eq!(StopCode::parse(""), None);
    }

    #[test]
    fn each_waiting_card_has_its_own_reasons() {
        assert!(ReviewReason::DatesInconsistent.fits(Waiting::Review));
        assert!(!ReviewReason::DatesInconsistent.fits(Waiting::Correction));
        assert!(ReviewReason::NoCorrectionReceived.fits(Waiting::Correction));
        assert!(!ReviewReason::NoCorrectionReceived.fits(Waiting::Review));
        assert!(
            ReviewReason::Other.fits(Waiting::Review)
                && ReviewReason::Other.fits(Waiting::Correction)
        );
    }

    #[test]
    fn a_message_is_trimmed_and_bounded() {
        assert_eq!(
            DriverMessage::parse("  Bonjour,\r\nrenvoyez la demande.  ")
                .unwrap()
                .as_str(),
            "Bonjour,\nrenvoyez la demande."
        );
        assert_eq!(DriverMessage::parse(" \n "), Err(MessageError::Empty));
        assert_eq!(DriverMessage::parse("a\tb"), Err(MessageError::Control(9)));
        let long = "é".repeat(MAX_MESSAGE_CHARS + 1);
        assert_eq!(
            DriverMessage::parse(&long),
            Err(MessageError::TooLong(MAX_MESSAGE_CHARS + 1))
        );
        assert!(DriverMessage::parse(&"é".repeat(MAX_MESSAGE_CHARS)).is_ok());
    }

    #[test]
    fn the_driver_is_told_which_field_and_only_when_it_is_theirs() {
        let s = Stop::new(StopCode::TextDoesNotFit, vec![RequestField::Surname], "x");
        assert!(s.driver_can_correct());
        assert!(s.message_fr().contains("votre nom ne tient pas"));
        assert_eq!(s.paths(), ["holder.surname"]);
        let ours = Stop::new(StopCode::LayoutError, vec![], "x");
        assert!(!ours.driver_can_correct());
        assert!(ours.message_fr().contains("rien à faire"));
    }
}
