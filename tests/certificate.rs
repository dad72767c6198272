//! The certificate of qualification end to end, on SQLite and on PostgreSQL: requests taken
//! over HTTP, the PDF downloaded with the portal's token and read by independent tools
//! (qpdf, poppler's pdffonts and pdftotext), the same document from the binary
//! (`cqcfab certificate`), refusals for requests that are not accepted.

mod common;

use std::path::Path;
use std::process::Command;

use common::TestDb;
use common::http::{Server, TOKEN, post_json};
use common::pdf::tool;
use cqcfab::clock::Clock;
use cqcfab::domain::lifecycle::CardEvent;
use serde_json::{Value, json};
use time::Duration;
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 26))
}

on_both_backends!(clock();
    an_accepted_request_gets_its_certificate_the_same_every_time,
    requests_not_accepted_get_409_and_callers_without_the_token_401,
    a_released_request_is_established_on_the_day_of_its_release,
    purged_personal_data_gives_410,
);

/// The fixture with two groups (goods by FIMO, passengers by passerelle).
fn two_groups() -> Value {
    let f = common::valid_fixtures()
        .iter()
        .find(|f| f["request_id"] == "FIX-2026-000007")
        .cloned()
        .expect("fixture FIX-2026-000007");
    assert_eq!(f["qualifications"].as_array().map(Vec::len), Some(2));
    f
}

async fn submit(server: &Server, doc: &Value) -> Value {
    let (status, body) = post_json(
        server.addr,
        "/v1/requests",
        serde_json::to_vec(doc).unwrap(),
    )
    .await;
    assert!(status == 201, "{status} {body}");
    body
}

fn path(request_id: &str) -> String {
    format!("/v1/requests/{request_id}/certificate.pdf")
}

/// GET with the portal's token (or the `auth` header given).
async fn download(server: &Server, request_id: &str, auth: Option<&str>) -> common::console::Page {
    let bearer = format!("Bearer {TOKEN}");
    let auth = auth.unwrap_or(&bearer);
    let headers: Vec<(&str, &str)> = if auth.is_empty() {
        Vec::new()
    } else {
        vec![("authorization", auth)]
    };
    common::console::request(server.addr, "GET", &path(request_id), &headers, Vec::new()).await
}

/// What independent tools read in the PDF: qpdf finds it sound, pdffonts every font
/// embedded, pdfinfo one A4 page; returns pdftotext's text.
fn read_pdf(bytes: &[u8], dir: &Path) -> String {
    let file = dir.join("certificate.pdf");
    std::fs::write(&file, bytes).unwrap();
    let f = file.to_str().unwrap();
    common::pdf::assert_sound_with_fonts_embedded(f);
    let info = tool("pdfinfo", &[f]);
    assert!(info.contains("Pages:           1"), "{info}");
    assert!(info.contains("595.276 x 841.89 pts (A4)"), "{info}");
    assert!(
        info.contains("Title:           Certificat de qualification de conducteur"),
        "{info}"
    );
    tool("pdftotext", &["-enc", "UTF-8", f, "-"])
}

fn cqcfab(db: &TestDb, args: &[&str]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cqcfab"));
    common::child::isolate(&mut c)
        .args(db.cli_args())
        .args(args)
        .output()
        .expect("run cqcfab")
}

