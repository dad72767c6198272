-- Mail pieces (docs/post.md): one per card sent, named by its S10 id, with the address block
-- as it was posted (a late return is keyed to this address, never to a newer one).
CREATE TABLE mail_pieces (
    piece_id   TEXT PRIMARY KEY,
    card_id    INTEGER NOT NULL REFERENCES cards (id),
    product    TEXT NOT NULL,
    address    TEXT NOT NULL,
    postcode   TEXT NOT NULL,
    country    TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('created', 'inserted', 'batched', 'dispatched', 'returned', 'cancelled')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
-- A card is in one envelope at a time.
CREATE UNIQUE INDEX mail_pieces_live_per_card ON mail_pieces (card_id)
    WHERE state IN ('created', 'inserted', 'batched');
CREATE INDEX mail_pieces_card ON mail_pieces (card_id);
