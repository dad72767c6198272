//! Environment failure drills (issue 8): the database restarted under load, the output disk
//! full, the clock jumping. Each drill checks afterwards that no card was lost and none made
//! twice (one card per request, one render record per card with the hashes of the files kept),
//! that the audit chain verifies, and that the work resumed by itself. docs/drills.md,
//! "Environment drills", says what each one does and what it found.
//!
//! - `postgres_restarted_under_load`: a private PostgreSQL 15 cluster (initdb into a temp
//!   folder, its own port, run as the `postgres` user), `cqcfab serve` rendering while
//!   requests are posted; the cluster is restarted (`pg_ctl restart -m fast`) and then
//!   stopped with `-m immediate` and started again, with work in flight.
//! - `disk_full::*`: `cqcfab post letters` and `cqcfab post batch close` writing into a tiny
//!   tmpfs (SQLite and PostgreSQL); `data_folder_full::*`: `cqcfab serve` rendering into a
//!   SQLite data folder on a tiny tmpfs. Each tmpfs is mounted in a mount namespace of its own
//!   (`unshare --mount`), so nothing else sees it, and grown afterwards
//!   (`mount -o remount,size=…`) for the work to resume.
//! - `clock_jump::*`: in-process on the fixed test clock, on SQLite and PostgreSQL: a jump
//!   forward past a worker's lease while it renders, a step back by an hour, midnight in
//!   Paris while a card is being rendered.
//!
//! The first two need root (initdb as `postgres`, mount namespaces): they are skipped with a
//! message otherwise, unless CQCFAB_REQUIRE_ROOT_DRILLS=1 (CI), which makes that a failure.
//! The PostgreSQL halves of `disk_full` and `clock_jump` use CQCFAB_TEST_PG_URL as the other
//! suites do.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestDb;
use common::http;
use cqcfab::clock::Clock;
use cqcfab::intake::{Intake, RENDER_JOB, Submission};
use cqcfab::render::Renderer;
use cqcfab::render::card_data::DEFAULT_AUTHORITY;
use cqcfab::render::worker::{self, Done, KEPT, LEASE_MS, WorkerError};
use cqcfab::store::jobs::{JobError, JobRecord};
use cqcfab::store::{Location, Store};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Shared by the drills
// ---------------------------------------------------------------------------------------

/// `n` first issues under fresh request ids `PREFIX-nnnnn` (a renewal reused under a new id
/// would renew one card twice).
fn first_issues(prefix: &str, range: std::ops::Range<usize>) -> Vec<Value> {
    let firsts: Vec<&Value> = common::valid_fixtures()
        .iter()
        .filter(|f| f["kind"] == "first_issue")
        .collect();
    range
        .map(|i| {
            let mut r = firsts[i % firsts.len()].clone();
            r["request_id"] = Value::String(format!("{prefix}-{i:05}"));
            r
        })
        .collect()
}

/// Whether this process runs as root (the drills that mount or run initdb need it).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// True when a root drill can run; otherwise says why it is skipped, or fails when
/// CQCFAB_REQUIRE_ROOT_DRILLS=1.
fn root_drill(name: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !Path::new(t).exists() && !on_path(t))
        .collect();
    let why = if !is_root() {
        Some("not running as root".to_string())
    } else if !missing.is_empty() {
        Some(format!("missing {missing:?}"))
    } else {
        None
    };
    let Some(why) = why else { return true };
    if std::env::var("CQCFAB_REQUIRE_ROOT_DRILLS").as_deref() == Ok("1") {
        panic!("CQCFAB_REQUIRE_ROOT_DRILLS=1 but drill {name} cannot run: {why}");
    }
    eprintln!("SKIPPED drill {name}: {why} (CQCFAB_REQUIRE_ROOT_DRILLS=1 makes this a failure)");
    false
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// `cqcfab` on a database and data folder, with nothing taken from the caller's
/// configuration.
fn cqcfab(url: &str, data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cqcfab"));
    cqcfab_args(&mut c, url, data);
    c
}

fn cqcfab_args(c: &mut Command, url: &str, data: &Path) {
    c.arg("--data").arg(data).args(["--database-url", url]);
    common::child::isolate(c);
}

/// Runs a command to its end; (success, stdout + stderr).
fn run(mut cmd: Command) -> (bool, String) {
    let out = cmd.stdin(Stdio::null()).output().expect("run a command");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A child process killed (SIGKILL) and reaped when the drill ends, also on a failed
/// assertion; its output goes to a file whose end is printed on failure.
struct Spawned {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Spawned {
    fn start(name: &str, mut cmd: Command, log: PathBuf) -> Spawned {
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Spawned {
            name: name.to_string(),
            child,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn tail(&self) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- {} (last 20 lines)\n{}",
            self.name,
            lines[lines.len().saturating_sub(20)..].join("\n")
        )
    }

    /// Panics with the log if the process ended.
    fn running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} ended: {status}\n{}", self.name, self.tail());
        }
    }

    /// SIGINT, as an operator stops it; true when it ended cleanly within `within`.
    fn interrupt(&mut self, within: Duration) -> bool {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        let until = Instant::now() + within;
        while sent && Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.tail());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every `every` until it gives a value, failing after `within` with `what`.
async fn poll<T, F, Fut>(within: Duration, every: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < until, "{what}: not within {within:?}");
        tokio::time::sleep(every).await;
    }
}

/// [`poll`], failing at once (with its log) if `process` ends meanwhile.
async fn poll_running<T, F, Fut>(
    process: &mut Spawned,
    within: Duration,
    every: Duration,
    what: &str,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = Instant::now() + within;
    loop {
        process.running();
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < until,
            "{what}: not within {within:?}\n{}",
            process.tail()
        );
        tokio::time::sleep(every).await;
    }
}

