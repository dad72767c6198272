-- Corrections the driver sent for a stopped card (POST /v1/requests/{id}/correction,
-- docs/corrections.md), known by the fingerprint of their body: the same body sent again is
-- answered from here and renders nothing more. No personal data: the corrected values go to
-- the request document, the card row and the pictures; the answer holds identifiers only.
CREATE TABLE request_corrections (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id  TEXT NOT NULL REFERENCES requests (request_id),
    fingerprint TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    received_by TEXT NOT NULL,
    answer_body TEXT NOT NULL,
    UNIQUE (request_id, fingerprint)
);
