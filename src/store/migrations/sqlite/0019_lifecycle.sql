-- The life cycle as documented (docs/lifecycle.md).
--
-- 1. A renewal or replacement supersedes its predecessor when the successor is personalised:
--    the predecessor names its successor from then on, whatever state it is in (a card still in
--    the post is renewed only once its delivery is presumed, and its piece coming back goes to
--    destruction, never to a resend).
ALTER TABLE cards ADD COLUMN superseded_by TEXT;

-- 2. The daily expiry job reads the live cards past their field 4b date.
CREATE INDEX cards_expiring ON cards (expiry_date) WHERE state IN ('handed_over', 'suspended');

-- 3. A card replaced for quality (or any replacement whose predecessor was not revoked yet) is
--    revoked when its replacement is personalised: reason `replaced`. SQLite cannot alter a
--    CHECK: the table is rebuilt, rows unchanged.
CREATE TABLE revocations_v19 (
    card_number     TEXT PRIMARY KEY,
    card_id         INTEGER REFERENCES cards (id),
    reason          TEXT NOT NULL CHECK (reason IN ('lost', 'stolen', 'destroyed', 'replaced')),
    declaration_ref TEXT,
    request_id      TEXT,
    revoked_at      INTEGER NOT NULL,
    revoked_by      TEXT NOT NULL,
    CHECK ((reason = 'stolen') = (declaration_ref IS NOT NULL))
);
INSERT INTO revocations_v19 (card_number, card_id, reason, declaration_ref, request_id,
                             revoked_at, revoked_by)
SELECT card_number, card_id, reason, declaration_ref, request_id, revoked_at, revoked_by
FROM revocations;
DROP TABLE revocations;
ALTER TABLE revocations_v19 RENAME TO revocations;
