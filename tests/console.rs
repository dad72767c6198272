//! The web console over HTTP, on both backends: every route without a session and with every
//! role, CSRF on every form, session fixation and expiry, a hostile holder name on every page
//! that shows names, and the console's actions (hand-over, mailroom scan, four-eyes approval,
//! token rotation) doing what the CLI and stations do.

mod common;

use common::console::{Console, LOGIN, PASSWORD, Page, SESSION, add_user, form, request};
use common::http::Server;
use common::production::{self, cards_with_carriers};
use common::{TestDb, card_state};
use cqcfab::clock::Clock;
use cqcfab::domain::role::{Permission, Role};
use cqcfab::render::Renderer;
use cqcfab::render::card_data::DEFAULT_AUTHORITY;
use cqcfab::service::{AppState, Token};
use cqcfab::store::destruction::{DestructionReason, Method};
use std::sync::Arc;
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 27))
}

on_both_backends!(clock();
    every_route_wants_a_session_and_the_right_role,
    every_form_is_refused_without_its_csrf_token,
    sessions_are_new_at_sign_in_and_end_when_they_should,
    a_hostile_name_is_text_on_every_page,
    the_console_does_the_bureau_s_work,
    tokens_rotate_through_the_binary,
);

/// One user per role, named after it.
async fn staff(db: &TestDb) {
    for role in Role::ALL {
        add_user(&db.store, role.as_str(), role).await;
    }
}

async fn server(db: &TestDb) -> Server {
    let renderer = Renderer::new(DEFAULT_AUTHORITY).unwrap();
    Server::start_with(
        AppState::new(db.store.clone(), Some(Token::new("portal-token-16+")))
            .with_renderer(Arc::new(renderer)),
    )
    .await
}

/// A closed batch (not yet handed over) of `n` new cards, and its id.
async fn closed_batch(db: &TestDb, n: usize) -> (String, Vec<(String, String)>) {
    let pairs = cards_with_carriers(db, n).await;
    let batch = production::closed_batch(db, &pairs, "2026-11-27").await;
    (batch, pairs)
}

/// The GET pages and who may see them.
fn pages(card: &str, batch: &str) -> Vec<(String, Permission)> {
    vec![
        ("/console".into(), Permission::ViewProduction),
        ("/console/cards".into(), Permission::ViewProduction),
        (format!("/console/cards/{card}"), Permission::ViewProduction),
        (
            format!("/console/cards/{card}/preview/front.png"),
            Permission::ViewProduction,
        ),
        (
            format!("/console/cards/{card}/files/proof.pdf"),
            Permission::ViewProduction,
        ),
        ("/console/batches".into(), Permission::ViewProduction),
        (
            format!("/console/batches/{batch}/manifest.csv"),
            Permission::ViewProduction,
        ),
        (
            format!("/console/batches/{batch}/cover.pdf"),
            Permission::ViewProduction,
        ),
        ("/console/mailroom".into(), Permission::ScanReturns),
        ("/console/quality".into(), Permission::AnalyseQuality),
        ("/console/approvals".into(), Permission::Approve),
        ("/console/review".into(), Permission::Approve),
        ("/console/users".into(), Permission::ManageUsers),
        ("/console/events".into(), Permission::ViewAudit),
    ]
}

/// The forms and who may post them.
fn forms(batch: &str) -> Vec<(String, Permission)> {
    vec![
        (
            format!("/console/batches/{batch}/hand-over"),
            Permission::RunProduction,
        ),
        ("/console/mailroom/scan".into(), Permission::ScanReturns),
        (
            "/console/approvals/destructions/1".into(),
            Permission::Approve,
        ),
        ("/console/approvals/waivers/1".into(), Permission::Approve),
        (
            "/console/review/FR0000001A01/release".into(),
            Permission::Approve,
        ),
        (
            "/console/review/FR0000001A01/reject".into(),
            Permission::Approve,
        ),
        (
            "/console/review/FR0000001A01/cancel".into(),
            Permission::Approve,
        ),
        ("/console/users".into(), Permission::ManageUsers),
        (
            "/console/users/operator/disable".into(),
            Permission::ManageUsers,
        ),
        ("/console/tokens".into(), Permission::ManageUsers),
        ("/console/tokens/1/revoke".into(), Permission::ManageUsers),
        ("/console/events/retry".into(), Permission::ViewAudit),
    ]
}

