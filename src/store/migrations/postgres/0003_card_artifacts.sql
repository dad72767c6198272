-- Rendered files of a card: the proof and the personalisation bitmaps (what is printed),
-- each with its SHA-256, which the audit trail records so the printed bytes can be proved.
CREATE TABLE card_artifacts (
    card_id    BIGINT NOT NULL REFERENCES cards (id),
    name       TEXT NOT NULL,
    mime       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    bytes      BYTEA,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (card_id, name)
);
-- PDF and PNG are compressed already: no pglz on them (see 0002).
ALTER TABLE card_artifacts ALTER COLUMN bytes SET STORAGE EXTERNAL;
