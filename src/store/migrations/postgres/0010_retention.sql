-- Retention (docs/retention.md): when a card's personal data (names, birth, licence number,
-- address, pictures, rendered artifacts, posted address) was purged. The card number, its
-- dates and states, and the audit trail stay.
ALTER TABLE cards ADD COLUMN purged_at BIGINT;
CREATE INDEX cards_state_updated ON cards (state, updated_at);
