-- Each qualification group's code-95 date (docs/validity.md): the card's groups as JSON
-- [{"group", "categories", "expiry", "training", "training_end", "rule"}], and the reasons a
-- request waits for review [{"code", "group", "ours", "other"}]. Cards stored before this
-- migration have no groups recorded: every category then carries field 4b, as was printed.
ALTER TABLE cards ADD COLUMN qualifications TEXT;
ALTER TABLE cards ADD COLUMN review TEXT;
