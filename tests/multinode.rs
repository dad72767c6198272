//! Several nodes on one PostgreSQL database (issue 7): 500 requests, two `cqcfab serve` nodes
//! rendering, four `cqcfab station encode` processes personalising; one node is killed with
//! SIGKILL midway and the other takes its jobs over once their leases run out. Every job ends
//! done exactly once: one render and one personalisation per card in the audit trail, one set
//! of files and one chip per card, the audit chain intact, the stock ledger reconciled.
//!
//! Needs PostgreSQL (CQCFAB_TEST_PG_URL); skipped without it unless CQCFAB_REQUIRE_PG=1. The
//! nodes lease render jobs for 5 s (`--render-lease-secs`): the killed node's jobs wait that
//! long before the other node may take them.
//!
//! The four stations use in-process readers, each station with its own range of the
//! simulator's lot (`--first-serial`), as four bins of blanks on a real line: no body is
//! offered twice, so no station ever has one refused.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::TestDb;
use common::http;
use cqcfab::clock::Clock;
use cqcfab::render::worker::KEPT;
use cqcfab::store::Location;
use cqcfab_simulator::blanks::{SIM_FIRST_SERIAL, SIM_LOT, SIM_LOT_SIZE};
use serde_json::Value;
use sqlx::PgPool;

const REQUESTS: usize = 500;
/// Render jobs done (at least) when the first node is killed.
const KILL_AFTER: i64 = 150;
const RENDER_WORKERS: &str = "2";
const STATIONS: usize = 4;
const READERS_PER_STATION: &str = "2";
/// The nodes' render lease.
const LEASE_SECS: i64 = 5;
/// Serials between two stations' first blanks.
const STATION_RANGE: u64 = 100_000;

/// The child processes of the test, killed (SIGKILL) and reaped when it ends, also on a
/// failed assertion; their output goes to files whose ends are printed on failure.
struct Fleet {
    procs: Vec<Proc>,
}

struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    /// Killed on purpose: its end is no failure.
    killed: bool,
}

