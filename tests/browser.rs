//! The console in a real browser: headless Chromium (Debian's) driven by chromedriver, against
//! a real service on both backends. Sign-in, a role refused, the mailroom scan page fed by
//! key presses as a keyboard-wedge scanner types them, a destruction approved by a second
//! person, a card page with its previews, a hostile name inert. Screenshots of the main pages
//! go to target/console-screenshots (and to docs/ with CQCFAB_UPDATE_SCREENSHOTS=1, after a
//! person has looked at them).

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::console::{PASSWORD, add_user};
use common::http::Server;
use common::production::encoded_and_batched;
use common::webdriver::{Browser, Driver, ENTER, available};
use common::{TestDb, card_state};
use cqcfab::clock::Clock;
use cqcfab::domain::role::Role;
use cqcfab::render::Renderer;
use cqcfab::render::card_data::DEFAULT_AUTHORITY;
use cqcfab::service::{AppState, Token};
use cqcfab::store::destruction::{DestructionReason, Method};

fn clock() -> Clock {
    Clock::fixed_on(time::macros::date!(2026 - 11 - 27))
}

on_both_backends!(clock();
    the_console_in_chromium,
);

/// Where screenshots go; docs/ only when asked.
fn save(name: &str, png: &[u8]) {
    assert!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    let img = image::load_from_memory(png).expect("a readable screenshot");
    assert!(
        img.width() >= 1000 && img.height() >= 400,
        "{name}: {}x{}",
        img.width(),
        img.height()
    );
    let dir = common::repo_path("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
    if std::env::var_os("CQCFAB_UPDATE_SCREENSHOTS").is_some() {
        let docs: PathBuf = common::repo_path("docs");
        std::fs::write(docs.join(name), png).unwrap();
    }
}

/// Both previews of a card page are loaded (a 300-dpi card is over 1000 pixels wide).
const PREVIEWS_LOADED: &str = "const i = [...document.querySelectorAll('.previews img')]; \
     return i.length === 2 && i.every(i => i.complete && i.naturalWidth > 1000)";

/// Presses the approval button of destruction `id` on the approvals page.
async fn approve_destruction(b: &Browser, id: i64) {
    let button = format!("form[action='/console/approvals/destructions/{id}'] button");
    b.click(&b.find(&button).await).await;
}

async fn sign_in(b: &Browser, base: &str, username: &str) {
    b.go(&format!("{base}/console")).await;
    assert!(
        b.url().await.contains("/console/login"),
        "to the sign-in page first"
    );
    let user = b.find("input[name=username]").await;
    b.type_into(&user, username).await;
    let pass = b.find("input[name=password]").await;
    b.type_into(&pass, PASSWORD).await;
    b.click(&b.find("form.login button").await).await;
    b.wait_for("return location.pathname === '/console'").await;
}

async fn the_console_in_chromium(db: &TestDb) {
    if let Err(why) = available() {
        assert!(
            std::env::var_os("CQCFAB_REQUIRE_BROWSER").is_none(),
            "CQCFAB_REQUIRE_BROWSER is set but {why}"
        );
        eprintln!("SKIPPED: {why}");
        return;
    }
    for (name, role, display) in [
        ("claire", Role::Supervisor, "Claire Martin"),
        ("paul", Role::Supervisor, "Paul Lefèvre"),
        ("marc", Role::Mailroom, "Marc Durand"),
        ("olivier", Role::Operator, "Olivier Petit"),
    ] {
        db.store
            .add_user(name, display, role, PASSWORD, "admin")
            .await
            .unwrap();
    }
    add_user(&db.store, "admin", Role::Admin).await;
    // A day's production: eight chips written on the simulator, six cards posted, two in a
    // closed batch waiting for the post.
    let made = encoded_and_batched(db, 8, 6, "2026-11-27").await;
    let pairs = &made.pairs;
    let hostile = "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>";
    db.exec(
        "UPDATE cards SET given_names = $1 WHERE card_number = $2",
        &[hostile, &pairs[5].0],
    )
    .await
    .unwrap();

    let renderer = Arc::new(Renderer::new(DEFAULT_AUTHORITY).unwrap());
    let srv = Server::start_with(
        AppState::new(db.store.clone(), Some(Token::new("portal-token-16+")))
            .with_renderer(renderer),
    )
    .await;
    // localhost: a secure context for the browser, so the Secure session cookie is kept.
    let base = format!("http://localhost:{}", srv.addr.port());
    let driver = Driver::start().await;

    // The mailroom clerk: sign-in, a page the role may not open, the scan page.
    let clerk = driver.browser().await;
    sign_in(&clerk, &base, "marc").await;
    clerk.go(&format!("{base}/console/approvals")).await;
    assert_eq!(clerk.title().await, "Accès refusé · cqcfab");
    clerk.go(&format!("{base}/console/mailroom")).await;
    assert_eq!(
        clerk.script("return document.activeElement.id").await,
        "code",
        "the scan field has the focus"
    );
    // The reason sheet, then two pieces, then noise: typed as a wedge scanner types.
    clerk.keys(&format!("PND-NPAI{ENTER}")).await;
    clerk
        .wait_for("return document.getElementById('answer').classList.contains('good')")
        .await;
    assert_eq!(
        clerk
            .script("return document.getElementById('reason').value")
            .await,
        "npai"
    );
    for (i, (_, piece)) in pairs[..2].iter().enumerate() {
        clerk.keys(&format!("{piece}{ENTER}")).await;
        clerk
            .wait_for(&format!(
                "return document.querySelectorAll('#today tr').length === {}",
                i + 1
            ))
            .await;
        let answer = clerk.text(&clerk.find("#answer").await).await;
        assert!(answer.contains("Casier"), "{answer}");
        assert!(answer.contains(piece.as_str()), "{answer}");
        assert_eq!(
            clerk.script("return document.activeElement.id").await,
            "code"
        );
        assert_eq!(
            clerk
                .script("return document.getElementById('code').value")
                .await,
            ""
        );
    }
    save(
        "console-mailroom.png",
        &clerk.full_page_screenshot(1280).await,
    );
    clerk.keys(&format!("NOT A CODE{ENTER}")).await;
    clerk
        .wait_for("return document.getElementById('answer').classList.contains('bad')")
        .await;
    assert_eq!(
        clerk.script("return document.activeElement.id").await,
        "code"
    );
    for (card, _) in &pairs[..2] {
        assert_eq!(card_state(db, card).await, "held", "{card}");
    }
    clerk.close().await;

    // Four eyes: Claire asks for a held card's destruction; she cannot approve it, Paul can.
    let id = db
        .store
        .request_destruction(
            &pairs[0].0,
            DestructionReason::Unclaimed,
            Method::CrossCutShredder,
            "claire",
        )
        .await
        .unwrap();
    let claire = driver.browser().await;
    sign_in(&claire, &base, "claire").await;
    save(
        "console-dashboard.png",
        &claire.full_page_screenshot(1280).await,
    );
    claire.go(&format!("{base}/console/approvals")).await;
    save(
        "console-approvals.png",
        &claire.full_page_screenshot(1280).await,
    );
    approve_destruction(&claire, id).await;
    claire
        .wait_for("return !!document.querySelector('.notice.bad')")
        .await;
    let refusal = claire.text(&claire.find(".notice.bad").await).await;
    assert!(refusal.contains("claire"), "{refusal}");
    assert_eq!(card_state(db, &pairs[0].0).await, "held");

    let paul = driver.browser().await;
    sign_in(&paul, &base, "paul").await;
    paul.go(&format!("{base}/console/approvals")).await;
    approve_destruction(&paul, id).await;
    paul.wait_for("return !!document.querySelector('.notice.good')")
        .await;
    assert_eq!(card_state(db, &pairs[0].0).await, "destroyed");
    assert_eq!(
        paul.count(&format!(
            "form[action='/console/approvals/destructions/{id}']"
        ))
        .await,
        0
    );
    paul.close().await;

    // A card page: both previews load; the hostile name is text and runs nothing.
    claire
        .go(&format!("{base}/console/cards/{}", pairs[5].0))
        .await;
    claire.wait_for(PREVIEWS_LOADED).await;
    let holder = claire.text(&claire.find("dd.holder").await).await;
    assert!(holder.contains("<img src=x"), "shown as text: {holder}");
    assert_eq!(
        claire.script("return window.__xss === undefined").await,
        true
    );
    assert_eq!(claire.count("img[src=x]").await, 0);
    assert_eq!(claire.count("main script").await, 0);
    // The screenshot shows an ordinary holder.
    claire
        .go(&format!("{base}/console/cards/{}", pairs[3].0))
        .await;
    claire.wait_for(PREVIEWS_LOADED).await;
    save("console-card.png", &claire.full_page_screenshot(1280).await);
    claire.go(&format!("{base}/console/batches")).await;
    save(
        "console-batches.png",
        &claire.full_page_screenshot(1280).await,
    );
    claire.close().await;

    // The operator signs out: the session is gone, the pages ask for a sign-in again.
    let olivier = driver.browser().await;
    sign_in(&olivier, &base, "olivier").await;
    olivier.click(&olivier.find("form.who button").await).await;
    olivier
        .wait_for("return location.pathname === '/console/login'")
        .await;
    olivier.go(&format!("{base}/console")).await;
    assert!(olivier.url().await.contains("/console/login"));
    olivier.close().await;
    srv.stop().await;
}
