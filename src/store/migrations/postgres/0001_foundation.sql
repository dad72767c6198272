-- Foundation schema (PostgreSQL). Times are Unix milliseconds (UTC); calendar dates are ISO text.
-- Keep in step with ../sqlite/0001_foundation.sql: the same store tests run on both.

CREATE SEQUENCE holder_number_seq START 1 NO CYCLE;

CREATE TABLE requests (
    request_id    TEXT PRIMARY KEY,
    fingerprint   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    received_at   BIGINT NOT NULL,
    received_by   TEXT NOT NULL,
    document      TEXT,
    answer_status BIGINT NOT NULL,
    answer_body   TEXT NOT NULL
);

CREATE TABLE request_media (
    request_id TEXT NOT NULL REFERENCES requests (request_id),
    role       TEXT NOT NULL CHECK (role IN ('photo', 'signature')),
    mime       TEXT NOT NULL,
    width      BIGINT NOT NULL,
    height     BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    bytes      BYTEA,
    PRIMARY KEY (request_id, role)
);

CREATE TABLE cards (
    id                   BIGSERIAL PRIMARY KEY,
    card_number          TEXT NOT NULL UNIQUE,
    holder_number        BIGINT NOT NULL,
    request_id           TEXT NOT NULL UNIQUE REFERENCES requests (request_id),
    kind                 TEXT NOT NULL,
    state                TEXT NOT NULL,
    version              BIGINT NOT NULL DEFAULT 1,
    issue_date           TEXT NOT NULL,
    expiry_date          TEXT NOT NULL,
    expected_expiry      TEXT,
    previous_card_number TEXT,
    surname              TEXT,
    given_names          TEXT,
    birth_date           TEXT,
    birth_place          TEXT,
    licence_number       TEXT,
    categories           TEXT NOT NULL,
    address_lines        TEXT,
    postcode             TEXT,
    country              TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX cards_state ON cards (state);
CREATE INDEX cards_holder ON cards (holder_number);

CREATE TABLE jobs (
    id               BIGSERIAL PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    dedup_key        TEXT UNIQUE,
    state            TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    run_after        BIGINT NOT NULL,
    lease_token      TEXT,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    finished_at      BIGINT
);
CREATE INDEX jobs_queued ON jobs (kind, run_after, id) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs (kind, lease_expires_at) WHERE state = 'running';

CREATE TABLE audit_log (
    seq         BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL,
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
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE outbox (
    seq             BIGSERIAL PRIMARY KEY,
    event_id        TEXT NOT NULL UNIQUE,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at, seq) WHERE delivered_at IS NULL;