impl Fleet {
    fn spawn(&mut self, name: &str, mut cmd: Command, logs: &Path) -> u32 {
        let log = logs.join(format!("{name}.log"));
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
            killed: false,
        });
        pid
    }

    fn get(&mut self, name: &str) -> &mut Proc {
        self.procs
            .iter_mut()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no process {name}"))
    }

    /// Panics with the logs if a process ended before its time.
    fn all_running(&mut self) {
        let mut dead = Vec::new();
        for p in self.procs.iter_mut().filter(|p| !p.killed) {
            if let Ok(Some(status)) = p.child.try_wait() {
                dead.push(format!("{} ended: {status}", p.name));
            }
        }
        assert!(dead.is_empty(), "{dead:?}\n{}", self.tails());
    }

    /// SIGKILL, as a power cut or the OOM killer would.
    fn kill(&mut self, name: &str) -> ExitStatus {
        let p = self.get(name);
        p.killed = true;
        p.child.kill().expect("SIGKILL");
        p.child.wait().expect("reap")
    }

    /// SIGINT (an operator's Ctrl-C), then waits up to `within` for the process to end.
    fn interrupt(&mut self, name: &str, within: Duration) -> Option<ExitStatus> {
        let p = self.get(name);
        let sent = Command::new("kill")
            .args(["-INT", &p.child.id().to_string()])
            .status()
            .expect("kill -INT");
        assert!(sent.success(), "kill -INT {}", p.name);
        let until = Instant::now() + within;
        loop {
            if let Some(status) = p.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() > until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
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
            s.push_str(&format!("--- {} (last 15 lines)\n", p.name));
            for l in &lines[lines.len().saturating_sub(15)..] {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.tails());
        }
        for p in &mut self.procs {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

/// `cqcfab` on the test's database and data folder (the test PKI lives in `data/pki`), with
/// nothing taken from the caller's configuration.
fn cqcfab(url: &str, data: &Path, work: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cqcfab"));
    c.current_dir(work)
        .arg("--data")
        .arg(data)
        .args(["--database-url", url]);
    common::child::isolate(&mut c);
    c
}

/// The node (process id) of a render worker's lease owner, `HOST-PID-render-N`
/// (`cli::serve`).
fn node_of(owner: &str) -> Option<u32> {
    let (node, _) = owner.rsplit_once("-render-")?;
    node.rsplit_once('-')?.1.parse().ok()
}

async fn job_counts(pg: &PgPool) -> BTreeMap<(String, String), i64> {
    sqlx::query_as::<_, (String, String, i64)>(
        "SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state",
    )
    .fetch_all(pg)
    .await
    .expect("job counts")
    .into_iter()
    .map(|(k, s, n)| ((k, s), n))
    .collect()
}

fn count(counts: &BTreeMap<(String, String), i64>, kind: &str, state: &str) -> i64 {
    counts
        .get(&(kind.to_string(), state.to_string()))
        .copied()
        .unwrap_or(0)
}

/// A render job as the test follows it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct RenderJob {
    id: i64,
    state: String,
    attempts: i64,
    lease_owner: Option<String>,
    lease_expires_at: Option<i64>,
    finished_at: Option<i64>,
    last_error: Option<String>,
    payload: String,
}

impl RenderJob {
    /// Whether node `pid` holds it now (running) or finished it (done).
    fn on_node(&self, pid: u32) -> bool {
        self.lease_owner.as_deref().and_then(node_of) == Some(pid)
    }
}

async fn render_jobs(pg: &PgPool) -> Vec<RenderJob> {
    sqlx::query_as(
        "SELECT id, state, attempts, lease_owner, lease_expires_at, finished_at, last_error, payload \
         FROM jobs WHERE kind = 'render' ORDER BY id",
    )
    .fetch_all(pg)
    .await
    .expect("render jobs")
}

fn now_ms() -> i64 {
    Clock::System.now_ms()
}

/// Waits until the node answers the portal API (GET of a request it must know).
async fn wait_until_serving(fleet: &mut Fleet, port: u16, request_id: &str) {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            let (status, body) = http::get(addr, &format!("/v1/requests/{request_id}")).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["request_id"], request_id, "{body}");
            return;
        }
        fleet.all_running();
        assert!(Instant::now() < until, "nothing listens on {addr}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// action, actor, entity id, after
type AuditRow = (String, String, String, Option<String>);

/// The records of `action` by card number, with their actor and `after`; a card with two is
/// a failure.
fn by_card<'a>(audit: &'a [AuditRow], action: &str) -> BTreeMap<&'a str, (&'a str, Value)> {
    let mut m = BTreeMap::new();
    for (act, actor, entity, after) in audit {
        if act == action {
            let after: Value =
                serde_json::from_str(after.as_deref().unwrap_or("null")).expect("after");
            let before = m.insert(entity.as_str(), (actor.as_str(), after));
            assert!(before.is_none(), "{action} twice for card {entity}");
        }
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_and_four_stations_do_every_job_once_though_a_node_is_killed() {
    let Some(db) = TestDb::postgres(Clock::System).await else {
        return;
    };
    let Location::Postgres(url) = db.location.clone() else {
        unreachable!("a PostgreSQL test database")
    };
    let pg = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .expect("connect");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    let started = Instant::now();

    // The test PKI before any process starts, so that none of them races to create it.
    cqcfab::chip::pki::TestPki::ensure(&data.join("pki")).expect("test PKI");
    // The simulator's blanks in the ledger, as `cqcfab stock receive` would record them.
    db.store
        .receive_lot(
            SIM_LOT,
            SIM_FIRST_SERIAL,
            SIM_FIRST_SERIAL + SIM_LOT_SIZE - 1,
            "test",
        )
        .await
        .expect("lot");

    // 500 first issues under fresh request ids (a renewal reused under a new id would
    // renew one card twice), taken in by `cqcfab import`: 500 render jobs queued.
    let firsts: Vec<&Value> = common::valid_fixtures()
        .iter()
        .filter(|f| f["kind"] == "first_issue")
        .collect();
    let file = dir.path().join("requests.jsonl");
    let mut f = File::create(&file).expect("requests file");
    let mut request_ids = Vec::new();
    for i in 0..REQUESTS {
        let mut r = firsts[i % firsts.len()].clone();
        let id = format!("MN-{i:05}");
        r["request_id"] = Value::String(id.clone());
        writeln!(f, "{}", serde_json::to_string(&r).expect("json")).expect("write");
        request_ids.push(id);
    }
    drop(f);
    let out = cqcfab(&url, &data, &work)
        .arg("import")
        .arg(&file)
        .output()
        .expect("cqcfab import");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("{REQUESTS} new, 0 already present, 0 rejected")),
        "{text}"
    );
    let counts = job_counts(&pg).await;
    assert_eq!(
        count(&counts, "render", "queued"),
        REQUESTS as i64,
        "{counts:?}"
    );
    let imported = started.elapsed();

    // Two nodes and four stations on the one database.
    let mut fleet = Fleet { procs: Vec::new() };
    let logs = dir.path();
    let ports = [common::child::free_port(), common::child::free_port()];
    let mut pids = Vec::new();
    for (name, port) in ["node-a", "node-b"].iter().zip(ports) {
        let mut cmd = cqcfab(&url, &data, &work);
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--render-workers", RENDER_WORKERS])
            .args(["--render-lease-secs", &LEASE_SECS.to_string()]);
        pids.push(fleet.spawn(name, cmd, logs));
    }
    let (victim, survivor) = (pids[0], pids[1]);
    for i in 1..=STATIONS {
        let mut cmd = cqcfab(&url, &data, &work);
        cmd.args(["station", "encode", "--readers", "inprocess"])
            .args(["--inprocess-readers", READERS_PER_STATION])
            .args([
                "--first-serial",
                &format!("{:X}", SIM_FIRST_SERIAL + i as u64 * STATION_RANGE),
            ])
            .args(["--name", &format!("encode-{i}")]);
        fleet.spawn(&format!("encode-{i}"), cmd, logs);
    }
    for port in ports {
        wait_until_serving(&mut fleet, port, &request_ids[0]).await;
    }

    // Midway, while it holds render jobs, node A dies without a word.
    let until = Instant::now() + Duration::from_secs(120);
    let done_before_kill = loop {
        fleet.all_running();
        let done = count(&job_counts(&pg).await, "render", "done");
        let holding = render_jobs(&pg)
            .await
            .iter()
            .any(|j| j.state == "running" && j.on_node(victim));
        if done >= KILL_AFTER && holding {
            break done;
        }
        assert!(
            Instant::now() < until,
            "{done} render jobs done in 120 s\n{}",
            fleet.tails()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let status = fleet.kill("node-a");
    assert_eq!(status.signal(), Some(9), "node A died of SIGKILL: {status}");
    let killed = started.elapsed();
    // Let the server see the dead connections (a commit in flight lands or is rolled back).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let at_kill = render_jobs(&pg).await;
    let held: Vec<RenderJob> = at_kill
        .iter()
        .filter(|j| j.state == "running" && j.on_node(victim))
        .cloned()
        .collect();
    assert!(!held.is_empty(), "node A held no job when it died");
    let rendered_by_victim = at_kill
        .iter()
        .filter(|j| j.state == "done" && j.on_node(victim))
        .count();
    assert!(
        rendered_by_victim > 0,
        "node A rendered nothing before it died: the two nodes did not share the work"
    );
    for j in &held {
        assert_eq!(j.attempts, 1, "{j:?}");
    }
    let held_ids: BTreeSet<i64> = held.iter().map(|j| j.id).collect();

    // Node B and the stations finish everything. Node A's jobs stay its own until their
    // leases run out: nobody may take them earlier.
    let until = Instant::now() + Duration::from_secs(LEASE_SECS as u64) + Duration::from_secs(120);
    let mut next_report = Instant::now();
    loop {
        fleet.all_running();
        let counts = job_counts(&pg).await;
        assert_eq!(count(&counts, "render", "failed"), 0, "{counts:?}");
        assert_eq!(count(&counts, "encode", "failed"), 0, "{counts:?}");
        let jobs = render_jobs(&pg).await;
        // Read after the rows: a lease live now was live when they were read.
        let now = now_ms();
        for j in jobs {
            let Some(before) = held.iter().find(|h| h.id == j.id) else {
                continue;
            };
            let expiry = before.lease_expires_at.expect("a held job has a lease");
            if now < expiry {
                assert_eq!(
                    (j.state.as_str(), j.attempts, j.lease_owner.as_deref()),
                    ("running", 1, before.lease_owner.as_deref()),
                    "job {} taken before node A's lease ran out ({} ms left)",
                    j.id,
                    expiry - now
                );
            }
        }
        if count(&counts, "render", "done") == REQUESTS as i64
            && count(&counts, "encode", "done") == REQUESTS as i64
        {
            break;
        }
        if Instant::now() >= next_report {
            eprintln!("{:>5.1} s: {counts:?}", started.elapsed().as_secs_f64());
            next_report = Instant::now() + Duration::from_secs(10);
        }
        assert!(
            Instant::now() < until,
            "not finished: {counts:?}\n{}",
            fleet.tails()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let finished = started.elapsed();

    // Node B answers for the cards node A dropped: personalised, rendered once.
    for j in &held {
        let payload: Value = serde_json::from_str(&j.payload).expect("payload");
        let number = payload["card_number"].as_str().expect("card number");
        let card = db
            .store
            .card_by_number(number)
            .await
            .expect("card")
            .expect("the card exists");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], ports[1]));
        let (status, body) = http::get(addr, &format!("/v1/requests/{}", card.request_id)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "personalised", "{body}");
        let history = body["history"].as_array().expect("history");
        for action in ["card.start_production", "card.personalise"] {
            let n = history.iter().filter(|h| h["action"] == action).count();
            assert_eq!(n, 1, "{action} in {body}");
        }
    }

    // The rest stop as an operator stops them.
    let mut names = vec!["node-b".to_string()];
    names.extend((1..=STATIONS).map(|i| format!("encode-{i}")));
    for name in &names {
        let status = fleet.interrupt(name, Duration::from_secs(30));
        assert!(
            status.is_some_and(|s| s.success()),
            "{name} did not stop cleanly on SIGINT: {status:?}\n{}",
            fleet.tails()
        );
    }

    // Every job done, none failed, none left.
    let counts = job_counts(&pg).await;
    let expected: BTreeMap<(String, String), i64> = [
        (("encode".to_string(), "done".to_string()), REQUESTS as i64),
        (("render".to_string(), "done".to_string()), REQUESTS as i64),
    ]
    .into();
    assert_eq!(counts, expected);

    // Render jobs: node A's taken over by node B after the lease, each once more; every
    // other one claimed exactly once.
    let jobs = render_jobs(&pg).await;
    let victim_owners: BTreeSet<&str> = held
        .iter()
        .filter_map(|j| j.lease_owner.as_deref())
        .collect();
    let mut taken_over = Vec::new();
    for j in &jobs {
        if held_ids.contains(&j.id) {
            let before = held.iter().find(|h| h.id == j.id).expect("held");
            assert_eq!(j.attempts, 2, "taken over once: {j:?}");
            assert!(j.on_node(survivor), "node B finished it: {j:?}");
            let owner = before.lease_owner.as_deref().unwrap_or_default();
            assert!(
                j.last_error
                    .as_deref()
                    .is_some_and(|e| e.contains(&format!("lease of {owner} expired"))),
                "{j:?}"
            );
            assert!(
                j.finished_at >= before.lease_expires_at,
                "finished before node A's lease ran out: {j:?} (lease until {:?})",
                before.lease_expires_at
            );
            let payload: Value = serde_json::from_str(&j.payload).expect("payload");
            taken_over.push(payload["card_number"].as_str().expect("card").to_string());
        } else {
            assert_eq!(j.attempts, 1, "claimed once: {j:?}");
            assert!(j.last_error.is_none(), "{j:?}");
        }
    }
    let mut rendered_by: BTreeMap<&str, usize> = BTreeMap::new();
    for j in &jobs {
        let node = if j.on_node(victim) {
            "node A"
        } else if j.on_node(survivor) {
            "node B"
        } else {
            panic!("done by neither node: {j:?}")
        };
        *rendered_by.entry(node).or_default() += 1;
    }
    assert_eq!(rendered_by.len(), 2, "{rendered_by:?}");

    // Cards: every one personalised, each on its own chip.
    let cards: Vec<(i64, String, String, String, Option<i64>)> = sqlx::query_as(
        "SELECT id, card_number, request_id, state, chip_serial FROM cards ORDER BY id",
    )
    .fetch_all(&pg)
    .await
    .expect("cards");
    assert_eq!(cards.len(), REQUESTS);
    let serials: BTreeSet<i64> = cards.iter().filter_map(|c| c.4).collect();
    assert_eq!(serials.len(), REQUESTS, "one distinct chip per card");
    for c in &cards {
        assert_eq!(c.3, "personalised", "{c:?}");
    }
    let requested: BTreeSet<&str> = request_ids.iter().map(String::as_str).collect();
    let carded: BTreeSet<&str> = cards.iter().map(|c| c.2.as_str()).collect();
    assert_eq!(carded, requested, "one card per request");

    // The audit trail: one render and one personalisation per card; besides them only the
    // intake and the lot (no card moved twice, no body spoiled).
    let audit: Vec<AuditRow> =
        sqlx::query_as("SELECT action, actor, entity_id, after FROM audit_log ORDER BY seq")
            .fetch_all(&pg)
            .await
            .expect("audit");
    let mut actions: BTreeMap<&str, usize> = BTreeMap::new();
    for (action, ..) in &audit {
        let about_production = ["request.", "card.", "body.", "stock."]
            .iter()
            .any(|p| action.starts_with(p));
        if about_production {
            *actions.entry(action.as_str()).or_default() += 1;
        }
    }
    let expected_actions: BTreeMap<&str, usize> = [
        ("card.personalise", REQUESTS),
        ("card.start_production", REQUESTS),
        ("request.accepted", REQUESTS),
        ("stock.received", 1),
    ]
    .into();
    assert_eq!(actions, expected_actions);
    let renders = by_card(&audit, "card.start_production");
    let personalisations = by_card(&audit, "card.personalise");
    assert_eq!(renders.len(), REQUESTS);
    assert_eq!(personalisations.len(), REQUESTS);
    for number in &taken_over {
        let (actor, _) = &renders[number.as_str()];
        let owner = actor.strip_prefix("worker:").unwrap_or_default();
        assert_eq!(node_of(owner), Some(survivor), "card {number}: {actor}");
        assert!(!victim_owners.contains(owner), "card {number}: {actor}");
    }

    // One set of files per card: the kept files, with the hashes of its one render record.
    let files: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.card_number, a.name, a.sha256 FROM card_artifacts a JOIN cards c ON c.id = a.card_id",
    )
    .fetch_all(&pg)
    .await
    .expect("artifacts");
    let mut files_by_card: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for (card, name, sha) in &files {
        let prev = files_by_card
            .entry(card.as_str())
            .or_default()
            .insert(name.as_str(), sha.as_str());
        assert!(prev.is_none(), "card {card}: {name} twice");
    }
    assert_eq!(files_by_card.len(), REQUESTS);
    let kept: BTreeSet<&str> = KEPT.into_iter().collect();
    let mut per_station: BTreeMap<&str, usize> = BTreeMap::new();
    for (id, number, _, _, serial) in &cards {
        let have = &files_by_card[number.as_str()];
        assert_eq!(
            have.keys().copied().collect::<BTreeSet<_>>(),
            kept,
            "card {number}"
        );
        let (_, after) = &renders[number.as_str()];
        for (name, sha) in have {
            assert_eq!(
                after["rendered"][*name], *sha,
                "card {number} ({id}): {name}"
            );
        }
        let (actor, after) = &personalisations[number.as_str()];
        let serial = serial.expect("chip");
        assert_eq!(
            after["chip_serial"],
            format!("{serial:016X}"),
            "card {number}"
        );
        *per_station.entry(*actor).or_default() += 1;
    }
    assert_eq!(
        per_station.len(),
        STATIONS,
        "every station personalised cards: {per_station:?}"
    );

    // The stock ledger: one personalised body per card, nothing drawn and left, nothing spoiled.
    let report = db.store.stock_report(0).await.expect("stock report");
    assert!(report.reconciles(), "{:?}", report.problems);
    assert_eq!(report.total(|l| l.personalised), REQUESTS as i64);
    assert_eq!(report.total(|l| l.in_progress), 0);
    assert_eq!(report.total(|l| l.spoiled), 0);
    let out = cqcfab(&url, &data, &work)
        .args(["stock", "report"])
        .output()
        .expect("cqcfab stock report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // The audit chain, walked by the store and by the operator's command.
    let verified = db.store.verify_audit().await.expect("verify");
    assert!(verified.is_intact(), "{:?}", verified.problems);
    assert_eq!(verified.records as usize, audit.len());
    let out = cqcfab(&url, &data, &work)
        .args(["audit", "verify"])
        .output()
        .expect("cqcfab audit verify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let encode_attempts: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT attempts, COUNT(*) FROM jobs WHERE kind = 'encode' GROUP BY attempts ORDER BY attempts",
    )
    .fetch_all(&pg)
    .await
    .expect("encode attempts");
    let refused: usize = (1..=STATIONS)
        .map(|i| fleet.log(&format!("encode-{i}")).matches("Refused").count())
        .sum();
    assert_eq!(refused, 0, "a body was offered twice");
    eprintln!(
        "multinode: {REQUESTS} requests imported in {:.1} s; node A killed at {:.1} s with {done_before_kill} \
         render jobs done ({rendered_by_victim} by node A), holding jobs {held_ids:?}; all done at {:.1} s; \
         render jobs by node {rendered_by:?}; taken over: {taken_over:?}; cards per station {per_station:?}; \
         encode jobs by attempts {encode_attempts:?}; duplicate blanks refused by the stations: {refused}",
        imported.as_secs_f64(),
        killed.as_secs_f64(),
        finished.as_secs_f64(),
    );
    drop(fleet);
    pg.close().await;
    db.cleanup().await;
}
