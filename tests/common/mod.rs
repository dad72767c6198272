//! Shared test support: fresh stores on both backends, fixture requests and their hostile
//! mutations, a real HTTP server on loopback.
#![allow(dead_code)]

pub mod child;
pub mod console;
pub mod golden;
pub mod hsm;
pub mod http;
pub mod pdf;
pub mod pictures;
pub mod production;
pub mod rack;
pub mod scan;
pub mod station_io;
pub mod webdriver;
pub mod webhook;

use std::path::PathBuf;
use std::sync::OnceLock;

use cqcfab::clock::Clock;
use cqcfab::store::{Location, Store, scratch};
use serde_json::Value;
use tempfile::TempDir;

/// A store for one test, on a database nobody else uses.
pub struct TestDb {
    pub store: Store,
    pub location: Location,
    pub backend: &'static str,
    _dir: Option<TempDir>,
    pg_admin: Option<String>,
}

impl TestDb {
    pub async fn sqlite(clock: Clock) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let location = Location::SqliteFile(dir.path().join("test.sqlite3"));
        let store = Store::open(&location, clock).await.expect("open sqlite");
        TestDb {
            store,
            location,
            backend: "sqlite",
            _dir: Some(dir),
            pg_admin: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` when no server is configured (then the test is
    /// skipped, loudly; CI sets CQCFAB_REQUIRE_PG=1 so a missing server fails instead).
    pub async fn postgres(clock: Clock) -> Option<TestDb> {
        let admin = pg_admin_url()?;
        let url = scratch::create(&admin, "cqcfab_test")
            .await
            .expect("create test database");
        let location = Location::Postgres(url);
        let store = Store::open(&location, clock).await.expect("open postgres");
        Some(TestDb {
            store,
            location,
            backend: "postgres",
            _dir: None,
            pg_admin: Some(admin),
        })
    }

    /// Closes the store and drops a PostgreSQL test database.
    pub async fn cleanup(self) {
        self.store.close().await;
        if let (Some(admin), Location::Postgres(url)) = (&self.pg_admin, &self.location) {
            let _ = scratch::drop(admin, url).await;
        }
    }

    /// Runs `sql` against the audit log with its append-only guard lifted, as someone with
    /// file or superuser access could: the hash chain must still catch it.
    pub async fn tamper(&self, sql: &'static str) {
        use cqcfab::store::Tx;
        let mut tx = self.store.begin().await.unwrap();
        match &mut tx {
            Tx::Sqlite(t) => {
                sqlx::query("DROP TRIGGER audit_log_no_update")
                    .execute(&mut **t)
                    .await
                    .unwrap();
                sqlx::query("DROP TRIGGER audit_log_no_delete")
                    .execute(&mut **t)
                    .await
                    .unwrap();
                sqlx::query(sql).execute(&mut **t).await.unwrap();
            }
            Tx::Postgres(t) => {
                sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER USER")
                    .execute(&mut **t)
                    .await
                    .unwrap();
                sqlx::query(sql).execute(&mut **t).await.unwrap();
            }
        }
        tx.commit().await.unwrap();
    }

    /// Runs one statement with text parameters in its own transaction, as an operator with
    /// database access could (test set-up, and proof that the database itself refuses a
    /// change). Returns the rows changed.
    pub async fn exec(&self, sql: &'static str, binds: &[&str]) -> Result<u64, sqlx::Error> {
        use cqcfab::store::Tx;
        let mut tx = self.store.begin().await.expect("begin");
        let n = match &mut tx {
            Tx::Sqlite(t) => {
                let mut q = sqlx::query(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.execute(&mut **t).await?.rows_affected()
            }
            Tx::Postgres(t) => {
                let mut q = sqlx::query(sql);
                for b in binds {
                    q = q.bind(*b);
                }
                q.execute(&mut **t).await?.rows_affected()
            }
        };
        tx.commit().await.expect("commit");
        Ok(n)
    }

    /// The path of the SQLite file, or the PostgreSQL URL, as `--data`/`--database-url` args.
    pub fn cli_args(&self) -> Vec<String> {
        match &self.location {
            Location::SqliteFile(p) => {
                vec!["--database-url".into(), format!("sqlite://{}", p.display())]
            }
            Location::Postgres(url) => vec!["--database-url".into(), url.clone()],
        }
    }
}

pub fn pg_admin_url() -> Option<String> {
    match std::env::var("CQCFAB_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var("CQCFAB_REQUIRE_PG").as_deref() == Ok("1") {
                panic!(
                    "CQCFAB_REQUIRE_PG=1 but CQCFAB_TEST_PG_URL is not set: start PostgreSQL (.ci/test does)"
                );
            }
            eprintln!("SKIPPED on PostgreSQL: set CQCFAB_TEST_PG_URL to run the PostgreSQL half");
            None
        }
    }
}

/// Runs each listed `async fn name(db: &TestDb)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($clock:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::common::TestDb::sqlite($clock).await;
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = $crate::common::TestDb::postgres($clock).await else { return };
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

/// The state of card `number`.
pub async fn card_state(db: &TestDb, number: &str) -> String {
    db.store
        .card_by_number(number)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no card {number}"))
        .state
}

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The committed valid fixtures.
pub fn valid_fixtures() -> &'static [Value] {
    static CELL: OnceLock<Vec<Value>> = OnceLock::new();
    CELL.get_or_init(|| {
        let text = std::fs::read_to_string(repo_path("fixtures/requests/valid.jsonl"))
            .expect("valid.jsonl");
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("fixture line is JSON"))
            .collect()
    })
}

/// The committed invalid cases.
pub fn invalid_cases() -> Vec<Value> {
    let text = std::fs::read_to_string(repo_path("fixtures/requests/invalid.jsonl"))
        .expect("invalid.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("case line is JSON"))
        .collect()
}

/// A plain fixture of the given kind (`first_issue`, `renewal`, `replacement_loss` …): one
/// qualification, a French address without CEDEX, so mutations hit exactly one rule.
pub fn fixture_of(kind: &str) -> Value {
    valid_fixtures()
        .iter()
        .find(|f| {
            let k = match f["kind"].as_str() {
                Some("replacement") => format!(
                    "replacement_{}",
                    f["replacement"]["reason"].as_str().unwrap_or("")
                ),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            k == kind
                && f["qualifications"].as_array().map(Vec::len) == Some(1)
                && f["delivery_address"]["country"] == "FR"
                && f["delivery_address"]["cedex"].is_null()
        })
        .cloned()
        .unwrap_or_else(|| panic!("no plain fixture of kind {kind}"))
}

/// Sets `path` (dotted, with `[i]` indices) in `doc`.
pub fn set_path(doc: &mut Value, path: &str, value: Value) {
    let mut cur = doc;
    let parts: Vec<&str> = path.split('.').collect();
    for (n, part) in parts.iter().enumerate() {
        let (key, index) = match part.find('[') {
            Some(i) => (
                &part[..i],
                part[i + 1..part.len() - 1].parse::<usize>().ok(),
            ),
            None => (*part, None),
        };
        let last = n == parts.len() - 1;
        if last && index.is_none() {
            cur[key] = value;
            return;
        }
        cur = &mut cur[key];
        if let Some(i) = index {
            if last {
                cur[i] = value;
                return;
            }
            cur = &mut cur[i];
        }
    }
}

pub fn remove_path(doc: &mut Value, path: &str) {
    let (parent, key) = match path.rsplit_once('.') {
        Some((p, k)) => (Some(p), k),
        None => (None, path),
    };
    let mut cur = doc;
    if let Some(p) = parent {
        for part in p.split('.') {
            cur = &mut cur[part];
        }
    }
    if let Some(o) = cur.as_object_mut() {
        o.remove(key);
    }
}

/// The body of an invalid case: its raw text, or its base fixture with the mutations applied.
pub fn case_body(case: &Value) -> Vec<u8> {
    if let Some(raw) = case["raw"].as_str() {
        return raw.as_bytes().to_vec();
    }
    let mut doc = fixture_of(case["base"].as_str().expect("base"));
    doc["request_id"] = Value::String(format!("BAD-{}", uuid::Uuid::new_v4().simple()));
    if let Some(set) = case["set"].as_object() {
        for (path, v) in set {
            let v = match v.as_str() {
                Some(token) if token.starts_with('$') => Value::String(pictures::token(token)),
                _ => v.clone(),
            };
            set_path(&mut doc, path, v);
        }
    }
    if let Some(remove) = case["remove"].as_array() {
        for p in remove {
            remove_path(&mut doc, p.as_str().expect("path"));
        }
    }
    serde_json::to_vec(&doc).expect("serialise")
}

/// (path, code) pairs a case expects, sorted.
pub fn expected(case: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = case["expect"]
        .as_array()
        .expect("expect")
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}
