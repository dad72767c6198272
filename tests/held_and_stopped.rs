//! Every held or stopped request has a way out (docs/corrections.md), end to end over HTTP on
//! both backends, the portal events checked at a local webhook receiver: a held request
//! released from the console (its card is then rendered) or rejected from the command line
//! (the event carries the reason and the driver's message); a stopped card corrected by the
//! driver and rendered under its number with the corrected name (every problem of a bad
//! correction listed, the same correction twice rendering once), cancelled from the console,
//! or released after a fix on our side; only supervisors decide.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::console::{Console, add_user};
use common::http::{Server, TOKEN, get, post_json, send};
use common::webhook::{Shared, hook, received, start_receiver};
use common::{TestDb, card_state, fixture_of, valid_fixtures};
use cqcfab::clock::Clock;
use cqcfab::domain::role::Role;
use cqcfab::portal::webhook::{self, Webhook};
use cqcfab::render::card_data::DEFAULT_AUTHORITY;
use cqcfab::render::{PROOF, Renderer, worker};
use cqcfab::service::{AppState, Token};
use serde_json::{Value, json};
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 27))
}

on_both_backends!(clock();
    a_held_request_is_released_from_the_console_and_made,
    a_held_request_is_rejected_from_the_command_line_with_a_reason,
    a_stopped_card_is_corrected_by_the_driver_and_made_under_its_number,
    a_stopped_card_is_cancelled_from_the_console,
    a_stopped_card_is_released_after_a_fix_on_our_side,
);

/// A surname no layout can hold, even at the smallest size (one word: no second line), yet
/// within intake's 80 characters.
const UNPRINTABLE: &str = "WOLFESCHLEGELSTEINHAUSENBERGERDORFFWOLFESCHLEGELSTEINHAUSENBERGERDORFF";

/// The service, a supervisor and an operator, the portal's webhook receiver, a renderer.
struct Bench {
    server: Server,
    receiver: Shared,
    receiver_task: tokio::task::JoinHandle<()>,
    hook: Webhook,
    renderer: Arc<Renderer>,
}

impl Bench {
    async fn start(db: &TestDb) -> Bench {
        add_user(&db.store, "chef", Role::Supervisor).await;
        add_user(&db.store, "opera", Role::Operator).await;
        let server =
            Server::start_with(AppState::new(db.store.clone(), Some(Token::new(TOKEN)))).await;
        let receiver: Shared = Arc::default();
        let (addr, receiver_task) = start_receiver(receiver.clone()).await;
        Bench {
            server,
            receiver,
            receiver_task,
            hook: hook(addr, 20),
            renderer: Arc::new(Renderer::new(DEFAULT_AUTHORITY).unwrap()),
        }
    }

    async fn stop(self) {
        self.server.stop().await;
        self.receiver_task.abort();
    }

