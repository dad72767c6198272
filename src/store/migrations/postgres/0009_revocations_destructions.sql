-- The revocation list (docs/returns.md, "Revocation"): every card number that must no
-- longer be accepted, ours or the previous system's (card_id NULL), with why and when. A
-- stolen card is revoked on the declaration the holder made (its reference kept).
CREATE TABLE revocations (
    card_number     TEXT PRIMARY KEY,
    card_id         BIGINT REFERENCES cards (id),
    reason          TEXT NOT NULL CHECK (reason IN ('lost', 'stolen', 'destroyed')),
    declaration_ref TEXT,
    request_id      TEXT,
    revoked_at      BIGINT NOT NULL,
    revoked_by      TEXT NOT NULL,
    CHECK ((reason = 'stolen') = (declaration_ref IS NOT NULL))
);

-- Destruction of card bodies under dual control: the person who destroys asks, a second,
-- different person witnesses and approves; only then is the card destroyed in the records.
CREATE TABLE destructions (
    id           BIGSERIAL PRIMARY KEY,
    card_id      BIGINT NOT NULL REFERENCES cards (id),
    reason       TEXT NOT NULL CHECK (reason IN ('unclaimed', 'revoked_return', 'replaced',
        'quality_return', 'damaged')),
    method       TEXT NOT NULL CHECK (method IN ('cross_cut_shredder', 'card_punch',
        'incineration')),
    state        TEXT NOT NULL CHECK (state IN ('pending', 'done')),
    requested_by TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    approved_by  TEXT,
    approved_at  BIGINT,
    CHECK ((state = 'done') = (approved_by IS NOT NULL)),
    -- four eyes, whatever code writes the row
    CHECK (approved_by IS NULL OR approved_by <> requested_by)
);
-- A card body is destroyed once.
CREATE UNIQUE INDEX destructions_one_per_card ON destructions (card_id);
