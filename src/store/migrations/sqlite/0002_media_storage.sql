-- Kept in step with the PostgreSQL migrations (0002 changes the storage of pictures there;
-- SQLite never compresses BLOBs, so there is nothing to do here).
SELECT 1;