    /// Posts a request as the portal does; returns its answer.
    async fn submit(&self, doc: &Value) -> Value {
        let (status, body) = post_json(
            self.server.addr,
            "/v1/requests",
            serde_json::to_vec(doc).unwrap(),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Posts a correction as the portal does.
    async fn correct(&self, request_id: &str, body: &Value) -> (u16, Value) {
        post_json(
            self.server.addr,
            &format!("/v1/requests/{request_id}/correction"),
            serde_json::to_vec(body).unwrap(),
        )
        .await
    }

    /// Runs the render worker until no job is left; what it did.
    async fn render(&self, db: &TestDb) -> Vec<worker::Done> {
        worker::drain(&db.store, &self.renderer, "test", 1, |_| {})
            .await
            .into_iter()
            .map(|d| d.expect("render job"))
            .collect()
    }

    /// Delivers the outbox to the receiver; the `data` of the events of type `kind` it got.
    async fn events(&self, db: &TestDb, kind: &str) -> Vec<Value> {
        let round = webhook::deliver_due(&db.store, &self.hook).await.unwrap();
        assert_eq!(round.failed, 0, "{round:?}");
        assert_eq!(self.receiver.lock().unwrap().bad_signatures, 0);
        received(&self.receiver, kind)
    }
}

/// A fixture request under a fresh id.
fn request(tag: &str) -> Value {
    let mut doc = fixture_of("first_issue");
    doc["request_id"] = json!(format!("WAY-{tag}-{}", uuid::Uuid::new_v4().simple()));
    doc
}

/// A request the portal dated differently from us: held for review.
fn held_request(tag: &str) -> Value {
    let mut doc = request(tag);
    doc["expected_expiry"] = json!("2035-01-01");
    doc
}

/// A card stopped at rendering, with the portal told. Intake will refuse names that cannot be
/// printed, so the stop is made where it can still happen, behind intake's back: the accepted
/// request and its card record are given a surname no layout holds before the render job runs
/// (as a layout change after intake, or a record written by an older intake, would leave them).
/// This stops the render whatever intake accepts, and the stored request still agrees with the
/// card, so the correction is laid over what the card was made from, as in production.
async fn stopped_card(db: &TestDb, b: &Bench, tag: &str) -> (String, String) {
    let answer = b.submit(&request(tag)).await;
    let number = answer["card_number"].as_str().unwrap().to_string();
    let id = answer["request_id"].as_str().unwrap().to_string();
    db.exec(
        "UPDATE cards SET surname = $1 WHERE card_number = $2",
        &[UNPRINTABLE, &number],
    )
    .await
    .unwrap();
    let (Some(mut document), _) = db.store.request_document(&id).await.unwrap().unwrap() else {
        panic!("no stored document")
    };
    document["holder"]["surname"] = json!(UNPRINTABLE);
    db.exec(
        "UPDATE requests SET document = $1 WHERE request_id = $2",
        &[&document.to_string(), &id],
    )
    .await
    .unwrap();
    let done = b.render(db).await;
    assert!(
        matches!(&done[..], [worker::Done::Stopped { card_number, .. }] if *card_number == number),
        "{done:?}"
    );
    assert_eq!(card_state(db, &number).await, "stopped");
    (id, number)
}

/// The audit records of card `number`, all fields together, for what they must not hold.
async fn audit_text(db: &TestDb, number: &str) -> String {
    db.store
        .audit_history("card", number)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{} {} {:?} {:?} {:?}",
                r.actor, r.action, r.before, r.after, r.reason
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the binary on the test's database. It runs on the wall clock, which is ahead of this
/// test's fixed clock: the test's clock catches up, or what the binary wrote (portal events due
/// at its own now) would wait for a time the test never reaches.
fn cli(db: &TestDb, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_cqcfab"))
        .args(db.cli_args())
        .args(args)
        .output()
        .unwrap();
    let behind = Clock::System.now_ms() - db.store.clock().now_ms();
    if behind > 0 {
        db.store
            .clock()
            .advance(time::Duration::milliseconds(behind + 1));
    }
    out
}

async fn a_held_request_is_released_from_the_console_and_made(db: &TestDb) {
    let b = Bench::start(db).await;
    let mut doc = held_request("release");
    doc["holder"]["surname"] = json!("D'ARTAGNAN");
    let answer = b.submit(&doc).await;
    assert_eq!(answer["status"], "held_for_review");
    let number = answer["card_number"].as_str().unwrap().to_string();
    let ours = answer["expiry_date"].as_str().unwrap().to_string();
    assert_ne!(ours, "2035-01-01");
    // A held card is not rendered.
    assert!(b.render(db).await.is_empty());

    // Only a supervisor sees the page and decides.
    let opera = Console::login(b.server.addr, "opera").await;
    assert_eq!(opera.get("/console/review").await.status, 403);
    let refused = opera
        .post(&format!("/console/review/{number}/release"), &[])
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(card_state(db, &number).await, "held_for_review");

    let chef = Console::login(b.server.addr, "chef").await;
    // The dashboard points at it.
    let home = chef.get("/console").await;
    assert!(
        home.body.contains("<b>1</b> demande(s) à revoir"),
        "{}",
        home.body
    );
    let page = chef.get("/console/review").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&number), "{}", page.body);
    // Both dates side by side, the holder's name as text.
    assert!(page.body.contains(&ours) && page.body.contains("2035-01-01"));
    assert!(page.body.contains("D&#39;ARTAGNAN"));
    assert!(
        page.body
            .contains(&format!("/console/review/{number}/release"))
    );

    let done = chef
        .post(&format!("/console/review/{number}/release"), &[])
        .await;
    assert!(done.went_well(), "{:?}", done.location());
    assert_eq!(card_state(db, &number).await, "approved");
    // The render job runs and the card goes on, under our dates.
    let rendered = b.render(db).await;
    assert_eq!(
        rendered,
        [worker::Done::Rendered {
            card_number: number.clone()
        }]
    );
    assert_eq!(card_state(db, &number).await, "in_production");
    let card = db.store.card_by_number(&number).await.unwrap().unwrap();
    assert_eq!(card.expiry_date, ours);

    // The portal heard of the hold, then of the release.
    let held = b.events(db, "request.held").await;
    assert!(held.iter().any(|e| e["card_number"] == number.as_str()));
    let released = b.events(db, "request.released").await;
    assert_eq!(released.len(), 1);
    assert_eq!(released[0]["card_number"], number.as_str());
    assert_eq!(released[0]["released_from"], "held_for_review");
    assert_eq!(released[0]["expiry_date"], ours.as_str());
    assert_eq!(released[0]["expected_expiry"], "2035-01-01");
    // Audited with who decided.
    let history = db.store.audit_history("card", &number).await.unwrap();
    let release = history.iter().find(|r| r.action == "card.release").unwrap();
    assert_eq!(release.actor, "chef");

    // Released already: a second release is refused and changes nothing.
    let again = chef
        .post(&format!("/console/review/{number}/release"), &[])
        .await;
    assert!(!again.went_well());
    assert_eq!(b.events(db, "request.released").await.len(), 1);
    assert!(b.render(db).await.is_empty());
    b.stop().await;
}

async fn a_held_request_is_rejected_from_the_command_line_with_a_reason(db: &TestDb) {
    let b = Bench::start(db).await;
    let answer = b.submit(&held_request("reject")).await;
    let number = answer["card_number"].as_str().unwrap().to_string();
    let id = answer["request_id"].as_str().unwrap().to_string();
    let ours = answer["expiry_date"].as_str().unwrap().to_string();

    let list = cli(db, &["review", "list"]);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(list.contains(&number), "{list}");
    assert!(
        list.contains(&format!(
            "expected_expiry_differs ours {ours}  portal or other reading 2035-01-01"
        )),
        "{list}"
    );

    // The console refuses an empty message before anything is decided.
    let chef = Console::login(b.server.addr, "chef").await;
    let p = chef
        .post(
            &format!("/console/review/{number}/reject"),
            &[("reason", "dates_inconsistent"), ("message", "   ")],
        )
        .await;
    assert!(!p.went_well());
    assert_eq!(card_state(db, &number).await, "held_for_review");

    // A reason meant for stopped cards is refused; an unknown one never reaches the store.
    let message = "Votre attestation de formation ne permet pas d’établir la date attendue : \
                   déposez une nouvelle demande avec l’attestation FIMO.";
    let wrong = cli(
        db,
        &[
            "review",
            "reject",
            &number,
            "--reason",
            "no_correction_received",
            "--message",
            message,
            "--by",
            "chef",
        ],
    );
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("not one for a card"));
    let unknown = cli(
        db,
        &[
            "review",
            "reject",
            &number,
            "--reason",
            "because",
            "--message",
            message,
            "--by",
            "chef",
        ],
    );
    assert!(!unknown.status.success());
    assert_eq!(card_state(db, &number).await, "held_for_review");

