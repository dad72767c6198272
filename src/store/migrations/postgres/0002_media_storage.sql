-- Pictures are JPEG or PNG: already compressed. By default PostgreSQL tries pglz on every
-- TOASTed value over 2 KB, burning CPU to save nothing on the intake hot path. Store them
-- out of line without compression.
ALTER TABLE request_media ALTER COLUMN bytes SET STORAGE EXTERNAL;
