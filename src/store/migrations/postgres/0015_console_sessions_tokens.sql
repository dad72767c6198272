-- Console sign-ins (docs/console.md). The cookie holds a random secret; only its SHA-256 is
-- kept, so a copy of the database opens no session. A session ends at sign-out, when its user
-- is disabled, after 30 minutes idle or 12 hours in all (checked on every request).
CREATE TABLE console_sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL,
    ended_at   BIGINT
);
CREATE INDEX console_sessions_user ON console_sessions (user_id) WHERE ended_at IS NULL;

-- Machine tokens issued by an admin (station and portal), kept as SHA-256 digests: a new token
-- is issued while the old one still works, then the old one is revoked (rotation without a
-- restart). Tokens in the configuration file keep working beside these.
CREATE TABLE api_tokens (
    id         BIGSERIAL PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('portal', 'station')),
    sha256     TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at BIGINT,
    revoked_by TEXT
);

-- The dashboard counts today's work in the audit trail by time.
CREATE INDEX audit_at ON audit_log (at, action);