/// Form fields or headers.
type Fields<'a> = Vec<(&'a str, &'a str)>;

fn is_login_redirect(p: &Page) -> bool {
    p.status == 303
        && p.location()
            .is_some_and(|l| l.starts_with("/console/login"))
}

async fn every_route_wants_a_session_and_the_right_role(db: &TestDb) {
    staff(db).await;
    let (batch, pairs) = closed_batch(db, 2).await;
    let card = &pairs[0].0;
    let srv = server(db).await;
    // Without a session: to the sign-in page, nothing shown, nothing done.
    for (path, _) in pages(card, &batch) {
        let p = request(srv.addr, "GET", &path, &[], Vec::new()).await;
        assert!(
            is_login_redirect(&p),
            "GET {path}: {} {:?}",
            p.status,
            p.location()
        );
        assert!(!p.body.contains(card.as_str()), "GET {path} shows data");
    }
    for (path, _) in forms(&batch) {
        let p = request(
            srv.addr,
            "POST",
            &path,
            &[("content-type", "application/x-www-form-urlencoded")],
            form(&[("confirm", "yes")]),
        )
        .await;
        assert!(is_login_redirect(&p), "POST {path}: {}", p.status);
        // A made-up session is no session.
        let p = request(
            srv.addr,
            "POST",
            &path,
            &[
                ("cookie", &format!("{SESSION}=00ff")),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            form(&[("confirm", "yes")]),
        )
        .await;
        assert!(
            is_login_redirect(&p),
            "POST {path} with a made-up session: {}",
            p.status
        );
    }
    // Every role: the pages it may see answer, the others are refused (403).
    for role in Role::ALL {
        let c = Console::login(srv.addr, role.as_str()).await;
        for (path, needs) in pages(card, &batch) {
            let p = c.get(&path).await;
            if role.may(needs) {
                assert!(
                    p.status == 200 || p.status == 404,
                    "{role:?} GET {path}: {} {}",
                    p.status,
                    p.body
                );
            } else {
                assert_eq!(p.status, 403, "{role:?} GET {path}");
                assert!(p.body.contains("Accès refusé"));
                assert!(!p.body.contains(card.as_str()), "{role:?} GET {path} leaks");
            }
        }
        for (path, needs) in forms(&batch) {
            if role.may(needs) {
                continue; // done for real in the other tests
            }
            let p = c
                .post(
                    &path,
                    &[
                        ("confirm", "yes"),
                        ("username", "x1"),
                        ("display_name", "X"),
                        ("role", "admin"),
                        ("password", PASSWORD),
                        ("name", "x1"),
                        ("kind", "portal"),
                        ("decision", "approve"),
                        ("code", &pairs[0].1),
                    ],
                )
                .await;
            assert_eq!(p.status, 403, "{role:?} POST {path}: {}", p.body);
        }
        // The menu shows only what the role may open.
        let home = c.get("/console/cards").await;
        assert_eq!(
            home.body.contains("href=\"/console/users\""),
            role.may(Permission::ManageUsers),
            "{role:?} menu"
        );
        assert_eq!(
            home.body.contains("href=\"/console/approvals\""),
            role.may(Permission::Approve),
            "{role:?} menu"
        );
    }
    // Nothing the refused roles posted happened.
    let b = db.store.batch(&batch).await.unwrap().unwrap();
    assert_eq!(b.state, "closed");
    assert_eq!(db.store.users().await.unwrap().len(), Role::ALL.len());
    assert!(db.store.tokens().await.unwrap().is_empty());
    srv.stop().await;
}

async fn every_form_is_refused_without_its_csrf_token(db: &TestDb) {
    staff(db).await;
    let (batch, pairs) = closed_batch(db, 2).await;
    let destruction = db
        .store
        .request_destruction(
            &pairs[1].0,
            DestructionReason::Damaged,
            Method::CrossCutShredder,
            "operator",
        )
        .await;
    let srv = server(db).await;
    let supervisor = Console::login(srv.addr, "supervisor").await;
    let admin = Console::login(srv.addr, "admin").await;
    let good = supervisor.csrf().await;
    assert_ne!(good, admin.csrf().await, "one token per session");
    let fields = [
        ("confirm", "yes"),
        ("username", "mallory"),
        ("display_name", "Mallory"),
        ("role", "admin"),
        ("password", PASSWORD),
        ("name", "evil-station"),
        ("kind", "portal"),
        ("decision", "approve"),
        ("code", pairs[0].1.as_str()),
    ];
    for (path, needs) in forms(&batch) {
        let c = if Role::Supervisor.may(needs) {
            &supervisor
        } else {
            &admin
        };
        let own = c.csrf().await;
        let other = if std::ptr::eq(c, &supervisor) {
            admin.csrf().await
        } else {
            good.clone()
        };
        // No token, another session's token, a forged one, and the right one from another site.
        let forged = "0".repeat(64);
        let mut attempts: Vec<(Fields, Fields)> = vec![
            (fields.to_vec(), vec![]),
            (
                [("csrf", other.as_str())]
                    .into_iter()
                    .chain(fields)
                    .collect(),
                vec![],
            ),
            (
                [("csrf", forged.as_str())]
                    .into_iter()
                    .chain(fields)
                    .collect(),
                vec![],
            ),
        ];
        attempts.push((
            [("csrf", own.as_str())].into_iter().chain(fields).collect(),
            vec![("origin", "https://evil.example")],
        ));
        for (pairs, headers) in &attempts {
            let p = c.post_raw(&path, pairs, headers).await;
            assert_eq!(p.status, 403, "POST {path} {headers:?}: {}", p.body);
        }
    }
    // Nothing happened.
    assert_eq!(
        db.store.batch(&batch).await.unwrap().unwrap().state,
        "closed"
    );
    assert_eq!(db.store.users().await.unwrap().len(), Role::ALL.len());
    assert!(db.store.tokens().await.unwrap().is_empty());
    if let Ok(id) = destruction {
        let d = db.store.destructions().await.unwrap();
        assert!(d.iter().any(|d| d.id == id && d.state == "pending"));
    }
    let logout = supervisor.post_raw("/console/logout", &[], &[]).await;
    assert_eq!(logout.status, 403, "sign-out is a form too");
    assert_eq!(
        supervisor.get("/console").await.status,
        200,
        "still signed in"
    );

    // Every form on every page carries the token.
    for (c, paths) in [
        (
            &supervisor,
            vec![
                "/console",
                "/console/batches",
                "/console/approvals",
                "/console/review",
                "/console/mailroom",
                "/console/events",
                "/console/quality",
            ],
        ),
        (&admin, vec!["/console/users", "/console/events"]),
    ] {
        for path in paths {
            let page = c.get(path).await;
            assert_eq!(page.status, 200, "{path}");
            let mut forms = 0;
            for chunk in page.body.split("<form").skip(1) {
                let form = chunk.split("</form>").next().unwrap();
                if form.contains("method=\"post\"") {
                    forms += 1;
                    assert!(
                        form.contains("name=\"csrf\""),
                        "{path}: a form without its token: {form}"
                    );
                }
            }
            assert!(forms >= 1, "{path}: at least the sign-out form");
        }
    }
    srv.stop().await;
}

async fn sessions_are_new_at_sign_in_and_end_when_they_should(db: &TestDb) {
    staff(db).await;
    let srv = server(db).await;
    // A cookie planted before sign-in is never promoted: a new secret is given, the planted
    // one opens nothing.
    let planted = "6".repeat(64);
    let c = Console::try_login(srv.addr, "operator", PASSWORD, Some(&planted))
        .await
        .unwrap();
    assert_ne!(c.session, planted);
    assert_eq!(c.session.len(), 64);
    let fake = Console {
        addr: srv.addr,
        session: planted.clone(),
    };
    assert!(is_login_redirect(&fake.get("/console").await));
    // A real session of someone else planted in the browser ends at this sign-in.
    let attacker = Console::login(srv.addr, "mailroom").await;
    let victim = Console::try_login(srv.addr, "supervisor", PASSWORD, Some(&attacker.session))
        .await
        .unwrap();
    assert_ne!(victim.session, attacker.session);
    assert!(
        is_login_redirect(&attacker.get("/console").await),
        "the planted session ended"
    );
    assert_eq!(victim.get("/console").await.status, 200);

    // Cookie attributes.
    let login_form = request(srv.addr, "GET", "/console/login", &[], Vec::new()).await;
    let set: Vec<_> = login_form
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        set.iter().all(|c| c.contains("HttpOnly")
            && c.contains("SameSite=Strict")
            && c.contains("Secure")),
        "{set:?}"
    );
    assert!(
        login_form
            .headers
            .get("content-security-policy")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );

    // The sign-in form without its cookie (another site's form) is refused.
    let token = login_form.set_cookie(LOGIN).unwrap();
    let p = request(
        srv.addr,
        "POST",
        "/console/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        form(&[
            ("token", &token),
            ("username", "operator"),
            ("password", PASSWORD),
        ]),
    )
    .await;
    assert_eq!(p.status, 403);
    assert!(p.set_cookie(SESSION).is_none());
    // Wrong password: refused, said the same way as an unknown user, audited.
    let wrong = Console::try_login(srv.addr, "operator", "not-the-password", None)
        .await
        .err()
        .unwrap();
    let unknown = Console::try_login(srv.addr, "nobody", "not-the-password", None)
        .await
        .err()
        .unwrap();
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert!(wrong.body.contains("Identifiant ou mot de passe incorrect"));
    assert!(
        unknown
            .body
            .contains("Identifiant ou mot de passe incorrect")
    );
    assert!(!wrong.body.contains("not-the-password"));
    // The next page: only our own.
    let form_page = request(
        srv.addr,
        "GET",
        "/console/login?next=https://evil.example",
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(form_page.hidden("next").as_deref(), Some("/console"));

    // Sign-out ends the session.
    let out = c.post("/console/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert!(is_login_redirect(&c.get("/console").await));
    // Idle for 31 minutes: signed out.
    let idle = Console::login(srv.addr, "quality").await;
    db.store.clock().advance(time::Duration::minutes(29));
    assert_eq!(
        idle.get("/console").await.status,
        200,
        "29 minutes: still in"
    );
    db.store.clock().advance(time::Duration::minutes(31));
    assert!(
        is_login_redirect(&idle.get("/console").await),
        "31 minutes idle"
    );
    // A disabled user's session ends at once.
    let op = Console::login(srv.addr, "operator").await;
    db.store.disable_user("operator", "admin").await.unwrap();
    assert!(is_login_redirect(&op.get("/console").await));
    srv.stop().await;
}

const PAYLOAD: &str = "<script>alert('xss')</script>\"><img src=x onerror=alert(1)>";

async fn a_hostile_name_is_text_on_every_page(db: &TestDb) {
    staff(db).await;
    let (_, pairs) = closed_batch(db, 1).await;
    let card = &pairs[0].0;
    // What intake would refuse, written behind its back: the pages must still be safe.
    db.exec(
        "UPDATE cards SET surname = $1, given_names = $1",
        &[PAYLOAD],
    )
    .await
    .unwrap();
    db.store
        .add_user("hostile", PAYLOAD, Role::Supervisor, PASSWORD, "admin")
        .await
        .unwrap();
    let srv = server(db).await;
    let hostile = Console::login(srv.addr, "hostile").await;
    let admin = Console::login(srv.addr, "admin").await;
    let escaped = "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;";
    let mut seen = 0;
    for (c, path) in [
        (&hostile, format!("/console/cards/{card}")),
        (&hostile, "/console".to_string()),
        (&hostile, "/console/approvals".to_string()),
        (&hostile, "/console/review".to_string()),
        (&hostile, "/console/batches".to_string()),
        (&hostile, "/console/mailroom".to_string()),
        (&hostile, "/console/quality".to_string()),
        (&hostile, format!("/console/cards?q={}", urlencode(PAYLOAD))),
        (&admin, "/console/users".to_string()),
    ] {
        let p = c.get(&path).await;
        assert!(p.status == 200 || p.status == 404, "{path}: {}", p.status);
        assert!(
            !p.body.contains("<script>alert"),
            "{path} carries a live script"
        );
        assert!(
            !p.body.contains("<img src=x"),
            "{path} carries a live image"
        );
        if p.body.contains(escaped) {
            seen += 1;
        }
    }
    assert!(
        seen >= 3,
        "the name is shown, as text, on the card, users and header pages ({seen})"
    );
    srv.stop().await;
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("q", s)]).unwrap()[2..].to_string()
}

