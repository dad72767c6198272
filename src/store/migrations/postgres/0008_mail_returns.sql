-- Returned mail (docs/returns.md). A piece's states are now the whole piece life cycle of
-- src/domain/lifecycle/piece.rs (a piece comes back, waits for its holder's decision, is
-- superseded or its card destroyed).
ALTER TABLE mail_pieces DROP CONSTRAINT mail_pieces_state_check;
ALTER TABLE mail_pieces ADD CONSTRAINT mail_pieces_state_check
    CHECK (state IN ('created', 'inserted', 'batched', 'dispatched', 'delivered',
        'returned_undelivered', 'awaiting_decision', 'resent', 'readdressed', 'card_destroyed',
        'cancelled'));

-- One row per piece the post brought back, keyed to the piece (and so to the address it was
-- posted to): a late return of an old piece never touches a newer one.
CREATE TABLE mail_returns (
    piece_id        TEXT PRIMARY KEY REFERENCES mail_pieces (piece_id),
    card_id         BIGINT NOT NULL REFERENCES cards (id),
    reason          TEXT NOT NULL CHECK (reason IN ('npai', 'address_incomplete', 'refused',
        'not_collected', 'no_letter_box', 'no_access', 'damaged')),
    -- the numbered storage slot holding the card; NULL once it left the slot (or never
    -- entered one: a card already revoked goes to the destruction tray)
    slot            BIGINT CHECK (slot > 0),
    outcome         TEXT NOT NULL CHECK (outcome IN ('held', 'to_destruction')),
    returned_at     BIGINT NOT NULL,
    scanned_by      TEXT NOT NULL,
    station         TEXT NOT NULL,
    -- no decision by then: the card goes to the destruction workflow
    decision_due_at BIGINT NOT NULL,
    decision        TEXT CHECK (decision IN ('resend', 'readdress')),
    decided_at      BIGINT,
    payment_ref     TEXT,
    new_piece_id    TEXT REFERENCES mail_pieces (piece_id),
    retrieved_at    BIGINT,
    retrieved_by    TEXT,
    CHECK ((decision IS NULL) = (decided_at IS NULL))
);
-- A slot holds one card.
CREATE UNIQUE INDEX mail_returns_slot ON mail_returns (slot) WHERE slot IS NOT NULL;
CREATE INDEX mail_returns_due ON mail_returns (decision_due_at) WHERE decision IS NULL;