    let ok = cli(
        db,
        &[
            "review",
            "reject",
            &number,
            "--reason",
            "training_not_established",
            "--message",
            message,
            "--by",
            "chef",
        ],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("request.rejected"));
    assert_eq!(card_state(db, &number).await, "rejected");
    assert!(
        b.render(db).await.is_empty(),
        "a rejected request is never made"
    );

    let rejected = b.events(db, "request.rejected").await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["request_id"], id.as_str());
    assert_eq!(rejected[0]["reason"], "training_not_established");
    assert_eq!(rejected[0]["message"], message);
    // The audit trail keeps the reason, not the message (it may name the person).
    let audit = audit_text(db, &number).await;
    assert!(audit.contains("card.reject") && audit.contains("training_not_established"));
    assert!(!audit.contains("attestation"), "{audit}");
    // The portal sees it in the history too.
    let (status, body) = get(b.server.addr, &format!("/v1/requests/{id}")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("rejected")));
    b.stop().await;
}

async fn a_stopped_card_is_corrected_by_the_driver_and_made_under_its_number(db: &TestDb) {
    let b = Bench::start(db).await;
    let (id, number) = stopped_card(db, &b, "correct").await;

    // The portal is told what the driver must correct.
    let stopped = b.events(db, "card.stopped").await;
    assert_eq!(stopped.len(), 1);
    let e = &stopped[0];
    assert_eq!(e["card_number"], number.as_str());
    assert_eq!(e["reason"], "text_does_not_fit");
    assert_eq!(e["fields"], json!(["holder.surname"]));
    assert!(e["message"].as_str().unwrap().contains("votre nom"));
    assert_eq!(
        e["links"]["correction"],
        format!("/v1/requests/{id}/correction").as_str()
    );
    let (_, status) = get(b.server.addr, &format!("/v1/requests/{id}")).await;
    assert_eq!(status["status"], "stopped");
    assert_eq!(status["correction"]["fields"], json!(["holder.surname"]));
    assert!(!audit_text(db, &number).await.contains("WOLFESCHLEGEL"));

    // A bad correction: every problem listed, nothing changed.
    let (s, body) = b
        .correct(
            &id,
            &json!({
                "holder": { "surname": "", "birth_date": "1984-13-40" },
                "photo": "%%% not base64 %%%",
                "qualifications": [],
            }),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    let mut problems: Vec<(String, String)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
            (
                e["path"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    problems.sort();
    let want = [
        ("holder.birth_date", "invalid_date"),
        ("holder.surname", "empty"),
        ("photo", "invalid_base64"),
        ("qualifications", "not_correctable"),
    ];
    assert_eq!(
        problems,
        want.map(|(p, c)| (p.to_string(), c.to_string())),
        "{body}"
    );
    // What production stopped on must change; the holder's identity may not.
    let other = &valid_fixtures()[1];
    let (s, body) = b
        .correct(&id, &json!({ "signature": other["signature"] }))
        .await;
    assert_eq!(s, 422);
    let found: Vec<(&str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["path"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    // The surname was not corrected: the one stored still cannot be printed, and intake's
    // own fitting says so (docs/intake.md), naming the field the driver must change.
    assert_eq!(found, [("holder.surname", "name_does_not_fit")], "{body}");
    let (s, body) = b
        .correct(
            &id,
            &json!({ "holder": { "surname": "LAFORGE", "licence_number": "13AA00003" } }),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(body["errors"][0]["path"], "holder.licence_number");
    assert_eq!(body["errors"][0]["code"], "not_correctable");
    assert_eq!(card_state(db, &number).await, "stopped");
    assert_eq!(db.store.correction_count(&id).await.unwrap(), 0);

    // The edges: unknown request 404, a card not waiting 409, wrong media type 415, no token 401.
    let (s, body) = b.correct("NO-SUCH-REQUEST", &json!({})).await;
    assert_eq!((s, body["error"].as_str()), (404, Some("unknown_request")));
    let accepted = b.submit(&request("approved")).await;
    assert!(matches!(
        &b.render(db).await[..],
        [worker::Done::Rendered { .. }]
    ));
    let (s, body) = b
        .correct(
            accepted["request_id"].as_str().unwrap(),
            &json!({ "holder": { "surname": "LAFORGE" } }),
        )
        .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (409, Some("not_waiting_for_correction"))
    );
    let path = format!("/v1/requests/{id}/correction");
    let auth = format!("Bearer {TOKEN}");
    let (s, _) = send(
        b.server.addr,
        "POST",
        &path,
        &[("content-type", "text/plain"), ("authorization", &auth)],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(s, 415);
    let (s, _) = send(
        b.server.addr,
        "POST",
        &path,
        &[("content-type", "application/json")],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(s, 401);

    // The driver's correction: a full holder with the name they can carry, and a new photo.
    let mut holder = fixture_of("first_issue")["holder"].clone();
    holder["surname"] = json!("LAFORGE");
    let correction = json!({ "holder": holder, "photo": other["photo"] });
    // Sent twice at once (the portal retrying a request it thinks lost): taken once, the
    // other answered with the same body.
    let (one, two) = tokio::join!(b.correct(&id, &correction), b.correct(&id, &correction));
    let mut statuses = [one.0, two.0];
    statuses.sort();
    assert_eq!(statuses, [200, 202], "{} / {}", one.1, two.1);
    assert_eq!(one.1, two.1);
    let first = one.1;
    assert_eq!(first["card_number"], number.as_str());
    assert_eq!(first["status"], "approved");
    assert_eq!(first["corrected"], json!(["holder.surname", "photo"]));
    // Again afterwards: the first answer, and nothing more queued.
    let (s, again) = b.correct(&id, &correction).await;
    assert_eq!((s, &again), (200, &first));
    assert_eq!(db.store.correction_count(&id).await.unwrap(), 1);

    // Rendered once, under the same number, with the corrected name.
    let done = b.render(db).await;
    assert_eq!(
        done,
        [worker::Done::Rendered {
            card_number: number.clone()
        }]
    );
    assert_eq!(card_state(db, &number).await, "in_production");
    let card = db.store.card_by_number(&number).await.unwrap().unwrap();
    assert_eq!(card.surname.as_deref(), Some("LAFORGE"));
    let files = db.store.artifacts(card.id).await.unwrap();
    let proof = files.iter().find(|f| f.name == PROOF).unwrap();
    let text = pdf_text(proof.bytes.as_deref().unwrap());
    assert!(text.contains("LAFORGE"), "{text}");
    assert!(!text.contains("WOLFESCHLEGEL"));
    // The new photo is the stored one.
    let photo = db.store.request_media(&id, "photo").await.unwrap().unwrap();
    let sent = base64_decode(other["photo"].as_str().unwrap());
    assert_eq!(photo.bytes.as_deref(), Some(&sent[..]));

    // Sent once more after the render: still answered, still not rendered again.
    let (s, late) = b.correct(&id, &correction).await;
    assert_eq!((s, &late), (200, &first));
    assert!(b.render(db).await.is_empty());
    // A new correction now finds nothing waiting.
    let (s, _) = b
        .correct(&id, &json!({ "holder": { "surname": "LAFORGUE" } }))
        .await;
    assert_eq!(s, 409);

    // Audited by identifiers and fingerprints, never the names or the picture.
    let history = db.store.audit_history("card", &number).await.unwrap();
    let correct = history.iter().find(|r| r.action == "card.correct").unwrap();
    assert_eq!(correct.actor, "portal");
    let after: Value = serde_json::from_str(correct.after.as_deref().unwrap()).unwrap();
    assert_eq!(after["state"], "approved");
    assert_eq!(after["corrected"], json!(["holder.surname", "photo"]));
    assert_eq!(after["photo_sha256"].as_str(), Some(photo.sha256.as_str()));
    let audit = audit_text(db, &number).await;
    assert!(
        !audit.contains("LAFORGE") && !audit.contains("WOLFESCHLEGEL"),
        "{audit}"
    );
    assert!(db.store.verify_audit().await.unwrap().is_intact());
    b.stop().await;
}

async fn a_stopped_card_is_cancelled_from_the_console(db: &TestDb) {
    let b = Bench::start(db).await;
    let (id, number) = stopped_card(db, &b, "cancel").await;
    let message = "Sans nouvelles de votre part, la fabrication de votre carte est annulée. \
                   Déposez une nouvelle demande sur le portail.";
    let opera = Console::login(b.server.addr, "opera").await;
    let refused = opera
        .post(
            &format!("/console/review/{number}/cancel"),
            &[("reason", "no_correction_received"), ("message", message)],
        )
        .await;
    assert_eq!(refused.status, 403);

    let chef = Console::login(b.server.addr, "chef").await;
    let page = chef.get("/console/review").await;
    assert!(page.body.contains(&number));
    assert!(page.body.contains("texte trop long"), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("/console/review/{number}/cancel"))
    );
    // A held card's reason does not cancel a stopped one.
    let wrong = chef
        .post(
            &format!("/console/review/{number}/cancel"),
            &[("reason", "dates_inconsistent"), ("message", message)],
        )
        .await;
    assert!(!wrong.went_well());
    assert_eq!(card_state(db, &number).await, "stopped");

    let done = chef
        .post(
            &format!("/console/review/{number}/cancel"),
            &[("reason", "no_correction_received"), ("message", message)],
        )
        .await;
    assert!(done.went_well(), "{:?}", done.location());
    assert_eq!(card_state(db, &number).await, "rejected");
    let cancelled = b.events(db, "card.cancelled").await;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["card_number"], number.as_str());
    assert_eq!(cancelled[0]["reason"], "no_correction_received");
    assert_eq!(cancelled[0]["message"], message);
    assert!(b.events(db, "request.rejected").await.is_empty());
    // Nothing waits for a correction any more.
    let (s, _) = b
        .correct(&id, &json!({ "holder": { "surname": "LAFORGE" } }))
        .await;
    assert_eq!(s, 409);
    assert!(!chef.get("/console/review").await.body.contains(&number));
    b.stop().await;
}

async fn a_stopped_card_is_released_after_a_fix_on_our_side(db: &TestDb) {
    let b = Bench::start(db).await;
    let (_, number) = stopped_card(db, &b, "retry").await;
    // Released before anything is fixed: rendered again, stopped again, the portal told again.
    let out = cli(db, &["review", "release", &number, "--by", "chef"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(matches!(
        &b.render(db).await[..],
        [worker::Done::Stopped { .. }]
    ));
    assert_eq!(b.events(db, "card.stopped").await.len(), 2);
    // The fix (here: the record made printable again), then the release: the card is made.
    db.exec(
        "UPDATE cards SET surname = 'DUPONT-MARTIN' WHERE card_number = $1",
        &[&number],
    )
    .await
    .unwrap();
    let out = cli(db, &["review", "release", &number, "--by", "chef"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        b.render(db).await,
        [worker::Done::Rendered {
            card_number: number.clone()
        }]
    );
    let released = b.events(db, "request.released").await;
    assert_eq!(released.len(), 2);
    assert!(released.iter().all(|e| e["released_from"] == "stopped"));
    b.stop().await;
}

fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("proof.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
