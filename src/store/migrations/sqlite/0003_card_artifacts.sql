-- Rendered files of a card: the proof and the personalisation bitmaps (what is printed),
-- each with its SHA-256, which the audit trail records so the printed bytes can be proved.
CREATE TABLE card_artifacts (
    card_id    INTEGER NOT NULL REFERENCES cards (id),
    name       TEXT NOT NULL,
    mime       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    bytes      BLOB,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (card_id, name)
);