async fn the_console_does_the_bureau_s_work(db: &TestDb) {
    staff(db).await;
    add_user(&db.store, "supervisor2", Role::Supervisor).await;
    let (batch, pairs) = closed_batch(db, 3).await;
    let srv = server(db).await;
    let operator = Console::login(srv.addr, "operator").await;
    let supervisor = Console::login(srv.addr, "supervisor").await;

    // The card page shows the holder, both previews (served as PNG) and the timeline.
    let card = &pairs[0].0;
    let page = operator.get(&format!("/console/cards/{card}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("/preview/front.png") && page.body.contains("/preview/back.png"));
    assert!(page.body.contains("card.start_production"), "timeline");
    for side in ["front", "back"] {
        let png = operator
            .get(&format!("/console/cards/{card}/preview/{side}.png"))
            .await;
        assert_eq!(png.status, 200, "{side}");
        assert_eq!(png.headers.get("content-type").unwrap(), "image/png");
        assert_eq!(
            png.headers.get("cache-control").unwrap(),
            "no-store",
            "a face stays off the disk"
        );
        assert!(png.body.contains("PNG"), "{side} is a PNG");
    }
    let proof = operator
        .get(&format!("/console/cards/{card}/files/proof.pdf"))
        .await;
    assert!(proof.body.starts_with("%PDF"));
    assert_eq!(operator.get("/console/cards/XX000000").await.status, 404);
    let search = operator
        .get(&format!("/console/cards?q={}", card.to_lowercase()))
        .await;
    assert_eq!(
        search.location(),
        Some(format!("/console/cards/{card}").as_str())
    );

    // Batches: manifest and cover sheet, then the hand-over (confirmation required).
    let csv = operator
        .get(&format!("/console/batches/{batch}/manifest.csv"))
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.body.lines().count() > pairs.len(),
        "header + one line per piece"
    );
    let cover = operator
        .get(&format!("/console/batches/{batch}/cover.pdf"))
        .await;
    assert_eq!(cover.status, 200);
    assert!(cover.body.starts_with("%PDF"));
    let p = operator
        .post(&format!("/console/batches/{batch}/hand-over"), &[])
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(
        db.store.batch(&batch).await.unwrap().unwrap().state,
        "closed",
        "not without the box ticked"
    );
    let p = operator
        .post(
            &format!("/console/batches/{batch}/hand-over"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(p.status, 303);
    assert!(p.went_well());
    assert_eq!(
        db.store.batch(&batch).await.unwrap().unwrap().state,
        "handed_over"
    );
    let again = operator
        .post(
            &format!("/console/batches/{batch}/hand-over"),
            &[("confirm", "yes")],
        )
        .await;
    assert!(!again.went_well(), "a second hand-over is refused");

    // The mailroom scan page: the reason, then the piece (JSON answer as the script asks).
    let clerk = Console::login(srv.addr, "mailroom").await;
    let csrf = clerk.csrf().await;
    let scan = |code: String, reason: &'static str| {
        let csrf = csrf.clone();
        let clerk = &clerk;
        async move {
            clerk
                .post_raw(
                    "/console/mailroom/scan",
                    &[("csrf", &csrf), ("code", &code), ("reason", reason)],
                    &[("accept", "application/json")],
                )
                .await
        }
    };
    let r = scan("PND-NPAI".into(), "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["answer"]["reason"], "npai");
    let r = scan(pairs[1].1.clone(), "npai").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["answer"]["outcome"], "held", "{v}");
    assert!(v["answer"]["slot"].as_i64().is_some());
    let r = scan("NOT-A-CODE".into(), "npai").await;
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["answer"]["ok"], false);
    // Without the script: the whole page comes back with the answer and today's list.
    let page = clerk
        .post(
            "/console/mailroom/scan",
            &[("code", &pairs[1].1), ("reason", "npai")],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("answer good"), "already held is fine");
    assert!(page.body.contains(&pairs[1].1), "today's list");
    assert_eq!(card_state(db, &pairs[1].0).await, "held");

    // Four eyes: a supervisor asks for the held card's destruction, the same person cannot approve, a
    // supervisor can.
    let id = db
        .store
        .request_destruction(
            &pairs[1].0,
            DestructionReason::Unclaimed,
            Method::CrossCutShredder,
            "supervisor",
        )
        .await
        .unwrap();
    let inbox = supervisor.get("/console/approvals").await;
    assert!(inbox.body.contains(&pairs[1].0));
    let refused = supervisor
        .post(&format!("/console/approvals/destructions/{id}"), &[])
        .await;
    assert!(!refused.went_well());
    assert_eq!(card_state(db, &pairs[1].0).await, "held");
    let second = Console::login(srv.addr, "supervisor2").await;
    let ok = second
        .post(&format!("/console/approvals/destructions/{id}"), &[])
        .await;
    assert!(ok.went_well());
    assert_eq!(card_state(db, &pairs[1].0).await, "destroyed");
    let audit = db.store.audit_history("card", &pairs[1].0).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.action == "destruction.four_eyes_refused" && r.actor == "supervisor")
    );
    assert!(
        audit
            .iter()
            .any(|r| r.action == "destruction.approved" && r.actor == "supervisor2")
    );

    // Users and token rotation by the admin.
    let admin = Console::login(srv.addr, "admin").await;
    let p = admin
        .post(
            "/console/users",
            &[
                ("username", "nadia"),
                ("display_name", "Nadia Benali"),
                ("role", "quality"),
                ("password", "short"),
            ],
        )
        .await;
    assert!(!p.went_well(), "weak password refused");
    let p = admin
        .post(
            "/console/users",
            &[
                ("username", "nadia"),
                ("display_name", "Nadia Benali"),
                ("role", "quality"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(p.went_well());
    Console::login(srv.addr, "nadia").await;
    let issued = admin
        .post(
            "/console/tokens",
            &[("name", "mailroom-9"), ("kind", "station")],
        )
        .await;
    assert_eq!(issued.status, 200);
    let secret = issued
        .body
        .split("<code id=\"secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(secret.len(), 64);
    assert!(
        admin
            .get("/console/users")
            .await
            .body
            .find(&secret)
            .is_none(),
        "shown once"
    );
    assert_eq!(
        station_scan(srv.addr, &secret).await,
        200,
        "the new station token works"
    );
    let tokens = db.store.tokens().await.unwrap();
    let revoke = admin
        .post(&format!("/console/tokens/{}/revoke", tokens[0].id), &[])
        .await;
    assert!(revoke.went_well());
    assert_eq!(station_scan(srv.addr, &secret).await, 401, "revoked");
    // A portal token issued the same way opens the portal API.
    let issued = admin
        .post(
            "/console/tokens",
            &[("name", "portal-2027"), ("kind", "portal")],
        )
        .await;
    let portal = issued
        .body
        .split("<code id=\"secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        portal_get(srv.addr, &portal).await,
        404,
        "authenticated, then not found"
    );
    assert_eq!(portal_get(srv.addr, "wrong").await, 401);

    // The dashboard counts what the database holds.
    let dash = supervisor.get("/console").await;
    assert!(dash.body.contains("Cartes par état"));
    let counts = db.store.card_counts().await.unwrap();
    let total: i64 = counts.iter().map(|c| c.1).sum();
    assert!(
        dash.body.contains(&format!(
            "<tfoot><tr><th>Total</th><td class=\"n\">{total}</td>"
        )),
        "total {total}"
    );
    let d = db
        .store
        .dashboard(db.store.clock().now_ms() / 86_400_000 * 86_400_000)
        .await
        .unwrap();
    assert_eq!(d.cards, counts, "the tallies equal a count of the cards");
    assert_eq!(d.today_total("card.dispatch"), 3);
    assert_eq!(
        db.store.fold_tallies().await.unwrap() > 0,
        db.backend == "postgres"
    );
    let d2 = db
        .store
        .dashboard(db.store.clock().now_ms() / 86_400_000 * 86_400_000)
        .await
        .unwrap();
    assert_eq!(d2.cards, counts, "folded, the same counts");
    assert!(db.store.verify_audit().await.unwrap().is_intact());
    srv.stop().await;
}

async fn tokens_rotate_through_the_binary(db: &TestDb) {
    let cqcfab = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_cqcfab"))
            .args(db.cli_args())
            .args(args)
            .output()
            .unwrap()
    };
    let srv = server(db).await;
    let bad = cqcfab(&[
        "token",
        "issue",
        "Mailroom 1",
        "--kind",
        "station",
        "--by",
        "admin",
    ]);
    assert!(!bad.status.success(), "not a valid name");
    let issue = |name: &str| {
        let out = cqcfab(&["token", "issue", name, "--kind", "station", "--by", "admin"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let old = issue("mailroom-1");
    assert_eq!(old.len(), 64, "the secret alone on standard output");
    assert_eq!(station_scan(srv.addr, &old).await, 200);
    // Rotation: the new one works beside the old, then the old is revoked.
    let new = issue("mailroom-1");
    assert_ne!(old, new);
    assert_eq!(station_scan(srv.addr, &new).await, 200);
    assert_eq!(
        station_scan(srv.addr, &old).await,
        200,
        "both until the old one is revoked"
    );
    let list = String::from_utf8(cqcfab(&["token", "list"]).stdout).unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(list.contains("mailroom-1"), "{list}");
    assert!(
        !list.contains(&old) && !list.contains(&new),
        "no secret listed"
    );
    // A token opens its own API only: a station's is no portal's, a portal's no station's.
    assert_eq!(
        portal_get(srv.addr, &new).await,
        401,
        "a station token on the portal API"
    );
    let out = cqcfab(&[
        "token", "issue", "portal-b", "--kind", "portal", "--by", "admin",
    ]);
    let portal = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(
        portal_get(srv.addr, &portal).await,
        404,
        "the portal token on the portal API"
    );
    assert_eq!(
        station_scan(srv.addr, &portal).await,
        401,
        "a portal token on a station route"
    );
    assert_eq!(
        station_scan(srv.addr, "portal-token-16+").await,
        401,
        "the configured portal token neither"
    );
    // Console routes take a session, never a bearer token.
    let p = request(
        srv.addr,
        "GET",
        "/console",
        &[("authorization", &format!("Bearer {portal}"))],
        Vec::new(),
    )
    .await;
    assert!(is_login_redirect(&p));
    let first = db
        .store
        .tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .min()
        .unwrap();
    let out = cqcfab(&["token", "revoke", &first.to_string(), "--by", "admin"]);
    assert!(out.status.success());
    assert_eq!(
        station_scan(srv.addr, &old).await,
        401,
        "the old token is refused at once"
    );
    assert_eq!(station_scan(srv.addr, &new).await, 200);
    let again = cqcfab(&["token", "revoke", &first.to_string(), "--by", "admin"]);
    assert!(!again.status.success(), "revoked once");
    let audit = db
        .store
        .audit_history("token", &first.to_string())
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["token.issued", "token.revoked"]);
    srv.stop().await;
}

/// The status a mailroom station call gets with `token`.
async fn station_scan(addr: std::net::SocketAddr, token: &str) -> u16 {
    common::http::send(
        addr,
        "POST",
        "/v1/stations/mailroom/scans",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("content-type", "application/json"),
        ],
        br#"{"code":"PND-NPAI","clerk":"marc"}"#.to_vec(),
    )
    .await
    .0
}

/// The status a portal call (a request nobody made) gets with `token`.
async fn portal_get(addr: std::net::SocketAddr, token: &str) -> u16 {
    common::http::send(
        addr,
        "GET",
        "/v1/requests/nope",
        &[("authorization", &format!("Bearer {token}"))],
        Vec::new(),
    )
    .await
    .0
}
