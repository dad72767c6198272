-- People who sign in to the console (docs/users.md): a role each, an argon2id password hash
-- (PHC string, never the password), disabled rather than deleted so the audit trail's names
-- keep meaning something, and a lock after repeated failed sign-ins.
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('operator', 'mailroom', 'quality', 'supervisor',
        'admin')),
    password_hash TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at    BIGINT NOT NULL,
    created_by    TEXT NOT NULL,
    disabled_at   BIGINT,
    disabled_by   TEXT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  BIGINT
);
