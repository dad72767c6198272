-- Blank card bodies received from the card manufacturer, one row per lot with its serial
-- range (docs/stock.md). Ranges never overlap: `stock receive` refuses an overlap.
CREATE TABLE stock_lots (
    lot_id       TEXT PRIMARY KEY,
    first_serial INTEGER NOT NULL,
    last_serial  INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    received_by  TEXT NOT NULL,
    CHECK (last_serial >= first_serial)
);

-- Every card body drawn from stock, by its chip serial (EF.IDENT): what became of it.
-- 'drawn' is the short time between taking a blank and knowing how its write ended.
CREATE TABLE card_bodies (
    serial     INTEGER PRIMARY KEY,
    lot_id     TEXT NOT NULL REFERENCES stock_lots (lot_id),
    state      TEXT NOT NULL CHECK (state IN ('drawn', 'personalised', 'spoiled', 'destroyed')),
    card_id    INTEGER REFERENCES cards (id),
    station    TEXT NOT NULL,
    reader     TEXT NOT NULL,
    reason     TEXT,
    drawn_at   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX card_bodies_lot ON card_bodies (lot_id, state);
-- A card number is written to one chip only.
CREATE UNIQUE INDEX card_bodies_one_per_card ON card_bodies (card_id) WHERE state = 'personalised';

-- The chip a personalised card was written to.
ALTER TABLE cards ADD COLUMN chip_serial INTEGER;
CREATE UNIQUE INDEX cards_chip_serial ON cards (chip_serial);
