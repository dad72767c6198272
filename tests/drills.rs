//! Failure drills with real process kills (issue 8): the binary is started as an operator
//! starts it, killed with SIGKILL (as a power cut or the OOM killer would) at a chosen point,
//! started again, and the database is then checked for what must hold after any crash — every
//! request taken once, every card made once, the stock ledger and the audit chain intact, the
//! work finished by the restarted process without anyone's help. docs/drills.md lists every
//! drill, how it is provoked and what it checks.
//!
//! The moment of each kill is found by watching the database or the process's log, by
//! freezing the process (SIGSTOP) while looking, or by making it block (a named pipe where it
//! writes) — never by sleeping a fixed time; no assertion is about time. On
//! PostgreSQL each child process connects under its own `application_name`, and after a kill
//! the test waits until the server has let go of that process's connections, so that a commit
//! in flight when the process died has landed or been rolled back before anything is counted.
//!
//! Needs PostgreSQL for the PostgreSQL half (CQCFAB_TEST_PG_URL; CQCFAB_REQUIRE_PG=1 makes its
//! absence a failure) and pcscd with the vpcd readers for the PC/SC station drill
//! (CQCFAB_REQUIRE_PCSC=1 makes their absence a failure).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use common::TestDb;
use common::http::TOKEN;
use common::rack::{self, LeftCard, StopOnDrop};
use cqcfab::chip::pki::TestPki;
use cqcfab::clock::Clock;
use cqcfab::store::Location;
use cqcfab::store::insertion::CardKey;
use cqcfab_simulator::blanks::{Blanks, SIM_FIRST_SERIAL, SIM_LOT, SIM_LOT_SIZE};
use cqcfab_simulator::card::{Fault, LifeCycle};
use cqcfab_simulator::vpcd;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};

on_both_backends!(Clock::System;
    an_import_killed_twice_then_run_again_takes_every_request_exactly_once,
    a_service_killed_during_intake_then_retried_makes_one_card_per_request,
    a_station_killed_mid_write_then_restarted_makes_every_card_once,
    a_pcsc_station_killed_mid_write_then_restarted_makes_every_card_once,
    a_batch_close_killed_in_its_transaction_and_after_its_seal_closes_again,
);

/// How long any one wait of a drill may take before the drill fails (a hung process, a
/// condition never met); far above what a drill needs.
const PATIENCE: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// Processes

/// The child processes of a drill, killed (SIGKILL) and reaped when the drill ends, also on a
/// failed assertion; their output goes to files whose ends are printed on failure.
struct Procs {
    dir: PathBuf,
    procs: Vec<Proc>,
}

struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    /// Reaped (killed on purpose, or ended and waited for).
    ended: Option<ExitStatus>,
}

impl Procs {
    fn new(dir: &Path) -> Procs {
        Procs {
            dir: dir.to_path_buf(),
            procs: Vec::new(),
        }
    }

    fn spawn(&mut self, name: &str, mut cmd: Command) -> u32 {
        assert!(
            self.procs.iter().all(|p| p.name != name),
            "two processes named {name}"
        );
        let log = self.dir.join(format!("{name}.log"));
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let pid = child.id();
        self.procs.push(Proc {
            name: name.to_string(),
            child,
            log,
            ended: None,
        });
        pid
    }

    fn get(&mut self, name: &str) -> &mut Proc {
        self.procs
            .iter_mut()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no process {name}"))
    }

    /// Panics with the logs when `name` has ended (it was meant to be killed while running).
    fn running(&mut self, name: &str) {
        let p = self.get(name);
        if let Ok(Some(status)) = p.child.try_wait() {
            p.ended = Some(status);
            panic!("{name} ended before the drill: {status}\n{}", self.tails());
        }
    }

    /// Sends `signal` (STOP, CONT) with kill(1): the test has no libc of its own.
    fn signal(&mut self, name: &str, signal: &str) {
        let pid = self.get(name).child.id();
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("kill(1)");
        assert!(sent.success(), "kill -{signal} {name} ({pid})");
    }

    /// SIGKILL, and the process reaped.
    fn kill(&mut self, name: &str) {
        let p = self.get(name);
        p.child.kill().expect("SIGKILL");
        let status = p.child.wait().expect("reap");
        p.ended = Some(status);
        assert_eq!(status.signal(), Some(9), "{name} died of SIGKILL: {status}");
    }

    /// Waits for `name` to end by itself; panics with its log when it fails or hangs.
    fn finish(&mut self, name: &str) -> String {
        let until = Instant::now() + PATIENCE;
        loop {
            let p = self.get(name);
            if let Some(status) = p.child.try_wait().expect("try_wait") {
                p.ended = Some(status);
                let log = self.log(name);
                assert!(status.success(), "{name} failed: {status}\n{log}");
                return log;
            }
            assert!(
                Instant::now() < until,
                "{name} did not finish\n{}",
                self.tails()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGINT (an operator's Ctrl-C); the process must then end cleanly.
    fn interrupt(&mut self, name: &str) {
        self.signal(name, "INT");
        self.finish(name);
    }

    fn log(&self, name: &str) -> String {
        self.procs
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| std::fs::read_to_string(&p.log).ok())
            .unwrap_or_default()
    }

    /// The last lines each process wrote.
    fn tails(&self) -> String {
        let mut s = String::new();
        for p in &self.procs {
            let text = std::fs::read_to_string(&p.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            s.push_str(&format!("--- {} (last 20 lines)\n", p.name));
            for l in &lines[lines.len().saturating_sub(20)..] {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.tails());
        }
        for p in &mut self.procs {
            if p.ended.is_none() {
                let _ = p.child.kill();
                let _ = p.child.wait();
            }
        }
    }
}

/// The database URL a child process uses: on PostgreSQL it carries the process's
/// `application_name`, by which [`Sql::settle`] knows its connections.
fn database_url(db: &TestDb, app: &str) -> String {
    match &db.location {
        Location::SqliteFile(p) => format!("sqlite://{}", p.display()),
        Location::Postgres(url) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}application_name={app}")
        }
    }
}

/// `cqcfab` on the drill's database and data folder (the test PKI in `data/pki`), run from
/// `data`, with nothing taken from the caller's configuration; `app` names its connections.
fn cqcfab(db: &TestDb, data: &Path, app: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cqcfab"));
    c.current_dir(data)
        .arg("--data")
        .arg(data)
        .args(["--database-url", &database_url(db, app)]);
    common::child::isolate(&mut c);
    c
}

/// Runs `cmd` to its end; panics with its output unless it succeeds. Returns the output.
fn run_ok(mut cmd: Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().expect("run cqcfab");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{text}",
        out.status
    );
    text
}

/// A data folder with the test PKI, made before any process starts so that none races to
/// create it.
fn data_dir(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    TestPki::ensure(&data.join("pki")).expect("test PKI");
    data
}

/// The operator's two checks after any incident: the audit chain and the stock ledger.
fn operator_checks(db: &TestDb, data: &Path) {
    let audit = run_ok({
        let mut c = cqcfab(db, data, "drill-audit");
        c.args(["audit", "verify"]);
        c
    });
    assert!(audit.contains("audit trail intact"), "{audit}");
    run_ok({
        let mut c = cqcfab(db, data, "drill-stock");
        c.args(["stock", "report", "--stale-minutes", "0"]);
        c
    });
}

// ---------------------------------------------------------------------------------------------
// The database as the drills read it

/// Read-only queries of the drills on either backend (a pool of their own, so that the
/// store's writer is never taken by a test while a child process writes).
enum Sql {
    Lite(SqlitePool),
    Pg(PgPool),
}

impl Sql {
    async fn open(db: &TestDb) -> Sql {
        match &db.location {
            Location::SqliteFile(p) => {
                let options = SqliteConnectOptions::new()
                    .filename(p)
                    .busy_timeout(Duration::from_secs(30));
                Sql::Lite(
                    SqlitePoolOptions::new()
                        .max_connections(2)
                        .connect_with(options)
                        .await
                        .expect("open sqlite"),
                )
            }
            Location::Postgres(url) => Sql::Pg(
                PgPoolOptions::new()
                    .max_connections(2)
                    .connect(url)
                    .await
                    .expect("connect postgres"),
            ),
        }
    }

