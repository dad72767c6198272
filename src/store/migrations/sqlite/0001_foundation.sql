-- Foundation schema (SQLite). Times are Unix milliseconds (UTC); calendar dates are ISO text.
-- Keep in step with ../postgres/0001_foundation.sql: the same store tests run on both.

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('holder_number', 0);

-- What the portal asked, once per request_id. The fingerprint (SHA-256 of the canonical JSON
-- body) tells a replay from a changed body; answer_status/answer_body replay the first answer.
CREATE TABLE requests (
    request_id    TEXT PRIMARY KEY,
    fingerprint   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    received_at   INTEGER NOT NULL,
    received_by   TEXT NOT NULL,
    document      TEXT,            -- the request without its pictures (JSON); purged with personal data
    answer_status INTEGER NOT NULL,
    answer_body   TEXT NOT NULL
);

-- Pictures as received (bytes exactly as the portal sent them), kept apart so that listing
-- requests never drags megabytes along and so that purging them is one statement.
CREATE TABLE request_media (
    request_id TEXT NOT NULL REFERENCES requests (request_id),
    role       TEXT NOT NULL CHECK (role IN ('photo', 'signature')),
    mime       TEXT NOT NULL,
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    sha256     TEXT NOT NULL,
    bytes      BLOB,
    PRIMARY KEY (request_id, role)
);

-- One card record per accepted request.
CREATE TABLE cards (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    card_number          TEXT NOT NULL UNIQUE,
    holder_number        INTEGER NOT NULL,
    request_id           TEXT NOT NULL UNIQUE REFERENCES requests (request_id),
    kind                 TEXT NOT NULL,
    state                TEXT NOT NULL,
    version              INTEGER NOT NULL DEFAULT 1,
    issue_date           TEXT NOT NULL,
    expiry_date          TEXT NOT NULL,
    expected_expiry      TEXT,
    previous_card_number TEXT,
    surname              TEXT,
    given_names          TEXT,
    birth_date           TEXT,
    birth_place          TEXT,
    licence_number       TEXT,
    categories           TEXT NOT NULL,   -- JSON array, card order
    address_lines        TEXT,            -- JSON array of the NF Z10-011 block
    postcode             TEXT,
    country              TEXT,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX cards_state ON cards (state);
CREATE INDEX cards_holder ON cards (holder_number);

-- Job queue with leases. A job is owned by the holder of lease_token until lease_expires_at.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    dedup_key        TEXT UNIQUE,
    state            TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    run_after        INTEGER NOT NULL,
    lease_token      TEXT,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
CREATE INDEX jobs_queued ON jobs (kind, run_after, id) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (kind, lease_expires_at) WHERE state = 'running';

-- Append-only, hash-chained audit trail. seq is dense from 1; hash = SHA-256 over the
-- length-prefixed fields and prev_hash (see src/store/audit.rs). audit_head anchors the tail.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    before      TEXT,
    after       TEXT,
    reason      TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_entity ON audit_log (entity_type, entity_id, seq);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Events for the portal, written in the same transaction as the change they report.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL UNIQUE,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at, seq) WHERE delivered_at IS NULL;
