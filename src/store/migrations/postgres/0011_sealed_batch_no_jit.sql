-- The sealed-batch check (0007) turns nested loops off, which makes the planner's cost of
-- its query huge (disable_cost), which in turn made PostgreSQL JIT-compile it on every
-- statement that touched mail_pieces: 340 ms of LLVM work per single-row update (measured
-- with auto_explain while benchmarking the mailroom). The check is small: never JIT it.
ALTER FUNCTION mail_pieces_sealed_batch() SET jit = off;