/// What every drill checks at the end, through the store: one card per request, each card's
/// one render record (`card.start_production`) with the hashes of the files kept with it,
/// every render job done and none left running, queued or failed, the audit chain intact.
/// Returns the render records by card number (actor, after).
async fn production_is_whole(
    store: &Store,
    requests: &BTreeSet<String>,
) -> BTreeMap<String, (String, Value)> {
    let jobs = jobs_of(store, RENDER_JOB).await;
    let not_done: Vec<&JobRecord> = jobs.iter().filter(|j| j.state != "done").collect();
    assert!(not_done.is_empty(), "render jobs not done: {not_done:#?}");
    assert_eq!(jobs.len(), requests.len(), "one render job per request");

    let mut cards = BTreeMap::new();
    for id in requests {
        let card = store
            .card_by_request(id)
            .await
            .expect("card")
            .unwrap_or_else(|| panic!("request {id} has no card"));
        cards.insert(card.card_number.clone(), card);
    }
    assert_eq!(
        cards.len(),
        requests.len(),
        "one card (and one number) per request"
    );
    assert_eq!(
        store.card_count().await.expect("count") as usize,
        requests.len(),
        "no card besides those of the requests"
    );

    let mut renders = BTreeMap::new();
    for (number, card) in &cards {
        let history = store.audit_history("card", number).await.expect("history");
        let started: Vec<_> = history
            .iter()
            .filter(|r| r.action == "card.start_production")
            .collect();
        assert_eq!(
            started.len(),
            1,
            "card {number} rendered once: {history:#?}"
        );
        let after: Value =
            serde_json::from_str(started[0].after.as_deref().unwrap_or("null")).expect("after");
        let files = store.artifacts(card.id).await.expect("artifacts");
        let names: BTreeSet<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, KEPT.into_iter().collect(), "card {number}");
        for f in &files {
            assert_eq!(
                after["rendered"][f.name.as_str()],
                f.sha256,
                "card {number}: {} as recorded",
                f.name
            );
            let bytes = f.bytes.as_deref().expect("stored bytes");
            assert_eq!(
                sha256_hex(bytes),
                f.sha256,
                "card {number}: {} as stored",
                f.name
            );
        }
        assert_ne!(
            card.state, "approved",
            "card {number} still waits for rendering"
        );
        renders.insert(number.clone(), (started[0].actor.clone(), after));
    }

    let verified = store.verify_audit().await.expect("verify");
    assert!(verified.is_intact(), "{:?}", verified.problems);
    renders
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Every job of `kind`, by id.
async fn jobs_of(store: &Store, kind: &str) -> Vec<JobRecord> {
    let mut jobs = Vec::new();
    let mut id = 1;
    // Job ids are dense from 1 in a fresh database; stop at the first gap after the last one.
    let total: i64 = store
        .job_counts()
        .await
        .expect("job counts")
        .iter()
        .map(|(_, _, n)| n)
        .sum();
    let mut seen = 0;
    while seen < total {
        match store.job(id).await {
            Ok(j) => {
                seen += 1;
                if j.kind == kind {
                    jobs.push(j);
                }
            }
            Err(cqcfab::store::StoreError::NotFound { .. }) => {}
            Err(e) => panic!("job {id}: {e}"),
        }
        id += 1;
        assert!(id < 1_000_000, "job ids");
    }
    jobs
}

// ---------------------------------------------------------------------------------------
// Drill 3: the clock jumps (in-process, fixed clock, both backends)
// ---------------------------------------------------------------------------------------

mod clock_jump {
    use super::*;
    use cqcfab::clock::paris_date;
    use time::macros::{date, datetime};

    /// 11:00 in Paris on a fixture day.
    fn drill_clock() -> Clock {
        Clock::fixed_on(date!(2026 - 11 - 27))
    }

    crate::on_both_backends!(drill_clock();
        a_worker_late_past_its_lease_publishes_nothing,
        the_clock_stepping_back_an_hour_stops_no_work,
        midnight_in_paris_while_a_card_is_rendered,
    );

    fn ms(t: time::OffsetDateTime) -> i64 {
        (t.unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// Takes `docs` in; returns their card numbers.
    async fn accept(db: &TestDb, docs: Vec<Value>) -> Vec<String> {
        let intake = Intake::new(db.store.clone());
        let mut numbers = Vec::new();
        for doc in docs {
            match intake.submit(doc, "portal").await.expect("intake") {
                Submission::Created(a) => {
                    assert_eq!(a.body["status"], "approved", "{}", a.body);
                    numbers.push(a.body["card_number"].as_str().expect("number").to_string());
                }
                other => panic!("not created: {other:?}"),
            }
        }
        numbers
    }

    fn renderer() -> Arc<Renderer> {
        Arc::new(Renderer::new(DEFAULT_AUTHORITY).expect("layouts"))
    }

    /// A render worker (the real `worker::once`) on a runtime of its own whose only
    /// blocking thread the drill holds: the worker claims its job and reads the card and the
    /// pictures, then waits for the thread to render. The drill moves the clock meanwhile
    /// and lets it go on with [`Held::release`].
    struct Held {
        release: std::sync::mpsc::Sender<()>,
        thread: std::thread::JoinHandle<Result<Option<Done>, String>>,
    }

    impl Held {
        fn start(db: &TestDb, renderer: Arc<Renderer>, owner: &str) -> Held {
            let (location, clock) = (db.location.clone(), db.store.clock().clone());
            let owner = owner.to_string();
            let (release, released) = std::sync::mpsc::channel::<()>();
            let (holding, held) = std::sync::mpsc::channel::<()>();
            let thread = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .max_blocking_threads(1)
                    .enable_all()
                    .build()
                    .expect("worker runtime");
                // Its own store: a PostgreSQL connection belongs to the runtime that opened it.
                let store = rt
                    .block_on(Store::open(&location, clock))
                    .expect("worker's store");
                let _gate = rt.spawn_blocking(move || {
                    let _ = holding.send(());
                    let _ = released.recv();
                });
                held.recv().expect("the blocking thread is held");
                let done = rt.block_on(worker::once(&store, &renderer, &owner));
                rt.block_on(store.close());
                done.map_err(|e| match e {
                    WorkerError::Transition(t) => format!("transition: {t}"),
                    WorkerError::Job(j) => format!("job: {j}"),
                    other => format!("other: {other}"),
                })
            });
            Held { release, thread }
        }

        /// Lets the worker render and finish; what it says it did.
        fn release(self) -> Result<Option<Done>, String> {
            let _ = self.release.send(());
            self.thread.join().expect("worker thread")
        }
    }

    /// The render job `owner` holds, once it holds one.
    async fn held_by(db: &TestDb, owner: &str) -> JobRecord {
        poll(
            Duration::from_secs(30),
            Duration::from_millis(10),
            "worker claims",
            || async {
                jobs_of(&db.store, RENDER_JOB)
                    .await
                    .into_iter()
                    .find(|j| j.state == "running" && j.lease_owner.as_deref() == Some(owner))
            },
        )
        .await
    }

    fn number_of(job: &JobRecord) -> String {
        let payload: Value = serde_json::from_str(&job.payload).expect("payload");
        payload["card_number"]
            .as_str()
            .expect("card number")
            .to_string()
    }

    /// Renders every job due now with the real worker; the card numbers rendered.
    async fn render_due(db: &TestDb, renderer: &Arc<Renderer>, owner: &str) -> Vec<String> {
        let mut rendered = Vec::new();
        for done in worker::drain(&db.store, renderer, owner, 1, |_| {}).await {
            match done.expect("render") {
                Done::Rendered { card_number } => rendered.push(card_number),
                other => panic!("{other:?}"),
            }
        }
        rendered
    }

    fn request_ids(docs: &[Value]) -> BTreeSet<String> {
        docs.iter()
            .map(|d| d["request_id"].as_str().expect("id").to_string())
            .collect()
    }

