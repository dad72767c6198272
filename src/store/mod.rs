//! The store: one repository API over SQLite (one node, the default) and PostgreSQL (several
//! nodes), with versioned migrations per backend.
//!
//! sqlx's `Any` driver only speaks a lowest common denominator of types and passes SQL
//! verbatim, so instead the store holds an enum of the two real pools and writes each statement
//! once: the `on_tx!` / `on_read!` macros expand the same code for both connection types, and
//! the type checker sees both. Where the dialects differ (`FOR UPDATE SKIP LOCKED`, sequences)
//! the code picks between two literal statements.
//!
//! SQLite runs in WAL mode with a single-connection writer pool and a separate reader pool:
//! writers queue in-process instead of spinning on `SQLITE_BUSY`, and readers never block them.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite, Transaction};
use thiserror::Error;

use crate::clock::Clock;

/// Runs `$body` with `$c` bound to the open transaction's connection, once per backend.
/// `$pg` is bound to `true` on PostgreSQL for the few statements whose dialects differ.
macro_rules! on_tx {
    ($tx:expr, |$c:ident, $pg:ident| $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t) => {
                let $c: &mut sqlx::SqliteConnection = &mut **t;
                #[allow(unused_variables)]
                let $pg = false;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $c: &mut sqlx::PgConnection = &mut **t;
                #[allow(unused_variables)]
                let $pg = true;
                $body
            }
        }
    };
}

/// Runs `$body` with `$p` bound to a pool, once per backend: on SQLite the `read` pool or the
/// single-connection `write` pool, on PostgreSQL the one pool.
macro_rules! on_pool {
    ($store:expr, $which:ident, |$p:ident, $pg:ident| $body:expr) => {
        match &$store.db {
            $crate::store::Db::Sqlite { $which, .. } => {
                let $p = $which;
                #[allow(unused_variables)]
                let $pg = false;
                $body
            }
            $crate::store::Db::Postgres(pool) => {
                let $p = pool;
                #[allow(unused_variables)]
                let $pg = true;
                $body
            }
        }
    };
}

/// Runs `$body` with `$p` bound to a pool for reading (SQLite's reader pool).
macro_rules! on_read {
    ($store:expr, |$p:ident, $pg:ident| $body:expr) => {
        on_pool!($store, read, |$p, $pg| $body)
    };
}

/// Runs `$body` with `$p` bound to a pool for single-statement writes in autocommit mode
/// (SQLite's writer connection). One statement is atomic on its own; going without
/// BEGIN/COMMIT saves two round trips on the hot paths of the job queue.
macro_rules! on_write {
    ($store:expr, |$p:ident, $pg:ident| $body:expr) => {
        on_pool!($store, write, |$p, $pg| $body)
    };
}

/// Several data-changing statements sent to the database as one, to save round trips: on
/// SQLite they are `;`-separated (sqlx runs them in order, numbering `?` across them); on
/// PostgreSQL all but the last become data-modifying CTEs of the last. Call [`Parts::next`]
/// before each statement but the last, [`Parts::last`] before the last.
pub(crate) struct Parts {
    pg: bool,
    n: usize,
}

impl Parts {
    pub(crate) fn new(pg: bool) -> Self {
        Parts { pg, n: 0 }
    }

    pub(crate) fn next<DB: sqlx::Database>(&mut self, q: &mut sqlx::QueryBuilder<DB>) {
        match (self.pg, self.n) {
            (true, 0) => q.push("WITH p0 AS ("),
            (true, n) => q.push(format!("), p{n} AS (")),
            (false, 0) => q,
            (false, _) => q.push("; "),
        };
        self.n += 1;
    }

    pub(crate) fn last<DB: sqlx::Database>(&mut self, q: &mut sqlx::QueryBuilder<DB>) {
        match (self.pg, self.n) {
            (_, 0) => q,
            (true, _) => q.push(") "),
            (false, _) => q.push("; "),
        };
    }
}

