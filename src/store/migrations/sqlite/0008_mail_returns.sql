-- Returned mail (docs/returns.md). A piece's states are now the whole piece life cycle of
-- src/domain/lifecycle/piece.rs (a piece comes back, waits for its holder's decision, is
-- superseded or its card destroyed). SQLite cannot alter a CHECK: the table is rebuilt, with
-- its indexes and its sealed-batch trigger, rows unchanged.
CREATE TABLE mail_pieces_v8 (
    piece_id   TEXT PRIMARY KEY,
    card_id    INTEGER NOT NULL REFERENCES cards (id),
    product    TEXT NOT NULL,
    address    TEXT NOT NULL,
    postcode   TEXT NOT NULL,
    country    TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('created', 'inserted', 'batched', 'dispatched',
        'delivered', 'returned_undelivered', 'awaiting_decision', 'resent', 'readdressed',
        'card_destroyed', 'cancelled')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    batch_id   TEXT REFERENCES postal_batches (batch_id),
    sequence   INTEGER
);
INSERT INTO mail_pieces_v8 (piece_id, card_id, product, address, postcode, country, state,
                            created_at, updated_at, batch_id, sequence)
SELECT piece_id, card_id, product, address, postcode, country, state,
       created_at, updated_at, batch_id, sequence
FROM mail_pieces;
DROP TABLE mail_pieces;
ALTER TABLE mail_pieces_v8 RENAME TO mail_pieces;
CREATE UNIQUE INDEX mail_pieces_live_per_card ON mail_pieces (card_id)
    WHERE state IN ('created', 'inserted', 'batched');
CREATE INDEX mail_pieces_card ON mail_pieces (card_id);
CREATE UNIQUE INDEX mail_pieces_batch_sequence ON mail_pieces (batch_id, sequence);
CREATE INDEX mail_pieces_batch ON mail_pieces (batch_id, postcode, piece_id);
CREATE INDEX mail_pieces_state ON mail_pieces (state, product);
CREATE TRIGGER mail_pieces_sealed_batch
BEFORE UPDATE OF batch_id, sequence ON mail_pieces
WHEN (OLD.batch_id IS NOT NULL
      AND (SELECT state FROM postal_batches WHERE batch_id = OLD.batch_id) <> 'open')
  OR (NEW.batch_id IS NOT NULL AND NEW.batch_id IS NOT OLD.batch_id
      AND (SELECT state FROM postal_batches WHERE batch_id = NEW.batch_id) <> 'open')
BEGIN
    SELECT RAISE(ABORT, 'postal batch is closed: its pieces cannot change');
END;

-- One row per piece the post brought back, keyed to the piece (and so to the address it was
-- posted to): a late return of an old piece never touches a newer one.
CREATE TABLE mail_returns (
    piece_id        TEXT PRIMARY KEY REFERENCES mail_pieces (piece_id),
    card_id         INTEGER NOT NULL REFERENCES cards (id),
    reason          TEXT NOT NULL CHECK (reason IN ('npai', 'address_incomplete', 'refused',
        'not_collected', 'no_letter_box', 'no_access', 'damaged')),
    -- the numbered storage slot holding the card; NULL once it left the slot (or never
    -- entered one: a card already revoked goes to the destruction tray)
    slot            INTEGER CHECK (slot > 0),
    outcome         TEXT NOT NULL CHECK (outcome IN ('held', 'to_destruction')),
    returned_at     INTEGER NOT NULL,
    scanned_by      TEXT NOT NULL,
    station         TEXT NOT NULL,
    -- no decision by then: the card goes to the destruction workflow
    decision_due_at INTEGER NOT NULL,
    decision        TEXT CHECK (decision IN ('resend', 'readdress')),
    decided_at      INTEGER,
    payment_ref     TEXT,
    new_piece_id    TEXT REFERENCES mail_pieces (piece_id),
    retrieved_at    INTEGER,
    retrieved_by    TEXT,
    CHECK ((decision IS NULL) = (decided_at IS NULL))
);
-- A slot holds one card.
CREATE UNIQUE INDEX mail_returns_slot ON mail_returns (slot) WHERE slot IS NOT NULL;
CREATE INDEX mail_returns_due ON mail_returns (decision_due_at) WHERE decision IS NULL;
