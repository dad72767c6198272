//! Field-level rule violations with stable codes.
//!
//! Intake must list *every* problem of a request in one answer (portal contract), so domain
//! parsers collect [`Violation`]s instead of stopping at the first. The code is a stable,
//! searchable name (`snake_case`) that the portal and operators key on; the message is for humans.

use std::fmt;

/// Stable identifiers of every rule a request can break. The `snake_case` name is part of the
/// portal contract: never rename one, only add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    // shape of the document
    MalformedJson,
    WrongType,
    UnknownField,
    MissingField,
    Empty,
    TooLong,
    // identifiers and enumerations
    InvalidRequestId,
    RequestConflict,
    InvalidValue,
    InvalidCharacters,
    InvalidLicenceNumber,
    InvalidCardNumber,
    // dates and validity
    InvalidDate,
    DateInFuture,
    ImplausibleBirthDate,
    TrainingTooOld,
    PreviousCardExpired,
    PreviousCardSuperseded,
    PreviousCardMismatch,
    // qualifications
    NoQualifications,
    TooManyQualifications,
    DuplicateGroup,
    NoCategories,
    CategoryNotInGroup,
    DuplicateCategory,
    // request kind coherence
    PreviousCardRequired,
    PreviousCardNotAllowed,
    ReplacementRequired,
    ReplacementNotAllowed,
    TheftDeclarationRequired,
    TheftDeclarationNotAllowed,
    // images
    InvalidBase64,
    UnsupportedImageFormat,
    FileTooLarge,
    ImageTooLarge,
    ImageTooSmall,
    WrongAspectRatio,
    CorruptImage,
    BlankSignature,
    // postal address (NF Z10-011)
    LineTooLong,
    InvalidPostcode,
    UnknownCountry,
    InvalidCedex,
    // corrections of a stopped card (docs/corrections.md)
    NotCorrectable,
    NothingCorrected,
    // printing: what the card's layout and fonts can show (docs/text-fitting.md, "At intake")
    NameDoesNotFit,
    TextDoesNotFit,
    MissingGlyph,
}

impl Code {
    /// The stable wire name of the code.
    pub fn as_str(self) -> &'static str {
        use Code::*;
        match self {
            MalformedJson => "malformed_json",
            WrongType => "wrong_type",
            UnknownField => "unknown_field",
            MissingField => "missing_field",
            Empty => "empty",
            TooLong => "too_long",
            InvalidRequestId => "invalid_request_id",
            RequestConflict => "request_conflict",
            InvalidValue => "invalid_value",
            InvalidCharacters => "invalid_characters",
            InvalidLicenceNumber => "invalid_licence_number",
            InvalidCardNumber => "invalid_card_number",
            InvalidDate => "invalid_date",
            DateInFuture => "date_in_future",
            ImplausibleBirthDate => "implausible_birth_date",
            TrainingTooOld => "training_too_old",
            PreviousCardExpired => "previous_card_expired",
            PreviousCardSuperseded => "previous_card_superseded",
            PreviousCardMismatch => "previous_card_mismatch",
            NoQualifications => "no_qualifications",
            TooManyQualifications => "too_many_qualifications",
            DuplicateGroup => "duplicate_group",
            NoCategories => "no_categories",
            CategoryNotInGroup => "category_not_in_group",
            DuplicateCategory => "duplicate_category",
            PreviousCardRequired => "previous_card_required",
            PreviousCardNotAllowed => "previous_card_not_allowed",
            ReplacementRequired => "replacement_required",
            ReplacementNotAllowed => "replacement_not_allowed",
            TheftDeclarationRequired => "theft_declaration_required",
            TheftDeclarationNotAllowed => "theft_declaration_not_allowed",
            InvalidBase64 => "invalid_base64",
            UnsupportedImageFormat => "unsupported_image_format",
            FileTooLarge => "file_too_large",
            ImageTooLarge => "image_too_large",
            ImageTooSmall => "image_too_small",
            WrongAspectRatio => "wrong_aspect_ratio",
            CorruptImage => "corrupt_image",
            BlankSignature => "blank_signature",
            LineTooLong => "line_too_long",
            InvalidPostcode => "invalid_postcode",
            UnknownCountry => "unknown_country",
            InvalidCedex => "invalid_cedex",
            NotCorrectable => "not_correctable",
            NothingCorrected => "nothing_corrected",
            NameDoesNotFit => "name_does_not_fit",
            TextDoesNotFit => "text_does_not_fit",
            MissingGlyph => "missing_glyph",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule: where (a dotted path into the request, `$` for the whole document),
/// which rule, and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    pub code: Code,
    pub message: String,
}

impl Violation {
    pub fn new(path: impl Into<String>, code: Code, message: impl Into<String>) -> Self {
        Violation {
            path: path.into(),
            code,
            message: message.into(),
        }
    }

    /// The same violation seen from a parent object: `street` under `delivery_address`
    /// becomes `delivery_address.street`.
    pub fn under(mut self, parent: &str) -> Self {
        self.path = join_path(parent, &self.path);
        self
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.path, self.message, self.code)
    }
}

/// Joins a parent path and a child path (`a` + `b` = `a.b`, `a` + `[0]` = `a[0]`).
pub fn join_path(parent: &str, child: &str) -> String {
    if parent.is_empty() || parent == "$" {
        child.to_string()
    } else if child.is_empty() || child == "$" {
        parent.to_string()
    } else if child.starts_with('[') {
        format!("{parent}{child}")
    } else {
        format!("{parent}.{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_like_the_contract_shows_them() {
        assert_eq!(join_path("holder", "birth_date"), "holder.birth_date");
        assert_eq!(join_path("qualifications", "[1]"), "qualifications[1]");
        assert_eq!(join_path("$", "kind"), "kind");
        let v = Violation::new("street", Code::LineTooLong, "x").under("delivery_address");
        assert_eq!(v.path, "delivery_address.street");
    }
}
