-- Delivery of the portal events (docs/portal-events.md): a node leases the events it is
-- posting (another node skips them until the lease ends), and an event that failed every
-- attempt is set aside as dead until someone retries it from the dead-letter view.
ALTER TABLE outbox ADD COLUMN leased_until BIGINT;
ALTER TABLE outbox ADD COLUMN dead_at BIGINT;
