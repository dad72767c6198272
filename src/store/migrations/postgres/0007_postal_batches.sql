-- Postal batches (docs/post.md): the inserted pieces of one product and dispatch date, handed
-- to the post together with their manifest. A batch is open while pieces join it; closing
-- numbers its pieces in presort order (postcode, piece id) and records the SHA-256 of the
-- manifest, after which nothing in it changes; handing it over dispatches every piece.
CREATE TABLE postal_batches (
    batch_id        TEXT PRIMARY KEY,
    product         TEXT NOT NULL,
    dispatch_date   TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('open', 'closed', 'handed_over')),
    pieces          BIGINT,
    weight_g        BIGINT,
    manifest_sha256 TEXT,
    opened_at       BIGINT NOT NULL,
    opened_by       TEXT NOT NULL,
    closed_at       BIGINT,
    closed_by       TEXT,
    handed_over_at  BIGINT,
    handed_over_by  TEXT,
    -- closed means sealed: a manifest hash exists exactly when the batch is no longer open
    CHECK ((state = 'open') = (manifest_sha256 IS NULL))
);
-- One open batch per product and dispatch date: every inserted piece has one place to go.
CREATE UNIQUE INDEX postal_batches_one_open ON postal_batches (product, dispatch_date)
    WHERE state = 'open';

ALTER TABLE mail_pieces ADD COLUMN batch_id TEXT REFERENCES postal_batches (batch_id);
ALTER TABLE mail_pieces ADD COLUMN sequence BIGINT;
CREATE UNIQUE INDEX mail_pieces_batch_sequence ON mail_pieces (batch_id, sequence);
CREATE INDEX mail_pieces_batch ON mail_pieces (batch_id, postcode, piece_id);
CREATE INDEX mail_pieces_state ON mail_pieces (state, product);

-- A sealed batch is immutable, whatever code touches it: no piece joins, leaves or is
-- renumbered once its batch is closed. One check per statement over the rows it changed
-- (transition tables): a per-row PL/pgSQL trigger made closing a 100,000-piece batch take 12 s.
-- Transition tables have no statistics, so the planner would join them with a nested loop
-- (100,000 x 100,000 comparisons): the function asks for a hash join.
CREATE FUNCTION mail_pieces_sealed_batch() RETURNS trigger LANGUAGE plpgsql
SET enable_nestloop = off AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM old_rows o JOIN new_rows n ON n.piece_id = o.piece_id
        WHERE (o.batch_id IS DISTINCT FROM n.batch_id OR o.sequence IS DISTINCT FROM n.sequence)
          AND EXISTS (SELECT 1 FROM postal_batches b
                      WHERE b.batch_id IN (o.batch_id, n.batch_id) AND b.state <> 'open'))
    THEN
        RAISE EXCEPTION 'postal batch is closed: its pieces cannot change';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER mail_pieces_sealed_batch
AFTER UPDATE ON mail_pieces
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION mail_pieces_sealed_batch();
