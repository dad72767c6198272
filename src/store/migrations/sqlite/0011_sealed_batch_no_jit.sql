-- PostgreSQL only (its sealed-batch trigger function must not be JIT-compiled); the version
-- is kept in step on both backends.
SELECT 1;
