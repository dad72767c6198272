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
--    revoked when its replacement is personalised: reason `replaced`.
ALTER TABLE revocations DROP CONSTRAINT revocations_reason_check;
ALTER TABLE revocations ADD CONSTRAINT revocations_reason_check
    CHECK (reason IN ('lost', 'stolen', 'destroyed', 'replaced'));
