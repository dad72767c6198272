-- Running counts for the dashboard and /metrics (docs/console.md). SQLite has one writer, so
-- the triggers update `tallies` directly; `tally_moves` stays empty here (PostgreSQL appends
-- moves there to keep concurrent nodes from waiting on a counter row) and is read the same way.
CREATE TABLE tally_moves (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    key     TEXT NOT NULL,
    n       INTEGER NOT NULL
);
CREATE TABLE tallies (
    subject TEXT NOT NULL,
    key     TEXT NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (subject, key)
);

CREATE TRIGGER cards_tally_insert AFTER INSERT ON cards BEGIN
    INSERT INTO tallies (subject, key, n) VALUES ('cards', NEW.state, 1)
        ON CONFLICT (subject, key) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER cards_tally_delete AFTER DELETE ON cards BEGIN
    UPDATE tallies SET n = n - 1 WHERE subject = 'cards' AND key = OLD.state;
END;
CREATE TRIGGER cards_tally_update AFTER UPDATE OF state ON cards
    WHEN OLD.state IS NOT NEW.state BEGIN
    UPDATE tallies SET n = n - 1 WHERE subject = 'cards' AND key = OLD.state;
    INSERT INTO tallies (subject, key, n) VALUES ('cards', NEW.state, 1)
        ON CONFLICT (subject, key) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER bodies_tally_insert AFTER INSERT ON card_bodies BEGIN
    INSERT INTO tallies (subject, key, n) VALUES ('bodies', NEW.lot_id || ' ' || NEW.state, 1)
        ON CONFLICT (subject, key) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER bodies_tally_delete AFTER DELETE ON card_bodies BEGIN
    UPDATE tallies SET n = n - 1 WHERE subject = 'bodies' AND key = OLD.lot_id || ' ' || OLD.state;
END;
CREATE TRIGGER bodies_tally_update AFTER UPDATE OF state, lot_id ON card_bodies
    WHEN OLD.state IS NOT NEW.state OR OLD.lot_id IS NOT NEW.lot_id BEGIN
    UPDATE tallies SET n = n - 1 WHERE subject = 'bodies' AND key = OLD.lot_id || ' ' || OLD.state;
    INSERT INTO tallies (subject, key, n) VALUES ('bodies', NEW.lot_id || ' ' || NEW.state, 1)
        ON CONFLICT (subject, key) DO UPDATE SET n = n + 1;
END;

INSERT INTO tallies (subject, key, n) SELECT 'cards', state, COUNT(*) FROM cards GROUP BY state;
INSERT INTO tallies (subject, key, n)
    SELECT 'bodies', lot_id || ' ' || state, COUNT(*) FROM card_bodies GROUP BY lot_id, state;

CREATE INDEX jobs_open ON jobs (kind, state) WHERE state <> 'done';