async fn an_accepted_request_gets_its_certificate_the_same_every_time(db: &TestDb) {
    let server = Server::start(&db.store).await;
    let doc = two_groups();
    let id = doc["request_id"].as_str().unwrap().to_string();
    let answer = submit(&server, &doc).await;
    assert_eq!(answer["status"], "approved", "{answer}");

    let page = download(&server, &id, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let header = |h: &str| {
        page.headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    assert_eq!(header("content-type"), "application/pdf");
    assert_eq!(
        header("content-disposition"),
        format!("inline; filename=\"certificat-{id}.pdf\"")
    );
    assert_eq!(header("cache-control"), "private, no-store");
    let dir = tempfile::tempdir().unwrap();
    let text = read_pdf(&page.raw, dir.path());
    let card = db.store.card_by_request(&id).await.unwrap().unwrap();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for wanted in [
        "Certificat de qualification de conducteur",
        "Mis à disposition en application de l'article R. 3314-27 du code des transports",
        "Établi et mis à disposition par",
        cqcfab::certificate::DEFAULT_ISSUER,
        card.surname.as_deref().unwrap(),
        card.given_names.as_deref().unwrap(),
        "09/01/1982",
        "Transport de marchandises — catégories C, CE",
        "Qualification initiale, formation accélérée (FIMO), achevée le 27/02/2026",
        "Transport de voyageurs — catégorie D",
        "Qualification initiale par formation complémentaire (passerelle), achevée le 12/06/2026",
        // Each group's code-95 date: today the card's expiry (field 4b) for both.
        "Code 95 (qualification du groupe) valable jusqu'au 12/06/2031",
        "Date d'établissement : 26/11/2026",
        "Valable jusqu'au 26/03/2027 inclus",
        "pendant une durée de quatre mois à compter de sa date d'établissement",
        "Accompagné d'un titre d'identité",
        "Arrêté du 18 janvier 2022",
    ] {
        assert!(flat.contains(wanted), "{wanted:?} not in:\n{text}");
    }
    assert!(
        !flat.contains("mineur à la date d'établissement :"),
        "{text}"
    );

    // Ten days later, after production moved the card on: the same bytes.
    db.store.clock().advance(Duration::days(10));
    let mut tx = db.store.begin().await.unwrap();
    cqcfab::store::cards::apply(
        &mut tx,
        db.store.clock().now_ms(),
        &card,
        CardEvent::StartProduction,
        "test",
        None,
        json!({}),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let again = download(&server, &id, None).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(
        again.raw == page.raw,
        "a second download differs from the first"
    );

    // The binary writes the very same document (the default issuer on both sides), then one
    // with the issuer of its configuration file.
    let out = dir.path().join("cli.pdf");
    let run = cqcfab(
        db,
        &[
            "certificate",
            "--request",
            &id,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let said = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        said.contains("valid from 26/11/2026 to 26/03/2027 inclusive"),
        "{said}"
    );
    assert!(
        std::fs::read(&out).unwrap() == page.raw,
        "the binary's PDF differs"
    );
    let config = dir.path().join("cqcfab.toml");
    std::fs::write(
        &config,
        "[certificate]\nissuer = \"Société des cartes de test\"\n",
    )
    .unwrap();
    let run = cqcfab(
        db,
        &[
            "--config",
            config.to_str().unwrap(),
            "certificate",
            "--request",
            &id,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = read_pdf(&std::fs::read(&out).unwrap(), dir.path());
    assert!(text.contains("Société des cartes de test"), "{text}");
    server.stop().await;
}

async fn requests_not_accepted_get_409_and_callers_without_the_token_401(db: &TestDb) {
    let server = Server::start(&db.store).await;
    // Held: the portal expected another expiry.
    let mut held = common::valid_fixtures()[32].clone();
    held["expected_expiry"] = Value::String("2040-01-01".into());
    let held_id = held["request_id"].as_str().unwrap().to_string();
    assert_eq!(submit(&server, &held).await["status"], "held_for_review");
    let page = download(&server, &held_id, None).await;
    assert_eq!(page.status, 409, "{}", page.body);
    let body: Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(body["error"], "request_not_accepted");
    assert_eq!(body["status"], "held_for_review");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("held for review"),
        "{body}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("held.pdf");
    let run = cqcfab(
        db,
        &[
            "certificate",
            "--request",
            &held_id,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(!run.status.success());
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(
        said.contains(&format!("request {held_id} is held_for_review")),
        "{said}"
    );
    assert!(!out.exists(), "nothing written for a held request");

    // Rejected by a supervisor: no certificate either.
    let card = db.store.card_by_request(&held_id).await.unwrap().unwrap();
    let mut tx = db.store.begin().await.unwrap();
    cqcfab::store::cards::apply(
        &mut tx,
        db.store.clock().now_ms(),
        &card,
        CardEvent::Reject,
        "supervisor",
        Some("test"),
        json!({}),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let page = download(&server, &held_id, None).await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(
        page.body.contains("\"status\":\"rejected\""),
        "{}",
        page.body
    );

    // Stopped in production (data to correct): 409 too.
    let doc = two_groups();
    let id = doc["request_id"].as_str().unwrap().to_string();
    submit(&server, &doc).await;
    for event in [CardEvent::StartProduction, CardEvent::Stop] {
        let card = db.store.card_by_request(&id).await.unwrap().unwrap();
        let mut tx = db.store.begin().await.unwrap();
        cqcfab::store::cards::apply(
            &mut tx,
            db.store.clock().now_ms(),
            &card,
            event,
            "t",
            None,
            json!({}),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let page = download(&server, &id, None).await;
    assert_eq!(page.status, 409, "{}", page.body);
    assert!(
        page.body.contains("\"status\":\"stopped\""),
        "{}",
        page.body
    );

    // Unknown request: 404; no token, or a wrong one: 401, before anything is looked up.
    let page = download(&server, "NO-SUCH-REQUEST", None).await;
    assert_eq!(page.status, 404, "{}", page.body);
    assert!(page.body.contains("unknown_request"), "{}", page.body);
    for auth in ["", "Bearer not-the-portal-token"] {
        let page = download(&server, &id, Some(auth)).await;
        assert_eq!(page.status, 401, "{auth:?}: {}", page.body);
        let page = download(&server, "NO-SUCH-REQUEST", Some(auth)).await;
        assert_eq!(page.status, 401, "{auth:?}: {}", page.body);
        assert!(!page.raw.starts_with(b"%PDF"));
    }
    server.stop().await;
}

async fn a_released_request_is_established_on_the_day_of_its_release(db: &TestDb) {
    let server = Server::start(&db.store).await;
    let mut held = two_groups();
    held["expected_expiry"] = Value::String("2040-01-01".into());
    let id = held["request_id"].as_str().unwrap().to_string();
    assert_eq!(submit(&server, &held).await["status"], "held_for_review");
    // A supervisor releases it three days later (the clock stands at noon in Paris, on
    // 29 November): the certificate is established that day, not on the day of intake.
    db.store.clock().advance(Duration::days(3));
    let card = db.store.card_by_request(&id).await.unwrap().unwrap();
    cqcfab::review::decide(
        &db.store,
        &card.card_number,
        &cqcfab::review::Decision::Release,
        "supervisor",
    )
    .await
    .unwrap();
    let page = download(&server, &id, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let dir = tempfile::tempdir().unwrap();
    let flat = read_pdf(&page.raw, dir.path())
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(flat.contains("Date d'établissement : 29/11/2026"), "{flat}");
    assert!(
        flat.contains("Valable jusqu'au 29/03/2027 inclus"),
        "{flat}"
    );
    server.stop().await;
}

async fn purged_personal_data_gives_410(db: &TestDb) {
    let server = Server::start(&db.store).await;
    let doc = two_groups();
    let id = doc["request_id"].as_str().unwrap().to_string();
    submit(&server, &doc).await;
    db.exec(
        "UPDATE requests SET document = NULL WHERE request_id = $1",
        &[&id],
    )
    .await
    .unwrap();
    db.exec(
        "UPDATE cards SET surname = NULL, given_names = NULL, birth_date = NULL WHERE request_id = $1",
        &[&id],
    )
    .await
    .unwrap();
    let page = download(&server, &id, None).await;
    assert_eq!(page.status, 410, "{}", page.body);
    assert!(page.body.contains("personal_data_purged"), "{}", page.body);
    server.stop().await;
}