    /// Forward jump: worker A holds a job and stalls (its render waits); the clock jumps past
    /// the lease; worker B takes the job over and renders the card. When A comes back and
    /// tries to publish, nothing of it lands: the card is made once, with B's files. Then the
    /// same without a B: A's late result is refused on its own (the lease ran out), and the
    /// next claim takes the job back.
    pub(super) async fn a_worker_late_past_its_lease_publishes_nothing(db: &TestDb) {
        let clock = db.store.clock().clone();
        let docs = first_issues("CJF", 0..3);
        accept(db, docs.clone()).await;
        let renderer = renderer();

        // A takes the first job and stalls before rendering.
        let a = Held::start(db, renderer.clone(), "worker-a");
        let job = held_by(db, "worker-a").await;
        let number = number_of(&job);
        assert_eq!(job.attempts, 1);
        let lease_end = job.lease_expires_at.expect("lease");
        // The clock jumps past A's lease (an NTP step, a VM resumed).
        clock.advance(time::Duration::milliseconds(LEASE_MS + 1_000));
        assert!(clock.now_ms() > lease_end);

        // B claims: the expired lease comes first, so B takes A's job and renders the card.
        let b = worker::once(&db.store, &renderer, "worker-b")
            .await
            .expect("worker B");
        assert_eq!(
            b,
            Some(Done::Rendered {
                card_number: number.clone()
            })
        );
        let after_b = db.store.job(job.id).await.expect("job");
        assert_eq!(
            (
                after_b.state.as_str(),
                after_b.attempts,
                after_b.lease_owner.as_deref()
            ),
            ("done", 2, Some("worker-b")),
            "{after_b:?}"
        );
        assert!(
            after_b
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("lease of worker-a expired")),
            "{after_b:?}"
        );
        let files_b = db
            .store
            .artifacts(db.store.card_by_number(&number).await.unwrap().unwrap().id)
            .await
            .expect("artifacts");

        // A comes back, renders and tries to publish: refused, nothing of it kept.
        let late = a.release();
        let Err(refusal_a) = &late else {
            panic!("worker A's late result was taken: {late:?}")
        };
        // Either its card move (the card was moved by B) or its completion (the lease is B's)
        // is refused, whichever it reaches first; its transaction rolls back whole.
        assert!(
            refusal_a.contains("changed meanwhile") || refusal_a.contains("refused"),
            "{refusal_a}"
        );
        assert_eq!(db.store.job(job.id).await.expect("job"), after_b);
        let card = db.store.card_by_number(&number).await.unwrap().unwrap();
        assert_eq!(card.state, "in_production");
        assert_eq!(
            db.store.artifacts(card.id).await.expect("artifacts"),
            files_b,
            "B's files stand"
        );

        // The same stall with nobody taking over: A's late result is refused because its
        // lease ran out, and the job is taken back by the next claim.
        let a = Held::start(db, renderer.clone(), "worker-a2");
        let job2 = held_by(db, "worker-a2").await;
        clock.advance(time::Duration::milliseconds(LEASE_MS + 1_000));
        let late = a.release();
        let Err(refusal) = &late else {
            panic!("worker A2's late result was taken: {late:?}")
        };
        assert!(refusal.contains("refused: Expired"), "{refusal}");
        let stalled = db.store.job(job2.id).await.expect("job");
        assert_eq!(
            (stalled.state.as_str(), stalled.attempts),
            ("running", 1),
            "{stalled:?}"
        );
        let number2 = number_of(&job2);
        assert_eq!(
            db.store
                .card_by_number(&number2)
                .await
                .unwrap()
                .unwrap()
                .state,
            "approved",
            "A2's transaction rolled back whole"
        );

        // The rest goes on: the stalled job taken back, the third rendered.
        let mut rendered = render_due(db, &renderer, "worker-c").await;
        rendered.sort();
        let mut expected: Vec<String> = Vec::new();
        for j in jobs_of(&db.store, RENDER_JOB).await {
            if j.id != job.id {
                expected.push(number_of(&j));
            }
        }
        expected.sort();
        assert_eq!(rendered, expected);
        let retaken = db.store.job(job2.id).await.expect("job");
        assert_eq!(
            (retaken.state.as_str(), retaken.attempts),
            ("done", 2),
            "{retaken:?}"
        );
        let renders = production_is_whole(&db.store, &request_ids(&docs)).await;
        assert_eq!(renders[&number].0, "worker:worker-b");
        assert_eq!(renders[&number2].0, "worker:worker-c-0");
        eprintln!(
            "clock drill ({}): job {} taken over by worker-b after the jump, late worker A refused \
             with \"{refusal_a}\"; job {} (A2 stalled, nobody took over) refused with \"{refusal}\", \
             taken back by the next claim",
            db.backend, job.id, job2.id
        );
    }

    /// Backward jump by an hour: a worker holds a job and dies; the clock steps back an hour;
    /// requests keep coming. Work goes on (the jobs queued before the step included), the dead
    /// worker's lease runs out when it said it would (an hour and a lease later on the
    /// stepped-back clock, not later), a heartbeat after the step cannot push a lease past
    /// `now + lease`, and the audit chain verifies though its times go backwards.
    pub(super) async fn the_clock_stepping_back_an_hour_stops_no_work(db: &TestDb) {
        let clock = db.store.clock().clone();
        let before = first_issues("CJB", 0..4);
        accept(db, before.clone()).await;
        let renderer = renderer();
        // One job rendered before the step.
        let first = worker::once(&db.store, &renderer, "worker-early")
            .await
            .expect("render")
            .expect("a job");
        assert!(matches!(first, Done::Rendered { .. }), "{first:?}");
        // A worker takes a job and dies; another takes one and keeps its lease alive.
        let dead = db
            .store
            .claim(RENDER_JOB, "worker-dead", LEASE_MS)
            .await
            .expect("claim")
            .expect("a job");
        let slow = db
            .store
            .claim(RENDER_JOB, "worker-slow", LEASE_MS)
            .await
            .expect("claim")
            .expect("a job");
        let stepped_at = clock.now_ms();

        // The clock steps back an hour.
        clock.advance(time::Duration::hours(-1));
        let now = clock.now_ms();
        assert_eq!(stepped_at - now, 3_600_000);

        // A heartbeat now gives a lease of `now + lease`, shorter than the one it had.
        let renewed = db
            .store
            .heartbeat(&slow.lease, LEASE_MS)
            .await
            .expect("heartbeat");
        assert_eq!(renewed.expires_at, now + LEASE_MS);
        assert!(renewed.expires_at < slow.lease.expires_at);

        // New requests, an hour "earlier" than the last ones.
        let after = first_issues("CJB", 4..6);
        accept(db, after.clone()).await;

        // Work goes on: every job queued, before the step and after it, is rendered now.
        let rendered: BTreeSet<String> = render_due(db, &renderer, "worker-after")
            .await
            .into_iter()
            .collect();
        let jobs = jobs_of(&db.store, RENDER_JOB).await;
        let waiting: Vec<&JobRecord> = jobs.iter().filter(|j| j.state == "queued").collect();
        assert!(
            waiting.is_empty(),
            "jobs queued before the clock stepped back wait for the clock to catch up: {waiting:#?}"
        );
        assert_eq!(rendered.len(), 3, "{rendered:?}");

        // The dead worker's job stays its own until its lease runs out, at the time it was
        // given: an hour and a lease from now. The slow worker's renewed lease ran out long
        // before: one millisecond earlier, only that job is taken back.
        let held = db.store.job(dead.id).await.expect("job");
        assert_eq!(held.lease_expires_at, Some(dead.lease.expires_at));
        clock.advance(time::Duration::milliseconds(
            dead.lease.expires_at - 1 - clock.now_ms(),
        ));
        let retaken = render_due(db, &renderer, "worker-late").await;
        let slow_card = number_of(&db.store.job(slow.id).await.expect("job"));
        assert_eq!(retaken, [slow_card], "only the slow worker's job");
        let held = db.store.job(dead.id).await.expect("job");
        assert_eq!(
            (held.state.as_str(), held.lease_owner.as_deref()),
            ("running", Some("worker-dead")),
            "taken back before its lease ran out: {held:?}"
        );
        clock.advance(time::Duration::milliseconds(1));
        let retaken = render_due(db, &renderer, "worker-late").await;
        assert_eq!(retaken, [number_of(&held)]);
        for id in [dead.id, slow.id] {
            let j = db.store.job(id).await.expect("job");
            assert_eq!((j.state.as_str(), j.attempts), ("done", 2), "{j:?}");
        }
        // The dead worker's completion, had it come back, is refused.
        assert!(matches!(
            db.store.complete(&dead.lease).await,
            Err(JobError::Lease { .. })
        ));

        // The audit trail: times out of order, chain intact.
        let mut all = before.clone();
        all.extend(after);
        production_is_whole(&db.store, &request_ids(&all)).await;
        let mut backwards = 0;
        let mut last = i64::MIN;
        for id in request_ids(&all) {
            let card = db.store.card_by_request(&id).await.unwrap().unwrap();
            for r in db
                .store
                .audit_history("card", &card.card_number)
                .await
                .unwrap()
            {
                if r.at < last {
                    backwards += 1;
                }
                last = r.at;
            }
        }
        assert!(
            backwards > 0,
            "the drill made no record older than the one before"
        );
        eprintln!(
            "clock drill ({}): stepped back an hour; {} jobs rendered after the step, 2 taken back \
             once their leases ran out; {backwards} audit records older than the one before, chain intact",
            db.backend,
            rendered.len()
        );
    }

    /// Midnight in Paris while a card is rendered: requests taken at 23:59 are dated that
    /// day; a worker that claimed before midnight finishes after it; the card keeps the date
    /// of issue it was given when it was taken in, and a request taken after midnight gets
    /// the new day.
    pub(super) async fn midnight_in_paris_while_a_card_is_rendered(db: &TestDb) {
        let clock = db.store.clock().clone();
        // 23:59:30 in Paris (CET, UTC+1) on 27 November 2026.
        let late = ms(datetime!(2026-11-27 22:59:30 UTC));
        clock.advance(time::Duration::milliseconds(late - clock.now_ms()));
        assert_eq!(clock.today(), date!(2026 - 11 - 27));
        let docs = first_issues("CJM", 0..2);
        let numbers = accept(db, docs.clone()).await;
        let renderer = renderer();

        let a = Held::start(db, renderer.clone(), "worker-midnight");
        let job = held_by(db, "worker-midnight").await;
        // Midnight passes while the card is being rendered (within the lease).
        clock.advance(time::Duration::seconds(45));
        assert_eq!(clock.today(), date!(2026 - 11 - 28));
        let done = a.release().expect("the worker finishes after midnight");
        assert_eq!(
            done,
            Some(Done::Rendered {
                card_number: number_of(&job)
            })
        );
        render_due(db, &renderer, "worker-after-midnight").await;
        let mut all = docs.clone();
        let next = first_issues("CJM", 2..3);
        let after = accept(db, next.clone()).await;
        render_due(db, &renderer, "worker-after-midnight").await;
        all.extend(next);
        let renders = production_is_whole(&db.store, &request_ids(&all)).await;

        for n in &numbers {
            let card = db.store.card_by_number(n).await.unwrap().unwrap();
            assert_eq!(card.issue_date, "2026-11-27", "card {n}");
            let history = db.store.audit_history("card", n).await.unwrap();
            let rendered = history
                .iter()
                .find(|r| r.action == "card.start_production")
                .expect("rendered");
            assert_eq!(paris_date(rendered.at), date!(2026 - 11 - 28), "card {n}");
        }
        let card = db.store.card_by_number(&after[0]).await.unwrap().unwrap();
        assert_eq!(card.issue_date, "2026-11-28");
        assert_eq!(renders.len(), 3);
        eprintln!(
            "clock drill ({}): midnight passed during a render; cards taken at 23:59 keep 2026-11-27, \
             the next one is dated 2026-11-28",
            db.backend
        );
    }
}

