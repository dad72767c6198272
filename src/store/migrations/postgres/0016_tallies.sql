-- Running counts for the dashboard and /metrics (docs/console.md): counting a million cards
-- by state takes 110 ms on PostgreSQL; reading these takes well under a millisecond.
-- Triggers append a move (+1 / -1) per change to `tally_moves`, insert-only, so concurrent
-- transactions on several nodes never wait for each other on a shared counter row; a worker
-- folds the moves into `tallies` (Store::fold_tallies). A count is tallies + pending moves.
CREATE TABLE tally_moves (
    id      BIGSERIAL PRIMARY KEY,
    subject TEXT NOT NULL,
    key     TEXT NOT NULL,
    n       BIGINT NOT NULL
);
CREATE TABLE tallies (
    subject TEXT NOT NULL,
    key     TEXT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (subject, key)
);

CREATE FUNCTION tally_cards() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO tally_moves (subject, key, n) VALUES ('cards', OLD.state, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO tally_moves (subject, key, n) VALUES ('cards', NEW.state, 1);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER cards_tally_insert_delete AFTER INSERT OR DELETE ON cards
    FOR EACH ROW EXECUTE FUNCTION tally_cards();
CREATE TRIGGER cards_tally_update AFTER UPDATE OF state ON cards
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION tally_cards();

-- Card bodies by lot and state: the stock levels ("lot state").
CREATE FUNCTION tally_bodies() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO tally_moves (subject, key, n) VALUES ('bodies', OLD.lot_id || ' ' || OLD.state, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO tally_moves (subject, key, n) VALUES ('bodies', NEW.lot_id || ' ' || NEW.state, 1);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER bodies_tally_insert_delete AFTER INSERT OR DELETE ON card_bodies
    FOR EACH ROW EXECUTE FUNCTION tally_bodies();
CREATE TRIGGER bodies_tally_update AFTER UPDATE OF state, lot_id ON card_bodies
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.lot_id IS DISTINCT FROM NEW.lot_id)
    EXECUTE FUNCTION tally_bodies();

INSERT INTO tallies (subject, key, n) SELECT 'cards', state, COUNT(*) FROM cards GROUP BY state;
INSERT INTO tallies (subject, key, n)
    SELECT 'bodies', lot_id || ' ' || state, COUNT(*) FROM card_bodies GROUP BY lot_id, state;

-- Jobs not done (the dashboard's queue and stuck jobs) without reading the done ones.
CREATE INDEX jobs_open ON jobs (kind, state) WHERE state <> 'done';
