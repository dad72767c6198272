-- Ranges of UPU S10 item ids the post allotted to the bureau (docs/post.md): a service
-- indicator and a block of 8-digit serials. Ranges of one service indicator never overlap
-- (checked when a range is added); ids are taken in order through next_serial and never
-- handed out twice.
CREATE TABLE s10_ranges (
    range_id     TEXT PRIMARY KEY,
    service      TEXT NOT NULL CHECK (length(service) = 2),
    first_serial BIGINT NOT NULL CHECK (first_serial >= 0),
    last_serial  BIGINT NOT NULL CHECK (last_serial <= 99999999),
    next_serial  BIGINT NOT NULL,
    added_at     BIGINT NOT NULL,
    added_by     TEXT NOT NULL,
    CHECK (last_serial >= first_serial),
    CHECK (next_serial >= first_serial AND next_serial <= last_serial + 1)
);
CREATE INDEX s10_ranges_service ON s10_ranges (service, first_serial);