pub mod artifacts;
pub mod audit;
pub mod card_groups;
pub mod cards;
pub mod corrections;
pub mod intake;
pub mod jobs;
pub mod outbox;
#[macro_use]
pub mod pieces;
pub mod batches;
pub mod destruction;
pub mod insertion;
pub mod quality;
pub mod requests;
pub mod retention;
pub mod returns;
pub mod revocations;
pub mod s10;
pub mod scratch;
pub mod sessions;
pub mod stats;
pub mod stock;
pub mod users;
// The life cycle as documented (docs/lifecycle.md).
pub mod authority;
pub mod damage;
pub mod expiry;
pub mod personalisation;
pub mod succession;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("src/store/migrations/postgres");

/// The SQLite file inside the data folder.
pub const SQLITE_FILE: &str = "cqcfab.sqlite3";

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Conflict(String),
}

impl StoreError {
    /// True for a unique-constraint violation (a second insert of the same key).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Database(e) => is_unique_violation(e),
            _ => false,
        }
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// Where the state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    SqliteFile(PathBuf),
    Postgres(String),
}

impl Location {
    /// `database_url` wins when given (`postgres://`, `postgresql://` or `sqlite://FILE`);
    /// otherwise the SQLite file in the data folder.
    pub fn resolve(data_dir: &Path, database_url: Option<&str>) -> Location {
        match database_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Location::Postgres(u.to_string())
            }
            Some(u) => Location::SqliteFile(PathBuf::from(
                u.trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:"),
            )),
            None => Location::SqliteFile(data_dir.join(SQLITE_FILE)),
        }
    }

    /// A description without credentials, for logs and `status`.
    pub fn describe(&self) -> String {
        match self {
            Location::SqliteFile(p) => format!("SQLite {}", p.display()),
            Location::Postgres(url) => match PgConnectOptions::from_str(url) {
                Ok(o) => format!(
                    "PostgreSQL {}:{}/{}",
                    o.get_host(),
                    o.get_port(),
                    o.get_database().unwrap_or("postgres")
                ),
                Err(_) => "PostgreSQL (unparsable URL)".to_string(),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite {
        write: SqlitePool,
        read: SqlitePool,
        /// Copies the WAL back into the database file, in the background.
        checkpointer: SqlitePool,
        /// Alive while any clone of the store is: the checkpointer stops when it is gone.
        _alive: Arc<()>,
    },
    Postgres(PgPool),
}

/// An open write transaction. Dropped without `commit`, it rolls back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.rollback().await?,
            Tx::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }
}

/// Connection tuning that tests and benchmarks may change.
#[derive(Debug, Clone)]
pub struct Options {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

/// The repository. Cheap to clone (pools are shared).
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) db: Db,
    clock: Clock,
}

impl Store {
    pub async fn open(location: &Location, clock: Clock) -> Result<Store, StoreError> {
        Self::open_with(location, clock, &Options::default()).await
    }

    pub async fn open_with(
        location: &Location,
        clock: Clock,
        options: &Options,
    ) -> Result<Store, StoreError> {
        let db = match location {
            Location::SqliteFile(path) => open_sqlite(path, options).await?,
            Location::Postgres(url) => open_postgres(url, options).await?,
        };
        Ok(Store { db, clock })
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Starts a write transaction (on SQLite: `BEGIN IMMEDIATE`, so that another process
    /// writing the same file makes us wait at the start rather than fail halfway).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match &self.db {
            Db::Sqlite { write, .. } => match write.begin_with("BEGIN IMMEDIATE").await {
                Ok(tx) => Tx::Sqlite(tx),
                // The writer believes a transaction is still open: SQLite rolled one back by
                // itself (a full disk, an I/O error) and the ROLLBACK sqlx sent after it was
                // refused ("no transaction is active"), which leaves sqlx counting one open
                // transaction for the connection's life and refusing every BEGIN after it.
                // The connection is closed and the transaction begun on a new one
                // (drills_env.rs: the data folder filled while rendering).
                Err(sqlx::Error::InvalidSavePointStatement) => {
                    tracing::warn!("the database writer lost track of a transaction; reconnecting");
                    let _ = write.acquire().await?.close().await;
                    Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?)
                }
                Err(e) => return Err(e.into()),
            },
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Answers when the database answers a trivial query (readiness probes).
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_read!(self, |p, pg| {
            sqlx::query("SELECT 1").execute(p).await?;
        });
        Ok(())
    }