// ---------------------------------------------------------------------------------------
// Drill 1: PostgreSQL restarted under load (a private cluster)
// ---------------------------------------------------------------------------------------

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL 15 cluster of the drill's own: initdb into a temp folder under /tmp (the
/// `postgres` user must reach it), its own port and socket folder. initdb and the server
/// refuse root, so both run as `postgres`, as .ci/lib.sh does. Stopped (immediate) and
/// removed when dropped. Never the shared cluster: every pg_ctl names this data folder.
struct PrivatePg {
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePg {
    fn create() -> PrivatePg {
        let dir = tempfile::Builder::new()
            .prefix("cqcfab-drill-pg-")
            .tempdir_in("/tmp")
            .expect("cluster folder");
        let chown = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(dir.path())
            .status()
            .expect("chown");
        assert!(chown.success(), "chown postgres {}", dir.path().display());
        let pg = PrivatePg {
            dir,
            port: common::child::free_port(),
        };
        let (ok, text) = pg.as_postgres(&format!(
            "{PG_BIN}/initdb -D {} -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync",
            pg.data().display()
        ));
        assert!(ok, "initdb: {text}");
        pg.start();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn as_postgres(&self, cmd: &str) -> (bool, String) {
        let mut c = Command::new("su");
        c.args(["postgres", "-s", "/bin/sh", "-c", cmd]);
        run(c)
    }

    /// pg_ctl on this cluster (and no other), waiting for the action to finish; the server's
    /// output goes to its log file, so no pipe of ours stays open.
    fn pg_ctl(&self, action: &str) {
        let d = self.dir.path().display();
        let (ok, text) = self.as_postgres(&format!(
            "{PG_BIN}/pg_ctl -D {d}/data -l {d}/server.log -w -t 60 {action}"
        ));
        assert!(ok, "pg_ctl {action}: {text}\n{}", self.log_tail());
    }

    fn start(&self) {
        self.pg_ctl(&format!(
            "-o '-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=100' start",
            self.port,
            self.dir.path().display()
        ));
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let d = self.dir.path().display();
        let _ = self.as_postgres(&format!("{PG_BIN}/pg_ctl -D {d}/data -m immediate -w stop"));
    }
}

/// Job counts by (kind, state) read on a connection of the drill's own; `None` while the
/// database does not answer.
async fn job_counts(pool: &sqlx::PgPool) -> Option<BTreeMap<(String, String), i64>> {
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state")
            .fetch_all(pool)
            .await
            .ok()?;
    Some(rows.into_iter().map(|(k, s, n)| ((k, s), n)).collect())
}

fn count(counts: &BTreeMap<(String, String), i64>, kind: &str, state: &str) -> i64 {
    counts
        .get(&(kind.to_string(), state.to_string()))
        .copied()
        .unwrap_or(0)
}

/// Posts `doc` until the service takes it (201, or 200 when an earlier try was committed but
/// its answer lost); how many tries it took and the other answers seen.
async fn post_until_taken(addr: std::net::SocketAddr, doc: &Value) -> (u32, Vec<u16>) {
    let body = serde_json::to_vec(doc).expect("json");
    let until = Instant::now() + Duration::from_secs(90);
    let mut tries = 0;
    let mut others = Vec::new();
    loop {
        tries += 1;
        let (status, answer) = http::post_json(addr, "/v1/requests", body.clone()).await;
        match status {
            201 | 200 => {
                assert_eq!(answer["request_id"], doc["request_id"], "{answer}");
                return (tries, others);
            }
            500 | 503 => others.push(status),
            _ => panic!("request {}: {status} {answer}", doc["request_id"]),
        }
        assert!(
            Instant::now() < until,
            "request {} not taken: {others:?}",
            doc["request_id"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status_of(addr: std::net::SocketAddr, path: &str) -> u16 {
    http::send(addr, "GET", path, &[], Vec::new()).await.0
}

/// Requests posted while the cluster restarts.
const PG_REQUESTS: usize = 300;
/// Posted once the cluster is back for the last time: the service takes new work.
const PG_REQUESTS_AFTER: usize = 20;
/// The render lease of the node: a job whose worker lost its transaction and could not say
/// so is taken back after this long.
const PG_LEASE_SECS: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_under_load() {
    let initdb = format!("{PG_BIN}/initdb");
    let pg_ctl = format!("{PG_BIN}/pg_ctl");
    if !root_drill("postgres_restarted_under_load", &[&initdb, &pg_ctl, "su"]) {
        return;
    }
    let started = Instant::now();
    let pg = PrivatePg::create();
    let url = pg.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    cqcfab::chip::pki::TestPki::ensure(&data.join("pki")).expect("test PKI");
    // The drill's own view of the database (a pool that reconnects after the restarts).
    let store = Store::open(&Location::Postgres(url.clone()), Clock::System)
        .await
        .expect("open the private cluster");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .expect("connect");

    let port = common::child::free_port();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut serve = cqcfab(&url, &data);
    serve
        .args(["serve", "--listen", &addr.to_string()])
        .args(["--render-workers", "2"])
        .args(["--render-lease-secs", &PG_LEASE_SECS.to_string()]);
    let mut node = Spawned::start("serve", serve, dir.path().join("serve.log"));
    let pid = node.child.id();
    poll_running(
        &mut node,
        Duration::from_secs(60),
        Duration::from_millis(50),
        "serve ready",
        || async {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                return None;
            }
            (status_of(addr, "/readyz").await == 200).then_some(())
        },
    )
    .await;

    // Four posters take the requests from one queue, as the portal's workers would.
    let docs = first_issues("PGR", 0..PG_REQUESTS);
    let queue = Arc::new(std::sync::Mutex::new(docs.clone()));
    let taken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut posters = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (queue, taken) = (queue.clone(), taken.clone());
        posters.spawn(async move {
            let mut retried = Vec::new();
            loop {
                let Some(doc) = queue.lock().expect("queue").pop() else {
                    return retried;
                };
                let (tries, others) = post_until_taken(addr, &doc).await;
                if tries > 1 {
                    retried.push((doc["request_id"].to_string(), tries, others));
                }
                taken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
    }

    // With requests coming in and cards being rendered, the cluster restarts: first as an
    // operator restarts it (fast: clients disconnected, transactions in flight aborted),
    // then as a crash would (immediate stop: no shutdown checkpoint, recovery at start).
    let mut restarts = Vec::new();
    for (at_least, how) in [
        (60usize, "restart -m fast"),
        (150, "stop -m immediate + start"),
    ] {
        let seen = poll_running(
            &mut node,
            Duration::from_secs(120),
            Duration::from_millis(20),
            "requests taken and renders in flight",
            || async {
                let n = taken.load(std::sync::atomic::Ordering::SeqCst);
                let counts = job_counts(&pool).await?;
                (n >= at_least && count(&counts, RENDER_JOB, "running") > 0).then_some((n, counts))
            },
        )
        .await;
        let t = Instant::now();
        if how.starts_with("restart") {
            pg.pg_ctl("-m fast restart");
        } else {
            pg.pg_ctl("-m immediate stop");
            // Down long enough for every worker and pool of the node to meet the refusal.
            tokio::time::sleep(Duration::from_secs(2)).await;
            pg.start();
        }
        // The node finds the database again by itself.
        poll_running(
            &mut node,
            Duration::from_secs(60),
            Duration::from_millis(100),
            "ready again",
            || async { (status_of(addr, "/readyz").await == 200).then_some(()) },
        )
        .await;
        restarts.push(format!(
            "{how} at {:.1} s with {} requests taken and jobs {:?}, ready again after {:.1} s",
            (t - started).as_secs_f64(),
            seen.0,
            seen.1,
            t.elapsed().as_secs_f64()
        ));
    }

    let mut retried = Vec::new();
    while let Some(r) = posters.join_next().await {
        retried.extend(r.expect("poster"));
    }
    // New work after the last restart is taken at the first try.
    let after = first_issues("PGR", PG_REQUESTS..PG_REQUESTS + PG_REQUESTS_AFTER);
    for doc in &after {
        let (tries, others) = post_until_taken(addr, doc).await;
        assert_eq!(tries, 1, "{} after recovery: {others:?}", doc["request_id"]);
    }

    // Every render done; a job whose worker lost its transaction is taken back after its
    // lease.
    let counts = poll_running(
        &mut node,
        Duration::from_secs(90),
        Duration::from_millis(250),
        "every card rendered",
        || async {
            let counts = job_counts(&pool).await?;
            (count(&counts, RENDER_JOB, "done") == (PG_REQUESTS + PG_REQUESTS_AFTER) as i64)
                .then_some(counts)
        },
    )
    .await;
    assert_eq!(node.child.id(), pid, "the same node process throughout");
    assert_eq!(status_of(addr, "/healthz").await, 200);
    assert_eq!(status_of(addr, "/readyz").await, 200);

    let mut all = docs.clone();
    all.extend(after);
    let ids: BTreeSet<String> = all
        .iter()
        .map(|d| d["request_id"].as_str().expect("id").to_string())
        .collect();
    let renders = production_is_whole(&store, &ids).await;
    assert_eq!(renders.len(), PG_REQUESTS + PG_REQUESTS_AFTER);
    let jobs = jobs_of(&store, RENDER_JOB).await;
    let again: Vec<String> = jobs
        .iter()
        .filter(|j| j.attempts > 1)
        .map(|j| {
            format!(
                "job {} attempts {}: {}",
                j.id,
                j.attempts,
                j.last_error.as_deref().unwrap_or("-")
            )
        })
        .collect();
    // The encode jobs the renders queued wait for the stations: one per card.
    assert_eq!(
        count(&counts, "encode", "queued"),
        (PG_REQUESTS + PG_REQUESTS_AFTER) as i64
    );

    // The node stops as an operator stops it; the operator's checks pass.
    assert!(
        node.interrupt(Duration::from_secs(30)),
        "serve did not stop cleanly"
    );
    let log = node.log();
    for cmd in [["audit", "verify"], ["stock", "report"]] {
        let mut c = cqcfab(&url, &data);
        c.args(cmd);
        let (ok, text) = run(c);
        assert!(ok, "cqcfab {cmd:?}: {text}");
    }
    pool.close().await;
    store.close().await;
    eprintln!(
        "postgres drill: {} requests in {:.1} s; {}; {} posts retried ({:?}); jobs run again: {again:?}; \
         node log warnings: {}",
        PG_REQUESTS + PG_REQUESTS_AFTER,
        started.elapsed().as_secs_f64(),
        restarts.join("; "),
        retried.len(),
        retried.iter().take(5).collect::<Vec<_>>(),
        log.lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .count()
    );
}

// ---------------------------------------------------------------------------------------
// Drill 2: the output disk full (tmpfs in a private mount namespace)
// ---------------------------------------------------------------------------------------

/// A tmpfs of a given size mounted on a folder in a mount namespace of its own, which a
/// sleeping process holds open: nothing outside the namespace sees the mount. Commands run
/// inside through `nsenter`; the drill reads the files through `/proc/PID/root`. The mount
/// goes away with the holder, killed when dropped.
struct TinyDisk {
    holder: Child,
    dir: PathBuf,
}

impl TinyDisk {
    fn mount(dir: &Path, size: &str) -> TinyDisk {
        use std::io::BufRead;
        std::fs::create_dir_all(dir).expect("mount point");
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount -t tmpfs -o size={size},mode=0755 drill-tmpfs '{}' && echo mounted && exec sleep 3600",
                dir.display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("unshare");
        let mut line = String::new();
        let stdout = holder.stdout.take().expect("stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "mounted", "tmpfs on {}", dir.display());
        TinyDisk {
            holder,
            dir: dir.to_path_buf(),
        }
    }

    /// The folder as the drill sees it, through the holder's mount namespace.
    fn seen(&self) -> PathBuf {
        let rel = self.dir.strip_prefix("/").expect("absolute");
        PathBuf::from(format!("/proc/{}/root", self.holder.id())).join(rel)
    }

    /// `program` run inside the namespace.
    fn inside(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.holder.id().to_string(), "-m", "--", program]);
        c
    }

    /// `cqcfab` inside the namespace.
    fn cqcfab(&self, db: &TestDb, data: &Path) -> Command {
        let mut c = self.inside(env!("CARGO_BIN_EXE_cqcfab"));
        c.args(db.cli_args()).arg("--data").arg(data);
        for var in ["CQCFAB_CONFIG", "CQCFAB_DATA", "CQCFAB_DATABASE_URL"] {
            c.env_remove(var);
        }
        c
    }

    /// More room, as an operator who freed space or grew the volume.
    fn resize(&self, size: &str) {
        let mut c = self.inside("mount");
        c.args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir);
        let (ok, text) = run(c);
        assert!(ok, "remount: {text}");
    }

    /// File name → bytes of what is in the folder now.
    fn files(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(self.seen()).expect("read the tmpfs") {
            let entry = entry.expect("entry");
            let name = entry.file_name().to_string_lossy().into_owned();
            files.insert(name, std::fs::read(entry.path()).expect("read"));
        }
        files
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// A PDF whole to its end, as qpdf sees it.
fn whole_pdf(bytes: &[u8], scratch: &Path) -> Result<(), String> {
    let tail = String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(32)..]).into_owned();
    if !tail.trim_end().ends_with("%%EOF") {
        return Err(format!("no %%EOF at the end ({} bytes)", bytes.len()));
    }
    let file = scratch.join("check.pdf");
    std::fs::write(&file, bytes).expect("scratch pdf");
    let (ok, text) = run({
        let mut c = Command::new("qpdf");
        c.arg("--check").arg(&file);
        c
    });
    if ok { Ok(()) } else { Err(text) }
}

/// The path an error names (`cannot write PATH: …`).
fn named_path(text: &str) -> String {
    let at = text.find("cannot write ").expect("cannot write …") + "cannot write ".len();
    text[at..].split(": ").next().expect("path").to_string()
}

mod disk_full {
    use super::*;
    use cqcfab::post::s10::ServiceIndicator;
    use cqcfab::store::insertion::CardKey;

    const CARDS: usize = 12;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_letters_and_batch_files() {
        if !root_drill(
            "disk_full::letters (sqlite)",
            &["unshare", "nsenter", "qpdf"],
        ) {
            return;
        }
        let db = TestDb::sqlite(Clock::System).await;
        letters_and_batch_on_a_full_disk(&db).await;
        db.cleanup().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_letters_and_batch_files() {
        if !root_drill(
            "disk_full::letters (postgres)",
            &["unshare", "nsenter", "qpdf"],
        ) {
            return;
        }
        let Some(db) = TestDb::postgres(Clock::System).await else {
            return;
        };
        letters_and_batch_on_a_full_disk(&db).await;
        db.cleanup().await;
    }

    /// `post letters` and `post batch close` write into a tmpfs too small for their files.
    /// The run stops with an error naming the file and ENOSPC; no file is left cut short
    /// under its name, no card is left with a piece whose letters were not written, no S10
    /// id is spent for nothing; with room again, the next run makes the rest, each card's
    /// piece once. The batch is sealed before its files are written: with room again, closing
    /// again writes them, and the manifest hashes to the seal in the audit trail.
    async fn letters_and_batch_on_a_full_disk(db: &TestDb) {
        let started = Instant::now();
        let work = tempfile::tempdir().expect("temp dir");
        let data = work.path().join("data");
        let mut numbers = common::production::rendered_cards(db, CARDS).await;
        numbers.sort();
        common::production::mark_personalised(db, &numbers).await;
        let la = ServiceIndicator::new("LA").expect("LA");
        let first_serial = 10_000_000;
        db.store
            .add_s10_range("LA-DRILL", la, first_serial, first_serial + 999, "test")
            .await
            .expect("range");

        // Letters: about a third of them fit.
        let out = work.path().join("letters");
        let disk = TinyDisk::mount(&out, "160k");
        let mut letters = disk.cqcfab(db, &data);
        letters.args(["post", "letters", "--out"]).arg(&out);
        let (ok, letters_error) = run(letters);
        assert!(!ok, "the letters fitted on the tiny disk: {letters_error}");
        assert!(
            letters_error.contains("No space left on device"),
            "{letters_error}"
        );
        let named = named_path(&letters_error);
        assert!(
            named.starts_with(&out.display().to_string()),
            "{letters_error}"
        );

        // What is on the disk is whole; every piece made has both its letters there; the
        // other cards wait for theirs, and no S10 id went without its piece.
        let on_disk = disk.files();
        let mut whole = BTreeMap::new();
        for (name, bytes) in &on_disk {
            assert!(
                name.ends_with(".carrier.pdf") || name.ends_with(".coupon.pdf"),
                "left on the disk: {name}"
            );
            if let Err(e) = whole_pdf(bytes, work.path()) {
                panic!("{name} was left cut short under its name: {e}");
            }
            whole.insert(name.clone(), sha256_hex(bytes));
        }
        assert!(
            !on_disk.contains_key(named.rsplit('/').next().unwrap_or_default()),
            "{named} left under its name"
        );
        let mut made = 0;
        let waiting = db.store.cards_awaiting_piece().await.expect("waiting");
        for n in &numbers {
            let card = db.store.card_by_number(n).await.unwrap().unwrap();
            let pieces = db.store.pieces_of_card(card.id).await.unwrap();
            match pieces.as_slice() {
                [] => assert!(waiting.contains(n), "card {n}: no piece and not waiting"),
                [p] => {
                    made += 1;
                    for suffix in ["carrier.pdf", "coupon.pdf"] {
                        let name = format!("{}.{suffix}", p.piece_id);
                        assert!(whole.contains_key(&name), "card {n}: piece without {name}");
                    }
                }
                more => panic!("card {n}: {more:?}"),
            }
        }
        assert!(made < CARDS, "nothing was stopped");
        assert_eq!(waiting.len(), CARDS - made);
        assert_eq!(on_disk.len(), 2 * made, "{:?}", on_disk.keys());
        let range = &db.store.s10_ranges().await.unwrap()[0];
        assert_eq!(
            range.next_serial,
            first_serial as i64 + made as i64,
            "{range:?}"
        );

        // Room again: the next run makes the rest.
        disk.resize("16m");
        let mut letters = disk.cqcfab(db, &data);
        letters.args(["post", "letters", "--out"]).arg(&out);
        let (ok, text2) = run(letters);
        assert!(ok, "{text2}");
        assert!(
            text2.contains(&format!("{} carrier letter(s)", CARDS - made)),
            "{text2}"
        );
        let on_disk = disk.files();
        assert_eq!(on_disk.len(), 2 * CARDS, "{:?}", on_disk.keys());
        for (name, sha) in &whole {
            assert_eq!(&sha256_hex(&on_disk[name]), sha, "{name} changed");
        }
        let mut pairs = Vec::new();
        for n in &numbers {
            let card = db.store.card_by_number(n).await.unwrap().unwrap();
            let pieces = db.store.pieces_of_card(card.id).await.unwrap();
            assert_eq!(pieces.len(), 1, "card {n}: {pieces:?}");
            for suffix in ["carrier.pdf", "coupon.pdf"] {
                let name = format!("{}.{suffix}", pieces[0].piece_id);
                let bytes = on_disk.get(&name).unwrap_or_else(|| panic!("no {name}"));
                whole_pdf(bytes, work.path()).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            pairs.push((n.clone(), pieces[0].piece_id.clone()));
        }
        assert!(db.store.cards_awaiting_piece().await.unwrap().is_empty());
        let range = &db.store.s10_ranges().await.unwrap()[0];
        assert_eq!(range.next_serial, (first_serial as usize + CARDS) as i64);
        drop(disk);

        // The batch: every piece inserted, then closed onto a disk with room for the two
        // CSV files but not the cover sheet.
        for (card, piece) in &pairs {
            db.store
                .insert_card(&CardKey::Number(card.clone()), piece, "insert-drill")
                .await
                .expect("insert");
        }
        let out = work.path().join("batches");
        let disk = TinyDisk::mount(&out, "12k");
        let mut close = disk.cqcfab(db, &data);
        close.args(["post", "batch", "close", "--out"]).arg(&out);
        let (ok, text) = run(close);
        assert!(!ok, "the batch files fitted: {text}");
        assert!(text.contains("No space left on device"), "{text}");
        let named = named_path(&text);
        let batches = db.store.batches().await.expect("batches");
        assert_eq!(batches.len(), 1, "{batches:?}");
        let batch = &batches[0];
        assert_eq!(batch.state, "closed", "sealed before its files are written");
        assert_eq!(batch.pieces, Some(CARDS as i64));
        assert!(
            text.contains(&format!("post batch export --batch {}", batch.batch_id)),
            "the error says how to write the files again: {text}"
        );
        let seal = batch.manifest_sha256.clone().expect("sealed");
        let sealed_in_audit: Value = serde_json::from_str(
            db.store
                .audit_history("postal_batch", &batch.batch_id)
                .await
                .unwrap()
                .iter()
                .find(|r| r.action == "batch.closed")
                .and_then(|r| r.after.as_deref())
                .expect("batch.closed"),
        )
        .expect("after");
        assert_eq!(sealed_in_audit["manifest_sha256"], seal);
        let on_disk = disk.files();
        assert!(
            !on_disk.contains_key(named.rsplit('/').next().unwrap_or_default()),
            "{named} left under its name: {:?}",
            on_disk.keys()
        );
        for (name, bytes) in &on_disk {
            assert!(!name.starts_with('.'), "left on the disk: {name}");
            if name.ends_with(".manifest.csv") {
                assert_eq!(sha256_hex(bytes), seal, "{name}");
            }
        }

        // Room again: the operator closes again, which writes the sealed batch's files from
        // the database (no second batch); `post batch export` gives the same bytes.
        disk.resize("16m");
        let mut close = disk.cqcfab(db, &data);
        close.args(["post", "batch", "close", "--out"]).arg(&out);
        let (ok, text) = run(close);
        assert!(ok, "{text}");
        assert_eq!(db.store.batches().await.expect("batches").len(), 1);
        let on_disk = disk.files();
        let exported = work.path().join("exported");
        let mut export = disk.cqcfab(db, &data);
        export
            .args([
                "post",
                "batch",
                "export",
                "--batch",
                &batch.batch_id,
                "--out",
            ])
            .arg(&exported);
        let (ok, text) = run(export);
        assert!(ok, "{text}");
        for (name, bytes) in &on_disk {
            assert_eq!(
                &std::fs::read(exported.join(name)).expect("exported"),
                bytes,
                "{name}"
            );
        }
        let id = &batch.batch_id;
        let names: BTreeSet<&str> = on_disk.keys().map(String::as_str).collect();
        let manifest = format!("{id}.manifest.csv");
        let totals = format!("{id}.totals.csv");
        let cover = format!("{id}.cover.pdf");
        assert_eq!(
            names,
            [manifest.as_str(), totals.as_str(), cover.as_str()].into()
        );
        assert_eq!(sha256_hex(&on_disk[&manifest]), seal);
        whole_pdf(&on_disk[&cover], work.path()).expect("cover sheet");
        let manifest_text = String::from_utf8_lossy(&on_disk[&manifest]).into_owned();
        for (_, piece) in &pairs {
            assert_eq!(
                manifest_text.matches(piece.as_str()).count(),
                1,
                "piece {piece} once in the manifest"
            );
        }
        let counts: BTreeMap<String, i64> =
            db.store.piece_counts().await.unwrap().into_iter().collect();
        assert_eq!(counts, [("batched".to_string(), CARDS as i64)].into());
        let verified = db.store.verify_audit().await.expect("verify");
        assert!(verified.is_intact(), "{:?}", verified.problems);
        let (ok, text3) = run({
            let mut c = Command::new(env!("CARGO_BIN_EXE_cqcfab"));
            c.args(db.cli_args())
                .arg("--data")
                .arg(&data)
                .args(["audit", "verify"]);
            c.env_remove("CQCFAB_CONFIG");
            c
        });
        assert!(ok, "{text3}");
        eprintln!(
            "disk drill ({}): letters stopped after {made} of {CARDS} cards: {}; the rest made once \
             there was room; batch close stopped on {named}, sealed, its files written by the next close ({:.1} s)",
            db.backend,
            letters_error
                .lines()
                .find(|l| l.contains("No space"))
                .unwrap_or_default(),
            started.elapsed().as_secs_f64()
        );
    }
}

mod data_folder_full {
    use super::*;

    /// Requests rendered while the SQLite data folder fills up.
    const N: usize = 16;
    /// Room left on the data folder's tmpfs once the requests are in (KiB).
    const ROOM_KIB: u64 = 1024;
    /// Disk-full refusals the workers meet before the drill gives room again: more than a
    /// job's attempts (5) for every job left, a long outage rather than a blip.
    const HOLD_REFUSALS: usize = 40;

    /// KiB used on the tmpfs, as `df` inside the namespace sees it.
    fn used_kib(disk: &TinyDisk) -> u64 {
        let mut c = disk.inside("df");
        c.args(["-k", "--output=used"]).arg(&disk.dir);
        let (ok, text) = run(c);
        assert!(ok, "df: {text}");
        text.lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("df: {text}"))
    }

    /// Render jobs by state, as the node's /metrics tells them (the drill cannot open the
    /// SQLite file itself: SQLite resolves the /proc/PID/root symlink to this namespace's /);
    /// `None` while it does not answer.
    async fn render_counts(addr: std::net::SocketAddr) -> Option<BTreeMap<String, i64>> {
        let (status, body) = http::send(addr, "GET", "/metrics", &[], Vec::new()).await;
        if status != 200 {
            return None;
        }
        let text = body.as_str()?;
        let mut counts = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("cqcfab_jobs{kind=\"render\",state=\"") else {
                continue;
            };
            let (state, value) = rest.split_once("\"} ")?;
            counts.insert(state.to_string(), value.trim().parse::<f64>().ok()? as i64);
        }
        Some(counts)
    }

    /// `cqcfab serve` renders into its SQLite data folder (the proof and the bitmaps are
    /// kept in the database file) on a tmpfs with room for a few cards. The workers meet
    /// "database or disk is full" again and again while the disk stays full; the service
    /// keeps answering. Given room, the work resumes by itself and every card is rendered,
    /// once, with the hashes of its one render record.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_data_folder_fills_while_rendering() {
        if !root_drill("disk_full::data folder", &["unshare", "nsenter"]) {
            return;
        }
        let started = Instant::now();
        let work = tempfile::tempdir().expect("temp dir");
        let data = work.path().join("data");
        let disk = TinyDisk::mount(&data, "64m");
        cqcfab::chip::pki::TestPki::ensure(&disk.seen().join("pki")).expect("test PKI");
        let docs = first_issues("DFULL", 0..N);
        let file = work.path().join("requests.jsonl");
        let lines: Vec<String> = docs
            .iter()
            .map(|d| serde_json::to_string(d).expect("json"))
            .collect();
        std::fs::write(&file, lines.join("\n") + "\n").expect("requests");
        let mut import = disk.inside(env!("CARGO_BIN_EXE_cqcfab"));
        import.arg("--data").arg(&data).arg("import").arg(&file);
        for var in ["CQCFAB_CONFIG", "CQCFAB_DATA", "CQCFAB_DATABASE_URL"] {
            import.env_remove(var);
        }
        let (ok, text) = run(import);
        assert!(ok, "{text}");
        disk.resize(&format!("{}k", used_kib(&disk) + ROOM_KIB));

        let port = common::child::free_port();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut serve = disk.inside(env!("CARGO_BIN_EXE_cqcfab"));
        serve.arg("--data").arg(&data);
        common::child::isolate(&mut serve);
        serve.args(["serve", "--listen", &addr.to_string()]).args([
            "--render-workers",
            "2",
            "--render-lease-secs",
            "5",
        ]);
        let mut node = Spawned::start("serve", serve, work.path().join("serve.log"));
        poll_running(
            &mut node,
            Duration::from_secs(60),
            Duration::from_millis(50),
            "serve ready",
            || async {
                tokio::net::TcpStream::connect(addr).await.ok()?;
                (status_of(addr, "/readyz").await == 200).then_some(())
            },
        )
        .await;
        // The disk fills; the workers keep meeting it; the service answers meanwhile.
        let full = "database or disk is full";
        let log_path = node.log.clone();
        let refusals = || {
            std::fs::read_to_string(&log_path)
                .unwrap_or_default()
                .matches(full)
                .count()
        };
        let at_full = poll_running(
            &mut node,
            Duration::from_secs(60),
            Duration::from_millis(100),
            "the data folder fills",
            || async {
                (refusals() > 0).then_some(())?;
                render_counts(addr).await
            },
        )
        .await;
        assert!(
            at_full.get("done").copied().unwrap_or(0) < N as i64,
            "{at_full:?}"
        );
        let held = poll_running(
            &mut node,
            Duration::from_secs(60),
            Duration::from_millis(200),
            "the workers meet the full disk again and again",
            || async {
                let counts = render_counts(addr).await?;
                (refusals() >= HOLD_REFUSALS || counts.contains_key("failed")).then_some(counts)
            },
        )
        .await;
        assert_eq!(status_of(addr, "/healthz").await, 200);
        let (status, body) = http::get(addr, "/v1/requests/DFULL-00000").await;
        assert_eq!(
            status, 200,
            "the service answers while its disk is full: {body}"
        );
        let full_for = started.elapsed();

        // Room again: the work resumes by itself.
        disk.resize("256m");
        let done = poll_running(
            &mut node,
            Duration::from_secs(90),
            Duration::from_millis(200),
            "every card rendered",
            || async {
                let counts = render_counts(addr).await?;
                (counts.get("done").copied() == Some(N as i64) || counts.contains_key("failed"))
                    .then_some(counts)
            },
        )
        .await;
        assert_eq!(
            done,
            [("done".to_string(), N as i64)].into(),
            "jobs given up while the disk was full: a card lost"
        );
        assert!(
            node.interrupt(Duration::from_secs(30)),
            "serve did not stop cleanly"
        );

        // The database as the node left it (stopped cleanly: the WAL is in the file), read
        // from a copy outside the namespace.
        let copy = work.path().join("copy.sqlite3");
        std::fs::copy(disk.seen().join(cqcfab::store::SQLITE_FILE), &copy).expect("copy");
        let store = Store::open(&Location::SqliteFile(copy), Clock::System)
            .await
            .expect("open");
        let ids: BTreeSet<String> = docs
            .iter()
            .map(|d| d["request_id"].as_str().expect("id").to_string())
            .collect();
        production_is_whole(&store, &ids).await;
        let again: Vec<String> = jobs_of(&store, RENDER_JOB)
            .await
            .iter()
            .filter(|j| j.last_error.is_some())
            .map(|j| {
                format!(
                    "job {} attempts {}: {}",
                    j.id,
                    j.attempts,
                    j.last_error.as_deref().unwrap_or_default()
                )
            })
            .collect();
        store.close().await;
        let mut verify = disk.inside(env!("CARGO_BIN_EXE_cqcfab"));
        verify.arg("--data").arg(&data).args(["audit", "verify"]);
        verify
            .env_remove("CQCFAB_CONFIG")
            .env_remove("CQCFAB_DATABASE_URL");
        let (ok, text) = run(verify);
        assert!(ok, "{text}");
        eprintln!(
            "data folder drill: full at {at_full:?}, held full with {} refusals until {:.1} s ({held:?}); \
             all {N} rendered at {:.1} s; writer reconnected {} time(s); jobs that met the full disk: {again:?}",
            refusals(),
            full_for.as_secs_f64(),
            started.elapsed().as_secs_f64(),
            node.log().matches("lost track of a transaction").count()
        );
    }
}
