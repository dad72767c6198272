-- Quality returns (docs/quality.md): a card posted back with its coupon opens one case; the
-- chip diagnostic, the analyst's findings per declared defect, the verdict by the attribution
-- rules, and a fee waiver under dual control (requested by one person, approved by another).
CREATE TABLE quality_cases (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    card_id             INTEGER NOT NULL REFERENCES cards (id),
    state               TEXT NOT NULL CHECK (state IN ('open', 'waiver_requested', 'decided')),
    opened_at           INTEGER NOT NULL,
    opened_by           TEXT NOT NULL,
    station             TEXT NOT NULL,
    -- the last chip diagnostic (JSON) and its two conclusions the rules use
    diagnostic          TEXT,
    diagnosed_at        INTEGER,
    chip                TEXT CHECK (chip IN ('intact', 'altered', 'not_ours', 'unreadable')),
    data_vs_request     TEXT CHECK (data_vs_request IN ('matches', 'differs', 'unavailable')),
    verdict             TEXT CHECK (verdict IN ('manufacturer_fault', 'holder_fault')),
    findings            TEXT,
    decided_at          INTEGER,
    decided_by          TEXT,
    fee_waived          INTEGER NOT NULL DEFAULT 0,
    waiver_requested_by TEXT,
    waiver_reason       TEXT,
    waiver_approved_by  TEXT,
    replacement_request_id TEXT,
    correction_payment_ref TEXT,
    CHECK ((state = 'decided') = (verdict IS NOT NULL)),
    CHECK ((state = 'waiver_requested') <= (waiver_requested_by IS NOT NULL)),
    -- four eyes, whatever code writes the row
    CHECK (waiver_approved_by IS NULL OR lower(waiver_approved_by) <> lower(waiver_requested_by)),
    CHECK (NOT fee_waived OR verdict = 'manufacturer_fault' OR waiver_approved_by IS NOT NULL)
);
-- A card comes back defective once: its case is reopened, never doubled.
CREATE UNIQUE INDEX quality_cases_one_per_card ON quality_cases (card_id);

-- Each defect the holder declared, as the analyst found it.
CREATE TABLE quality_defects (
    case_id     INTEGER NOT NULL REFERENCES quality_cases (id),
    element     TEXT NOT NULL,
    confirmed   INTEGER NOT NULL,
    cause       TEXT CHECK (cause IN ('print', 'lamination', 'chip', 'data', 'physical_damage',
        'wear')),
    note        TEXT,
    recorded_at INTEGER NOT NULL,
    recorded_by TEXT NOT NULL,
    PRIMARY KEY (case_id, element),
    CHECK (NOT confirmed OR cause IS NOT NULL)
);