    /// A handle for a task that runs on a runtime of its own (the intake writer): on
    /// PostgreSQL it gets a small pool of its own, created lazily inside that runtime, because
    /// a connection belongs to the runtime that opened it and dies with it; returned to the
    /// shared pool, it would fail whoever took it next ("Tokio context being shut down").
    /// SQLite connections run on their own threads, so the shared pools are kept. Returns the
    /// handle and whether it owns its pool (then close it when done).
    pub fn for_own_runtime(&self, max_connections: u32) -> (Store, bool) {
        match &self.db {
            Db::Postgres(pool) => {
                let options = (*pool.connect_options()).clone();
                let own = PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(pool.options().get_acquire_timeout())
                    .connect_lazy_with(options);
                (
                    Store {
                        db: Db::Postgres(own),
                        clock: self.clock.clone(),
                    },
                    true,
                )
            }
            Db::Sqlite { .. } => (self.clone(), false),
        }
    }

    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite {
                write,
                read,
                checkpointer,
                ..
            } => {
                read.close().await;
                write.close().await;
                // A clean shutdown leaves no WAL behind.
                let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(checkpointer)
                    .await;
                checkpointer.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

async fn open_sqlite(path: &Path, options: &Options) -> Result<Db, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let base = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL in WAL mode: a commit survives a process crash (SIGKILL); only an OS crash
        // may lose the last transactions. FULL would fsync on every commit.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(30))
        .pragma("temp_store", "memory");
    // The writer never checkpoints: with pictures in every request the WAL passes the default
    // 1000 pages every few dozen commits, and the commit that crosses it would copy megabytes
    // and fsync while every other request waits (measured: a mean 2.8 ms per commit). A
    // checkpointer beside it copies the WAL back in the background instead.
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(
            base.clone()
                .create_if_missing(true)
                .pragma("wal_autocheckpoint", "0"),
        )
        .await?;
    SQLITE_MIGRATIONS.run(&write).await?;
    let read = SqlitePoolOptions::new()
        .max_connections(options.max_connections.clamp(1, 8))
        .acquire_timeout(options.acquire_timeout)
        .connect_with(base.clone().read_only(true))
        .await?;
    let checkpointer = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(base)
        .await?;
    let alive = Arc::new(());
    tokio::spawn(checkpoint_loop(
        checkpointer.clone(),
        Arc::downgrade(&alive),
    ));
    Ok(Db::Sqlite {
        write,
        read,
        checkpointer,
        _alive: alive,
    })
}

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Runs PASSIVE checkpoints (they never block the writer or readers) until the store is
/// closed or dropped.
async fn checkpoint_loop(pool: SqlitePool, alive: std::sync::Weak<()>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if alive.upgrade().is_none() || pool.is_closed() {
            break;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                break; // closed between the check and the statement: a normal shutdown
            }
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
    pool.close().await;
}

async fn open_postgres(url: &str, options: &Options) -> Result<Db, StoreError> {
    let connect = PgConnectOptions::from_str(url)?;
    let pool = PgPoolOptions::new()
        .max_connections(options.max_connections)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await?;
    // The migrator takes an advisory lock, so several nodes starting together is safe.
    POSTGRES_MIGRATIONS.run(&pool).await?;
    Ok(Db::Postgres(pool))
}

/// Whether two names given for dual control are the same person: compared without the
/// surrounding spaces and with Unicode case folded ("Inès" and "INÈS" are one person).
pub fn same_person(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}