    async fn rows<T>(&self, q: &'static str) -> Vec<T>
    where
        T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    {
        match self {
            Sql::Lite(p) => sqlx::query_as(q).fetch_all(p).await,
            Sql::Pg(p) => sqlx::query_as(q).fetch_all(p).await,
        }
        .unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    async fn count(&self, q: &'static str) -> i64 {
        let rows: Vec<(i64,)> = self.rows(q).await;
        rows.first().map(|r| r.0).unwrap_or(0)
    }

    async fn strings(&self, q: &'static str) -> BTreeSet<String> {
        let rows: Vec<(String,)> = self.rows(q).await;
        rows.into_iter().map(|r| r.0).collect()
    }

    /// Waits until the server has let go of every connection of the process named `app`
    /// (PostgreSQL; a SQLite transaction ends with its process).
    async fn settle(&self, app: &str) {
        let Sql::Pg(p) = self else { return };
        let until = Instant::now() + PATIENCE;
        loop {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = $1",
            )
            .bind(app)
            .fetch_one(p)
            .await
            .expect("pg_stat_activity");
            if n == 0 {
                return;
            }
            assert!(
                Instant::now() < until,
                "{app}'s connections outlive it ({n})"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn close(self) {
        match self {
            Sql::Lite(p) => p.close().await,
            Sql::Pg(p) => p.close().await,
        }
    }
}

/// Polls `what` until it returns true; panics after [`PATIENCE`], or at once when one of
/// `procs`' `running` processes has ended.
async fn until<F, Fut>(procs: &mut Procs, running: &[&str], what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if ready().await {
            return;
        }
        for name in running {
            procs.running(name);
        }
        assert!(
            Instant::now() < deadline,
            "never: {what}\n{}",
            procs.tails()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What must hold of the intake at any time, crash or not, when `n` requests are stored: one
/// card per request and one request per card, one audit record and one portal event per
/// card, one render job per card that is not held for review.
async fn assert_intake_consistent(sql: &Sql, n: i64) {
    assert_eq!(sql.count("SELECT COUNT(*) FROM requests").await, n);
    assert_eq!(sql.count("SELECT COUNT(*) FROM cards").await, n);
    assert_eq!(
        sql.count("SELECT COUNT(DISTINCT request_id) FROM cards")
            .await,
        n,
        "one card per request"
    );
    assert_eq!(
        sql.count("SELECT COUNT(*) FROM cards c JOIN requests r ON r.request_id = c.request_id")
            .await,
        n,
        "every card has its request"
    );
    assert_eq!(
        sql.count("SELECT COUNT(DISTINCT card_number) FROM cards")
            .await,
        n
    );
    assert_eq!(
        sql.count(
            "SELECT COUNT(*) FROM audit_log WHERE action IN ('request.accepted', 'request.held')"
        )
        .await,
        n,
        "one intake audit record per card"
    );
    assert_eq!(
        sql.count(
            "SELECT COUNT(DISTINCT a.entity_id) FROM audit_log a JOIN cards c \
             ON c.card_number = a.entity_id \
             WHERE a.action IN ('request.accepted', 'request.held')"
        )
        .await,
        n,
        "each card's own intake record"
    );
    assert_eq!(
        sql.count(
            "SELECT COUNT(*) FROM outbox WHERE event_type IN ('request.accepted', 'request.held')"
        )
        .await,
        n,
        "one portal event per card"
    );
    let held = sql
        .count("SELECT COUNT(*) FROM cards WHERE state = 'held_for_review'")
        .await;
    assert_eq!(
        sql.count("SELECT COUNT(*) FROM jobs WHERE kind = 'render'")
            .await,
        n - held,
        "one render job per card not held"
    );
}

/// First issues of the fixtures under fresh request ids `PREFIX-nnnnn` (a renewal reused
/// under a new id would renew one card twice).
fn first_issues(prefix: &str, n: usize) -> Vec<Value> {
    let firsts: Vec<&Value> = common::valid_fixtures()
        .iter()
        .filter(|f| f["kind"] == "first_issue")
        .collect();
    (0..n)
        .map(|i| {
            let mut r = firsts[i % firsts.len()].clone();
            r["request_id"] = Value::String(format!("{prefix}-{i:05}"));
            r
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. cqcfab import killed midway, twice

/// Requests in the import drill's file.
const IMPORT_REQUESTS: usize = 3000;

async fn an_import_killed_twice_then_run_again_takes_every_request_exactly_once(db: &TestDb) {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tmp");
    let data = data_dir(dir.path());
    let file = dir.path().join("requests.jsonl");
    // The committed fixtures as they are (every kind the synthetic generator makes: first
    // issues, renewals, replacements, foreign and CEDEX addresses, held for review …; they are
    // `cqcfab fixtures --count 200`, byte for byte), then first issues under fresh ids up to
    // the file's size (generating thousands anew takes minutes in a debug build).
    let committed = std::fs::read_to_string(common::repo_path("fixtures/requests/valid.jsonl"))
        .expect("valid.jsonl");
    let mut lines: Vec<String> = committed
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    let more = IMPORT_REQUESTS - lines.len();
    lines.extend(
        first_issues("IMPORT", more)
            .iter()
            .map(|r| serde_json::to_string(r).expect("json")),
    );
    std::fs::write(&file, lines.join("\n") + "\n").expect("requests file");
    let ids: Vec<String> = lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            v["request_id"].as_str().expect("request_id").to_string()
        })
        .collect();
    assert_eq!(ids.len(), IMPORT_REQUESTS);

    let sql = Sql::open(db).await;
    let mut procs = Procs::new(dir.path());
    let total = IMPORT_REQUESTS as i64;
    let mut stored = 0i64;
    let mut at_kill = Vec::new();
    for round in 1..=2 {
        let name = format!("import-{round}");
        let mut cmd = cqcfab(db, &data, &name);
        cmd.arg("import").arg(&file);
        procs.spawn(&name, cmd);
        // A quarter of the file further than the last run got.
        let target = stored + total / 4;
        let s = &sql;
        until(
            &mut procs,
            &[name.as_str()],
            "requests stored",
            move || async move { s.count("SELECT COUNT(*) FROM requests").await >= target },
        )
        .await;
        procs.kill(&name);
        sql.settle(&name).await;
        let now = sql.count("SELECT COUNT(*) FROM requests").await;
        assert!(
            now >= target && now < total,
            "round {round}: killed midway, {now} of {total}"
        );
        // What the kill left is consistent: no request without its card, audit record,
        // event and job, nothing half written.
        assert_intake_consistent(&sql, now).await;
        assert!(db.store.verify_audit().await.expect("audit").is_intact());
        at_kill.push(now);
        stored = now;
    }

    // Run to its end: what the killed runs stored is replayed, the rest taken.
    let out = run_ok({
        let mut c = cqcfab(db, &data, "import-3");
        c.arg("import").arg(&file);
        c
    });
    let report = format!(
        "{total} line(s): {} new, {stored} already present, 0 rejected",
        total - stored
    );
    assert!(out.contains(&report), "expected {report:?} in\n{out}");
    assert_intake_consistent(&sql, total).await;
    let carded = sql.strings("SELECT request_id FROM cards").await;
    let wanted: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(carded, wanted, "every request of the file has its card");

    // And again: every line a replay, nothing new.
    let out = run_ok({
        let mut c = cqcfab(db, &data, "import-4");
        c.arg("import").arg(&file);
        c
    });
    let report = format!("{total} line(s): 0 new, {total} already present, 0 rejected");
    assert!(out.contains(&report), "expected {report:?} in\n{out}");
    assert_intake_consistent(&sql, total).await;
    let audit = db.store.verify_audit().await.expect("audit");
    assert!(audit.is_intact(), "{:?}", audit.problems);
    operator_checks(db, &data);
    eprintln!(
        "drill import ({}): {IMPORT_REQUESTS} requests; killed at {at_kill:?} stored; {} audit \
         records; {:.1} s in all",
        db.backend,
        audit.records,
        started.elapsed().as_secs_f64()
    );
    sql.close().await;
}

// ---------------------------------------------------------------------------------------------
// 2. cqcfab serve killed during HTTP intake

/// Requests posted in the HTTP drill, by this many clients at once.
const HTTP_REQUESTS: usize = 600;
const CLIENTS: usize = 8;

/// What a client got for one request: the answer, or why there was none.
type Outcome = Result<(u16, Value), String>;

/// POST /v1/requests on a connection of its own, every failure returned (a killed server
/// resets connections, refuses them, or cuts an answer short).
async fn post_request(addr: SocketAddr, body: Vec<u8>) -> Outcome {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(conn);
        let request = hyper::Request::builder()
            .method("POST")
            .uri("/v1/requests")
            .header("host", format!("localhost:{}", addr.port()))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        let json = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "answer cut short ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })?;
        Ok((status, json))
    };
    tokio::time::timeout(PATIENCE, exchange)
        .await
        .unwrap_or_else(|_| Err("no answer".into()))
}

/// The requests (indices) whose answer a client has received.
type Answered = Arc<Mutex<BTreeSet<usize>>>;

/// `CLIENTS` clients posting the requests `todo` (indices into `bodies`) until none is left;
/// every outcome by index; each request answered is added to `answered` as it comes.
async fn post_all(
    addr: SocketAddr,
    bodies: &Arc<Vec<Vec<u8>>>,
    todo: Vec<usize>,
    answered: &Answered,
) -> BTreeMap<usize, Outcome> {
    let todo = Arc::new(todo);
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let (bodies, todo, next) = (bodies.clone(), todo.clone(), next.clone());
        let answered = answered.clone();
        clients.spawn(async move {
            let mut got = Vec::new();
            loop {
                let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    return got;
                };
                let outcome = post_request(addr, bodies[i].clone()).await;
                if outcome.is_ok() {
                    answered.lock().expect("answered").insert(i);
                }
                got.push((i, outcome));
            }
        });
    }
    let mut all = BTreeMap::new();
    while let Some(got) = clients.join_next().await {
        all.extend(got.expect("client"));
    }
    all
}

fn serve(db: &TestDb, data: &Path, app: &str, port: u16) -> Command {
    let mut c = cqcfab(db, data, app);
    c.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--render-workers", "0"]);
    c
}

/// Waits until `name` answers on `addr`.
async fn wait_serving(procs: &mut Procs, name: &str, addr: SocketAddr) {
    until(procs, &[name], "the service answers", move || async move {
        let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
            return false;
        };
        drop(stream);
        let page = common::console::request(addr, "GET", "/healthz", &[], Vec::new()).await;
        page.status == 200
    })
    .await;
}

async fn a_service_killed_during_intake_then_retried_makes_one_card_per_request(db: &TestDb) {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tmp");
    let data = data_dir(dir.path());
    let sql = Sql::open(db).await;
    let requests = first_issues("HTTP", HTTP_REQUESTS);
    let ids: Vec<String> = requests
        .iter()
        .map(|r| r["request_id"].as_str().expect("id").to_string())
        .collect();
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        requests
            .iter()
            .map(|r| serde_json::to_vec(r).expect("json"))
            .collect(),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut procs = Procs::new(dir.path());
    procs.spawn("serve-1", serve(db, &data, "serve-1", port));
    wait_serving(&mut procs, "serve-1", addr).await;

    // The portal posts; a third of the way through, the service dies. It is killed when,
    // frozen (SIGSTOP), it has stored a request whose answer no client has received yet: most
    // often that answer is then lost with the process (a batch just committed), the case a
    // retry must get right; which requests it was is read from the database afterwards.
    let answered: Answered = Arc::default();
    let clients = {
        let (bodies, answered) = (bodies.clone(), answered.clone());
        tokio::spawn(async move {
            post_all(addr, &bodies, (0..HTTP_REQUESTS).collect(), &answered).await
        })
    };
    let target = (HTTP_REQUESTS / 3) as i64;
    let s = &sql;
    until(
        &mut procs,
        &["serve-1"],
        "a third taken in",
        move || async move { s.count("SELECT COUNT(*) FROM requests").await >= target },
    )
    .await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        procs.signal("serve-1", "STOP");
        let stored: Vec<(String,)> = sql.rows("SELECT request_id FROM requests").await;
        let unanswered = {
            let answered = answered.lock().expect("answered");
            stored
                .iter()
                .filter(|(id,)| {
                    let i = ids.iter().position(|x| x == id).expect("one of ours");
                    !answered.contains(&i)
                })
                .count()
        };
        if unanswered > 0 || Instant::now() > deadline {
            break;
        }
        procs.signal("serve-1", "CONT");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    procs.kill("serve-1");
    sql.settle("serve-1").await;
    let committed = sql.strings("SELECT request_id FROM requests").await;
    let first = clients.await.expect("clients");
    assert_eq!(first.len(), HTTP_REQUESTS);
    assert_intake_consistent(&sql, committed.len() as i64).await;

    // Every request the service acknowledged survived its death.
    let mut failed = Vec::new();
    let mut lost_answers = 0;
    for (i, outcome) in &first {
        match outcome {
            Ok((status, body)) => {
                assert_eq!(*status, 201, "{}: {body}", ids[*i]);
                assert!(
                    committed.contains(&ids[*i]),
                    "{} was answered 201 but is not stored",
                    ids[*i]
                );
            }
            Err(_) => {
                failed.push(*i);
                lost_answers += usize::from(committed.contains(&ids[*i]));
            }
        }
    }
    assert!(
        !failed.is_empty(),
        "no client saw the service die: {} stored",
        committed.len()
    );
    assert!(failed.len() < HTTP_REQUESTS, "no request was answered");

    // The service comes back on the same address; the clients retry what failed. A request
    // stored before the kill (its answer lost) is replayed (200), the others are taken (201).
    procs.spawn("serve-2", serve(db, &data, "serve-2", port));
    wait_serving(&mut procs, "serve-2", addr).await;
    let retried = post_all(addr, &bodies, failed.clone(), &Arc::default()).await;
    let mut answers: BTreeMap<usize, Value> = BTreeMap::new();
    for (i, outcome) in &retried {
        let (status, body) = outcome
            .as_ref()
            .unwrap_or_else(|e| panic!("retry of {}: {e}", ids[*i]));
        let want = if committed.contains(&ids[*i]) {
            200
        } else {
            201
        };
        assert_eq!(*status, want, "retry of {}: {body}", ids[*i]);
        answers.insert(*i, body.clone());
    }
    // Every request answered before the kill, sent again: its first answer, word for word.
    let acknowledged: Vec<usize> = (0..HTTP_REQUESTS).filter(|i| !failed.contains(i)).collect();
    let replays = post_all(addr, &bodies, acknowledged.clone(), &Arc::default()).await;
    for i in &acknowledged {
        let (status, body) = replays[i]
            .as_ref()
            .unwrap_or_else(|e| panic!("replay of {}: {e}", ids[*i]));
        let (_, original) = first[i].as_ref().expect("answered");
        assert_eq!(*status, 200, "replay of {}: {body}", ids[*i]);
        assert_eq!(body, original, "replay of {} differs", ids[*i]);
        answers.insert(*i, body.clone());
    }

    // One card per request id, the one its answer names.
    assert_intake_consistent(&sql, HTTP_REQUESTS as i64).await;
    let cards: Vec<(String, String)> = sql.rows("SELECT request_id, card_number FROM cards").await;
    let by_request: BTreeMap<String, String> = cards.into_iter().collect();
    assert_eq!(
        by_request.keys().cloned().collect::<BTreeSet<_>>(),
        ids.iter().cloned().collect::<BTreeSet<_>>()
    );
    for (i, body) in &answers {
        assert_eq!(
            body["card_number"].as_str(),
            Some(by_request[&ids[*i]].as_str()),
            "{}: {body}",
            ids[*i]
        );
        assert_eq!(body["request_id"], ids[*i], "{body}");
    }
    procs.interrupt("serve-2");
    let audit = db.store.verify_audit().await.expect("audit");
    assert!(audit.is_intact(), "{:?}", audit.problems);
    operator_checks(db, &data);
    eprintln!(
        "drill serve ({}): killed with {} of {HTTP_REQUESTS} stored; {} requests failed on the \
         clients, {lost_answers} of them stored with their answer lost; {:.1} s",
        db.backend,
        committed.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    sql.close().await;
}

// ---------------------------------------------------------------------------------------------
// 3. cqcfab station encode killed mid-write (in-process readers, then PC/SC readers)

/// Cards the in-process station drill personalises. An in-process card takes a few
/// milliseconds, of which its body is "being written" for a small part (on SQLite, one freeze
/// in ten or twenty lands there): there must be enough cards for a freeze to land there
/// long before the last one is done.
const STATION_CARDS: usize = 120;
/// The same through pcscd, with slow cards and the simulator's swap gap (~0.8 s a card).
const PCSC_CARDS: usize = 8;

/// A body being written, as the ledger holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Drawn {
    serial: i64,
    card_id: i64,
}

/// Freezes `name` (SIGSTOP) again and again, looking at the ledger each time, until it is
/// frozen with a body drawn and not finished while at least `done` cards are personalised;
/// then kills it (SIGKILL) in that state. Returns the bodies being written when it died (read
/// after its connections are gone: on PostgreSQL a bind sent just before the freeze may still
/// land, then the list is empty and the caller tries again).
async fn kill_mid_write(procs: &mut Procs, name: &str, sql: &Sql, done: i64) -> Vec<Drawn> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        procs.running(name);
        assert!(
            Instant::now() < deadline,
            "{name} never caught mid-write\n{}",
            procs.tails()
        );
        let personalised = sql
            .count("SELECT COUNT(*) FROM card_bodies WHERE state = 'personalised'")
            .await;
        if personalised >= done {
            procs.signal(name, "STOP");
            let writing = sql
                .count("SELECT COUNT(*) FROM card_bodies WHERE state = 'drawn'")
                .await;
            if writing > 0 {
                procs.kill(name);
                sql.settle(name).await;
                return sql
                    .rows("SELECT serial, card_id FROM card_bodies WHERE state = 'drawn'")
                    .await;
            }
            let left = sql
                .count("SELECT COUNT(*) FROM jobs WHERE kind = 'encode' AND state <> 'done'")
                .await;
            assert!(
                left > 0,
                "{name} finished every card before it was caught mid-write"
            );
            procs.signal(name, "CONT");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// What must hold after the stations are done, whatever killed them: every card personalised
/// once, on a chip of its own that is its one personalised body, with one personalisation
/// record; the bodies being written at the kill spoiled and bound to nothing; every encode
/// job done; the ledger reconciled with nothing left in progress.
async fn assert_encoded_once(db: &TestDb, sql: &Sql, numbers: &[String], killed: &[Drawn]) {
    let n = numbers.len() as i64;
    let cards: Vec<(i64, String, String, Option<i64>)> = sql
        .rows("SELECT id, card_number, state, chip_serial FROM cards")
        .await;
    assert_eq!(cards.len(), numbers.len());
    let mut chips = BTreeSet::new();
    for (id, number, state, chip) in &cards {
        assert_eq!(state, "personalised", "card {number}");
        let chip = chip.unwrap_or_else(|| panic!("card {number} has no chip"));
        assert!(chips.insert(chip), "chip {chip:016X} on two cards");
        assert!(
            killed.iter().all(|k| k.serial != chip),
            "card {number} ({id}) is bound to the body being written at the kill"
        );
    }
    assert_eq!(
        sql.count(
            "SELECT COUNT(*) FROM card_bodies b JOIN cards c \
             ON c.id = b.card_id AND c.chip_serial = b.serial WHERE b.state = 'personalised'"
        )
        .await,
        n,
        "each card's chip is its personalised body"
    );
    assert_eq!(
        sql.count("SELECT COUNT(*) FROM card_bodies WHERE state = 'personalised'")
            .await,
        n
    );
    let records: Vec<(String, i64)> = sql
        .rows(
            "SELECT entity_id, COUNT(*) FROM audit_log WHERE action = 'card.personalise' \
             GROUP BY entity_id",
        )
        .await;
    let records: BTreeMap<String, i64> = records.into_iter().collect();
    let want: BTreeMap<String, i64> = numbers.iter().map(|n| (n.clone(), 1)).collect();
    assert_eq!(records, want, "one personalisation record per card");
    for k in killed {
        let body = db
            .store
            .body(k.serial as u64)
            .await
            .expect("body")
            .expect("the killed body");
        assert_eq!(body.state, "spoiled", "{:016X}: {body:?}", k.serial);
        assert_eq!(body.card_id, Some(k.card_id), "{body:?}");
        let reason = body.reason.unwrap_or_default();
        assert!(reason.contains("interrupted"), "{reason}");
        let spoiled = db
            .store
            .audit_history("card_body", &format!("{:016X}", k.serial))
            .await
            .expect("audit")
            .iter()
            .filter(|r| r.action == "body.spoiled")
            .count();
        assert_eq!(spoiled, 1, "{:016X} spoiled once", k.serial);
    }
    let jobs: Vec<(String, i64)> = sql
        .rows("SELECT state, COUNT(*) FROM jobs WHERE kind = 'encode' GROUP BY state")
        .await;
    assert_eq!(jobs, [("done".to_string(), n)], "every encode job done");
    let report = db.store.stock_report(0).await.expect("stock report");
    assert!(report.reconciles(), "{:?}", report.problems);
    assert_eq!(report.total(|l| l.personalised), n);
    assert_eq!(report.total(|l| l.in_progress), 0);
    let audit = db.store.verify_audit().await.expect("audit");
    assert!(audit.is_intact(), "{:?}", audit.problems);
}

/// Makes the leases of every running encode job run out now. That stands for the 120 s an
/// encode lease lasts (`station::encode::LEASE_MS`): the time a dead station's jobs wait
/// before another station may take them.
async fn leases_run_out(db: &TestDb) -> u64 {
    db.exec(
        "UPDATE jobs SET lease_expires_at = 0 WHERE kind = 'encode' AND state = 'running'",
        &[],
    )
    .await
    .expect("leases run out")
}

/// An encode job the killed station held: (id, attempts at the kill).
type Held = (i64, i64);

/// After the kill: the ledger names each body left drawn, the dead station's jobs keep their
/// leases (until [`leases_run_out`]).
async fn after_the_kill(db: &TestDb, sql: &Sql, station: &str, killed: &[Drawn]) -> Vec<Held> {
    let report = db.store.stock_report(0).await.expect("stock report");
    assert!(!report.reconciles(), "a body left drawn is a discrepancy");
    for k in killed {
        let hex = format!("{:016X}", k.serial);
        assert!(
            report.problems.iter().any(|p| p.contains(&hex)),
            "{hex} not named: {:?}",
            report.problems
        );
    }
    let running: Vec<(i64, i64, Option<String>, String)> = sql
        .rows(
            "SELECT id, attempts, lease_owner, payload FROM jobs \
             WHERE kind = 'encode' AND state = 'running'",
        )
        .await;
    let mine = format!("{station}:");
    let held: Vec<&(i64, i64, Option<String>, String)> = running
        .iter()
        .filter(|(_, _, owner, _)| owner.as_deref().is_some_and(|o| o.starts_with(&mine)))
        .collect();
    // Each body being written is for a card whose job the dead station held.
    let cards: Vec<(i64, String)> = sql.rows("SELECT id, card_number FROM cards").await;
    for k in killed {
        let number = &cards.iter().find(|c| c.0 == k.card_id).expect("its card").1;
        assert!(
            held.iter().any(|j| {
                let payload: Value = serde_json::from_str(&j.3).expect("payload");
                payload["card_number"] == number.as_str()
            }),
            "the job of {number} was not held by {station}: {running:?}"
        );
    }
    let held: Vec<Held> = held.iter().map(|j| (j.0, j.1)).collect();
    // Any other running job is an earlier killed station's, its lease run out already.
    assert_eq!(leases_run_out(db).await as usize, running.len());
    held
}

/// The jobs the killed station held were claimed once more, by the restarted station, once
/// their lease ran out; with `only` (no earlier station was killed), every other encode job
/// was claimed once.
async fn assert_taken_over(sql: &Sql, held: &[Held], killed: &str, restarted: &str, only: bool) {
    let jobs: Vec<(i64, i64, Option<String>, Option<String>)> = sql
        .rows("SELECT id, attempts, lease_owner, last_error FROM jobs WHERE kind = 'encode'")
        .await;
    for (id, attempts, owner, error) in jobs {
        if let Some((_, before)) = held.iter().find(|h| h.0 == id) {
            assert_eq!(attempts, before + 1, "job {id}: {error:?}");
            let owner = owner.unwrap_or_default();
            assert!(
                owner.starts_with(&format!("{restarted}:")),
                "job {id}: {owner}"
            );
            let error = error.unwrap_or_default();
            assert!(
                error.contains(&format!("lease of {killed}:")) && error.contains("expired"),
                "job {id}: {error}"
            );
        } else if only {
            assert_eq!(attempts, 1, "job {id}: {error:?}");
        }
    }
}

/// Starts stations `{prefix}1`, `{prefix}2` … (commands from `station`) and kills each
/// mid-write (after two cards), until one dies with a body being written (on PostgreSQL a
/// bind already sent when the process froze may land after the kill: then nothing was left
/// half written, the leases of that station run out, and the next one is tried). Returns the
/// victim's name, the bodies being written and the jobs it held, and whether it was the first.
async fn kill_a_station_mid_write(
    db: &TestDb,
    sql: &Sql,
    procs: &mut Procs,
    prefix: &str,
    station: impl Fn(&str) -> Command,
) -> (String, Vec<Drawn>, Vec<Held>, bool) {
    for attempt in 1..=5 {
        let victim = format!("{prefix}{attempt}");
        procs.spawn(&victim, station(&victim));
        let killed = kill_mid_write(procs, &victim, sql, 2).await;
        if killed.is_empty() {
            leases_run_out(db).await;
            continue;
        }
        let held = after_the_kill(db, sql, &victim, &killed).await;
        return (victim, killed, held, attempt == 1);
    }
    panic!("no station was caught mid-write\n{}", procs.tails());
}

/// The `"key": N` of a station's printed summary.
fn summary(log: &str, key: &str) -> i64 {
    log.split(&format!("\"{key}\": "))
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in the summary:\n{log}"))
}

fn encode(db: &TestDb, data: &Path, name: &str) -> Command {
    let mut c = cqcfab(db, data, name);
    c.args(["station", "encode", "--name", name]);
    c
}

async fn a_station_killed_mid_write_then_restarted_makes_every_card_once(db: &TestDb) {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tmp");
    let data = data_dir(dir.path());
    let mut numbers = common::production::rendered_cards(db, STATION_CARDS).await;
    numbers.sort();
    // The in-process readers' blanks come from the simulator's lot.
    db.store
        .receive_lot(
            SIM_LOT,
            SIM_FIRST_SERIAL,
            SIM_FIRST_SERIAL + SIM_LOT_SIZE - 1,
            "test",
        )
        .await
        .expect("lot");
    let rendered = started.elapsed();
    let sql = Sql::open(db).await;
    let mut procs = Procs::new(dir.path());

    // A station with two readers, killed while a chip is being written, after two cards.
    let (victim, killed, held, only) =
        kill_a_station_mid_write(db, &sql, &mut procs, "encode-a", |name| {
            let mut c = encode(db, &data, name);
            c.args(["--readers", "inprocess", "--inprocess-readers", "2"]);
            c
        })
        .await;
    let done_before = sql
        .count("SELECT COUNT(*) FROM card_bodies WHERE state = 'personalised'")
        .await;

    // Restarted, its readers are first offered the very body being written at the kill (as
    // if the operator put it back in the hopper): the ledger refuses it.
    let first = killed.iter().map(|k| k.serial).min().expect("a body");
    let mut cmd = encode(db, &data, "encode-b");
    cmd.args([
        "--readers",
        "inprocess",
        "--inprocess-readers",
        "2",
        "--drain",
    ])
    .args(["--first-serial", &format!("{first:016X}")])
    .args(["--blanks-per-job", "10"]);
    procs.spawn("encode-b", cmd);
    let log = procs.finish("encode-b");
    assert_eq!(
        summary(&log, "personalised"),
        STATION_CARDS as i64 - done_before,
        "{log}"
    );
    assert!(
        summary(&log, "refused") >= 1,
        "the used body was offered: {log}"
    );
    assert_encoded_once(db, &sql, &numbers, &killed).await;
    assert_taken_over(&sql, &held, &victim, "encode-b", only).await;
    operator_checks(db, &data);
    eprintln!(
        "drill station ({}): {STATION_CARDS} cards rendered in {:.1} s; {victim} killed with \
         {done_before} done and {:?} being written; the restart refused {} bodies; {:.1} s",
        db.backend,
        rendered.as_secs_f64(),
        killed
            .iter()
            .map(|k| format!("{:016X}", k.serial))
            .collect::<Vec<_>>(),
        summary(&log, "refused"),
        started.elapsed().as_secs_f64()
    );
    sql.close().await;
}

/// The master key of the PC/SC drill's chips (the station gets it in hex).
const PCSC_MASTER: &[u8] = b"drills pcsc master key";
/// The first pcscd's two vpcd readers, one vpcd block.
const PCSC_READERS: [&str; 2] = ["Virtual PCD 00 00", "Virtual PCD 00 01"];
/// The PC/SC readers are shared by every test of this file that uses them: one at a time.
static PCSC: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether the first pcscd serves the vpcd readers.
fn pcscd_ready() -> bool {
    let ready = cqcfab_drivers::pcsc_reader::readers()
        .map(|r| PCSC_READERS.iter().all(|want| r.iter().any(|n| n == want)))
        .unwrap_or(false);
    if !ready {
        assert!(
            std::env::var_os("CQCFAB_REQUIRE_PCSC").is_none(),
            "CQCFAB_REQUIRE_PCSC is set but pcscd does not list {PCSC_READERS:?}"
        );
        eprintln!("SKIPPED: the PC/SC station drill needs pcscd with vpcd (.ci/test starts it)");
    }
    ready
}

async fn a_pcsc_station_killed_mid_write_then_restarted_makes_every_card_once(db: &TestDb) {
    if !pcscd_ready() {
        return;
    }
    let _readers = PCSC.lock().await;
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tmp");
    let data = data_dir(dir.path());
    let mut numbers = common::production::rendered_cards(db, PCSC_CARDS).await;
    numbers.sort();
    const FIRST: u64 = 0x0D0D_0000_0000_0001;
    db.store
        .receive_lot("LOT-DRILL", FIRST, FIRST + 99, "test")
        .await
        .expect("lot");
    // Slow cards (5 ms an APDU), so that a write is long against everything else.
    let mut blanks = Blanks::new(FIRST, FIRST + 99, PCSC_MASTER);
    for n in 0..40 {
        blanks = blanks.fault(n, vec![Fault::SlowMs(5)]);
    }
    // The simulator's rack in this process fills both readers and records what leaves them.
    let rack_stop = Arc::new(AtomicBool::new(false));
    let left = Arc::new(Mutex::new(Vec::<LeftCard>::new()));
    let rack_thread = {
        let (stop, left) = (rack_stop.clone(), left.clone());
        let ports = rack::ports(&[vpcd::DEFAULT_PORT, vpcd::DEFAULT_PORT + 1]);
        std::thread::spawn(move || rack::run(&ports, blanks, &stop, &left))
    };
    let stop_rack = StopOnDrop(&rack_stop);
    let sql = Sql::open(db).await;
    let mut procs = Procs::new(dir.path());
    let station = |name: &str, drain: bool| {
        let mut c = encode(db, &data, name);
        c.args(["--readers", "pcsc"])
            .args(["--reader", PCSC_READERS[0], "--reader", PCSC_READERS[1]])
            .args(["--blanks-per-job", "10"])
            .env("CQCFAB_PERSO_MASTER_KEY", hex::encode(PCSC_MASTER));
        if drain {
            c.arg("--drain");
        }
        c
    };
    let (victim, killed, held, only) =
        kill_a_station_mid_write(db, &sql, &mut procs, "pcsc-a", |name| station(name, false)).await;
    let done_before = sql
        .count("SELECT COUNT(*) FROM card_bodies WHERE state = 'personalised'")
        .await;

    // Restarted on the same readers: the half-written chip is still in its reader.
    procs.spawn("pcsc-b", station("pcsc-b", true));
    let log = procs.finish("pcsc-b");
    assert_eq!(
        summary(&log, "personalised"),
        PCSC_CARDS as i64 - done_before,
        "{log}"
    );
    drop(stop_rack);
    rack_thread.join().expect("rack");
    let left = std::mem::take(&mut *left.lock().expect("left"));
    assert_encoded_once(db, &sql, &numbers, &killed).await;
    assert_taken_over(&sql, &held, &victim, "pcsc-b", only).await;
    // The chips: each card's bound chip left its reader locked and holding that card; the
    // chip being written at the kill left too, and no card names it.
    let chips: Vec<(String, i64)> = sql
        .rows("SELECT card_number, chip_serial FROM cards WHERE chip_serial IS NOT NULL")
        .await;
    assert_eq!(chips.len(), numbers.len());
    for (number, chip) in &chips {
        let chip = *chip as u64;
        let out: Vec<&LeftCard> = left.iter().filter(|l| l.0 == chip).collect();
        assert_eq!(out.len(), 1, "chip {chip:016X} of {number}: {out:?}");
        assert_eq!(out[0].1, LifeCycle::Operational, "{number}");
        assert_eq!(out[0].2.as_deref(), Some(number.as_str()));
    }
    for k in &killed {
        assert!(
            left.iter().any(|l| l.0 == k.serial as u64),
            "the half-written chip {:016X} left its reader",
            k.serial
        );
    }
    operator_checks(db, &data);
    eprintln!(
        "drill pcsc station ({}): {} killed with {done_before} done and {:?} being written; the \
         restart refused {} cards; {:.1} s",
        db.backend,
        victim,
        killed
            .iter()
            .map(|k| format!("{:016X}", k.serial))
            .collect::<Vec<_>>(),
        summary(&log, "refused"),
        started.elapsed().as_secs_f64()
    );
    sql.close().await;
}

// ---------------------------------------------------------------------------------------------
// 4. cqcfab post batch close killed while closing

/// Pieces in the batch of the closing drill.
const BATCH_PIECES: usize = 120;
const DISPATCH: &str = "2026-11-27";
const BATCH: &str = "20261127-lettre-suivie-001";

/// `n` personalised cards, each inserted into its carrier; (card number, piece id) pairs.
/// The cards are taken in but not rendered or encoded (the closing needs only their pieces).
async fn inserted_pieces(db: &TestDb, n: usize) -> Vec<(String, String)> {
    let intake = cqcfab::intake::Intake::new(db.store.clone());
    let mut taking = tokio::task::JoinSet::new();
    for doc in first_issues("POST", n) {
        let intake = intake.clone();
        taking.spawn(async move { intake.submit(doc, "test").await });
    }
    let mut numbers = Vec::new();
    while let Some(done) = taking.join_next().await {
        match done.expect("task").expect("intake") {
            cqcfab::intake::Submission::Created(a) => numbers.push(
                a.body["card_number"]
                    .as_str()
                    .expect("card number")
                    .to_string(),
            ),
            other => panic!("{other:?}"),
        }
    }
    numbers.sort();
    common::production::mark_personalised(db, &numbers).await;
    let pairs = common::production::carriers_for(db, &numbers).await;
    for (card, piece) in &pairs {
        db.store
            .insert_card(&CardKey::Number(card.clone()), piece, "insert-t")
            .await
            .expect("insert");
    }
    pairs
}

fn close(db: &TestDb, data: &Path, app: &str, out: &Path) -> Command {
    let mut c = cqcfab(db, data, app);
    c.args(["post", "batch", "close", "--date", DISPATCH, "--out"])
        .arg(out);
    c
}

async fn batch_state(sql: &Sql) -> Vec<(String, String, Option<String>)> {
    sql.rows("SELECT batch_id, state, manifest_sha256 FROM postal_batches ORDER BY batch_id")
        .await
}

async fn a_batch_close_killed_in_its_transaction_and_after_its_seal_closes_again(db: &TestDb) {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tmp");
    let data = data_dir(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("out");
    let pairs = inserted_pieces(db, BATCH_PIECES).await;
    let prepared = started.elapsed();
    let sql = Sql::open(db).await;
    let mut procs = Procs::new(dir.path());
    let n = BATCH_PIECES as i64;

    // Killed inside the closing transaction: the pieces are numbered and the manifest built,
    // the seal not yet written. The crash-drill pause (CQCFAB_DRILL_CLOSE_PAUSE_MS) holds the
    // transaction open there; its log line says it is there.
    let mut cmd = close(db, &data, "close-1", &out);
    cmd.env("CQCFAB_DRILL_CLOSE_PAUSE_MS", "600000");
    procs.spawn("close-1", cmd);
    until(
        &mut procs,
        &["close-1"],
        "the close holds its transaction",
        || {
            let log = procs_log(&dir, "close-1");
            async move { log.contains("crash drill: holding the closing transaction") }
        },
    )
    .await;
    procs.kill("close-1");
    sql.settle("close-1").await;
    assert_eq!(
        batch_state(&sql).await,
        [(BATCH.to_string(), "open".to_string(), None)],
        "the batch stays open, unsealed"
    );
    assert_eq!(
        sql.count("SELECT COUNT(*) FROM mail_pieces WHERE state = 'batched' AND sequence IS NULL")
            .await,
        n,
        "every piece batched, none numbered"
    );
    assert_eq!(
        std::fs::read_dir(&out).expect("out").count(),
        0,
        "no file written"
    );

    // Killed after the seal, before its files: the manifest's path is a named pipe, whose
    // opening for writing blocks until someone reads it, so the process stops at its first
    // file, right after its commit. (The files are written whole through a temporary name
    // and renamed, `cli::post::write_whole`: the pipe stands at both names.)
    let manifest = out.join(format!("{BATCH}.manifest.csv"));
    let pipes = [
        manifest.clone(),
        out.join(format!(".{BATCH}.manifest.csv.partial")),
    ];
    for pipe in &pipes {
        let made = Command::new("mkfifo").arg(pipe).status().expect("mkfifo");
        assert!(made.success(), "mkfifo {}", pipe.display());
    }
    procs.spawn("close-2", close(db, &data, "close-2", &out));
    let s = &sql;
    until(
        &mut procs,
        &["close-2"],
        "the batch sealed",
        move || async move { batch_state(s).await.iter().any(|b| b.1 == "closed") },
    )
    .await;
    procs.kill("close-2");
    sql.settle("close-2").await;
    for pipe in &pipes {
        std::fs::remove_file(pipe).expect("remove the pipe");
    }
    let sealed = batch_state(&sql).await;
    assert_eq!(sealed.len(), 1, "{sealed:?}");
    assert_eq!(
        (sealed[0].0.as_str(), sealed[0].1.as_str()),
        (BATCH, "closed")
    );
    let seal = sealed[0]
        .2
        .clone()
        .expect("sealed with the manifest's hash");
    assert_eq!(
        std::fs::read_dir(&out).expect("out").count(),
        0,
        "no file written"
    );

    // Closing again finishes the job: the sealed batch's files are written, nothing else.
    let text = run_ok(close(db, &data, "close-3", &out));
    let after = batch_state(&sql).await;
    assert_eq!(
        after,
        [(BATCH.to_string(), "closed".to_string(), Some(seal.clone()))],
        "no other batch opened: {text}"
    );
    let csv = std::fs::read(&manifest).expect("the manifest is written");
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&csv)),
        seal,
        "the manifest is the one sealed"
    );
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        ["cover.pdf", "manifest.csv", "totals.csv"].map(|s| format!("{BATCH}.{s}")),
        "{text}"
    );
    // Each piece once, numbered 1..n.
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    let headers = reader.headers().expect("headers").clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (piece_col, seq_col) = (col("piece_id"), col("sequence"));
    let mut listed = BTreeSet::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.expect("row");
        assert_eq!(row[seq_col], (i + 1).to_string());
        assert!(
            listed.insert(row[piece_col].to_string()),
            "{} twice",
            &row[piece_col]
        );
    }
    let pieces: BTreeSet<String> = pairs.iter().map(|p| p.1.clone()).collect();
    assert_eq!(listed, pieces, "the manifest lists each piece once");
    assert_eq!(
        sql.count("SELECT COUNT(DISTINCT sequence) FROM mail_pieces WHERE state = 'batched'")
            .await,
        n
    );
    let closed = db
        .store
        .audit_history("postal_batch", BATCH)
        .await
        .expect("audit")
        .iter()
        .filter(|r| r.action == "batch.closed")
        .count();
    assert_eq!(closed, 1, "closed once in the audit trail");
    // The export gives the same bytes.
    let again = dir.path().join("again");
    run_ok({
        let mut c = cqcfab(db, &data, "export");
        c.args(["post", "batch", "export", "--batch", BATCH, "--out"])
            .arg(&again);
        c
    });
    assert_eq!(
        std::fs::read(again.join(format!("{BATCH}.manifest.csv"))).expect("export"),
        csv
    );
    let audit = db.store.verify_audit().await.expect("audit");
    assert!(audit.is_intact(), "{:?}", audit.problems);
    operator_checks(db, &data);
    eprintln!(
        "drill close ({}): {BATCH_PIECES} pieces made ready in {:.1} s; {:.1} s in all",
        db.backend,
        prepared.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    sql.close().await;
}

/// The log of process `name` of a drill whose files are in `dir`.
fn procs_log(dir: &tempfile::TempDir, name: &str) -> String {
    std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap_or_default()
}
