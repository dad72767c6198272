//! The binary, driven as an operator would: import with bad lines, an import killed with
//! SIGKILL and run again, `audit verify` on a tampered database, the demo.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TestDb;
use cqcfab::clock::Clock;
use serde_json::Value;

fn cqcfab(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cqcfab"))
        .args(args)
        .env_remove("CQCFAB_CONFIG")
        .output()
        .expect("run cqcfab")
}

fn args(db: &TestDb, rest: &[&str]) -> Vec<String> {
    let mut a = db.cli_args();
    a.extend(rest.iter().map(|s| s.to_string()));
    a
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

on_both_backends!(Clock::System;
    an_import_takes_the_good_lines_and_names_the_bad_ones,
    an_import_killed_midway_and_run_again_takes_every_request_once,
    audit_verify_fails_on_a_tampered_database,
    post_ranges_are_added_listed_and_refused_when_they_overlap,
);

async fn an_import_takes_the_good_lines_and_names_the_bad_ones(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("batch.jsonl");
    let fixtures = common::valid_fixtures();
    let mut f = std::fs::File::create(&file).unwrap();
    let mut bad = fixtures[3].clone();
    bad["holder"]["birth_date"] = Value::String("1984-02-30".into());
    let lines = [
        serde_json::to_string(&fixtures[0]).unwrap(),
        serde_json::to_string(&fixtures[1]).unwrap(),
        "{\"request_id\": \"BROKEN\", ".to_string(),
        serde_json::to_string(&fixtures[2]).unwrap(),
        serde_json::to_string(&bad).unwrap(),
        serde_json::to_string(&fixtures[4]).unwrap(),
    ];
    for l in &lines {
        writeln!(f, "{l}").unwrap();
    }
    drop(f);
    let out = cqcfab(&args(db, &["import", file.to_str().unwrap()]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("6 line(s): 4 new, 0 already present, 2 rejected"),
        "{t}"
    );
    assert!(t.contains("line 3 (?): $:"), "{t}");
    assert!(
        t.contains(&format!(
            "line 5 ({}): holder.birth_date:",
            bad["request_id"].as_str().unwrap()
        )),
        "{t}"
    );
    assert!(t.contains("[invalid_date]"), "{t}");
    assert_eq!(db.store.card_count().await.unwrap(), 4);
    // Run again: nothing new, nothing doubled.
    let again = cqcfab(&args(db, &["import", file.to_str().unwrap()]));
    assert!(
        text(&again).contains("6 line(s): 0 new, 4 already present, 2 rejected"),
        "{}",
        text(&again)
    );
    assert_eq!(db.store.card_count().await.unwrap(), 4);
}

async fn an_import_killed_midway_and_run_again_takes_every_request_once(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("large.jsonl");
    // First issues of the fixtures under fresh ids (renewals reused under new ids would
    // renew one card twice).
    let total = 600usize;
    let firsts: Vec<&Value> = common::valid_fixtures()
        .iter()
        .filter(|f| f["kind"] == "first_issue")
        .collect();
    let mut f = std::fs::File::create(&file).unwrap();
    for i in 0..total {
        let mut r = firsts[i % firsts.len()].clone();
        r["request_id"] = Value::String(format!("KILL-{i:05}"));
        writeln!(f, "{}", serde_json::to_string(&r).unwrap()).unwrap();
    }
    drop(f);

    let mut child = Command::new(env!("CARGO_BIN_EXE_cqcfab"))
        .args(args(db, &["import", file.to_str().unwrap()]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let n = db.store.request_count().await.unwrap_or(0);
        if n >= 50 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "import finished before it could be killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "import made no progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = db.store.request_count().await.unwrap() as usize;
    assert!(
        partial > 0 && partial < total,
        "killed midway: {partial} of {total}"
    );

    let out = cqcfab(&args(db, &["import", file.to_str().unwrap()]));
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains(&format!("{total} line(s)")), "{t}");
    assert_eq!(db.store.request_count().await.unwrap() as usize, total);
    assert_eq!(
        db.store.card_count().await.unwrap() as usize,
        total,
        "one card per request"
    );
    let text_file = std::fs::read_to_string(&file).unwrap();
    for line in text_file.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let id = v["request_id"].as_str().unwrap();
        assert!(
            db.store.card_by_request(id).await.unwrap().is_some(),
            "{id} missing"
        );
    }
    let audit = db.store.verify_audit().await.unwrap();
    assert!(audit.is_intact(), "{:?}", audit.problems);
    assert_eq!(
        audit.records as usize, total,
        "one audit record per card, none from the killed run lost or doubled"
    );
}

async fn audit_verify_fails_on_a_tampered_database(db: &TestDb) {
    let intake = cqcfab::intake::Intake::new(db.store.clone());
    for f in &common::valid_fixtures()[..3] {
        intake
            .submit_bytes(serde_json::to_vec(f).unwrap(), "test")
            .await
            .unwrap();
    }
    let ok = cqcfab(&args(db, &["audit", "verify"]));
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).contains("audit trail intact: 3 record(s)"),
        "{}",
        text(&ok)
    );

    db.tamper("UPDATE audit_log SET after = replace(after, 'approved', 'destroyed') WHERE seq = 2")
        .await;
    let bad = cqcfab(&args(db, &["audit", "verify"]));
    let t = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{t}");
    assert!(t.contains("AUDIT TRAIL BROKEN"), "{t}");
    assert!(t.contains("record 2 was altered"), "{t}");
}

async fn post_ranges_are_added_listed_and_refused_when_they_overlap(db: &TestDb) {
    let add = |id: &str, product: &str, service: Option<&str>, first: &str, last: &str| {
        let mut a = vec!["post", "range", "add", "--id", id, "--product", product];
        if let Some(s) = service {
            a.extend(["--service", s]);
        }
        a.extend(["--first", first, "--last", last]);
        cqcfab(&args(db, &a))
    };
    // The product's own indicator when none is given (lettre suivie: a tracked letter, L…).
    let ok = add("LA-2026-1", "lettre-suivie", None, "47110815", "47111814");
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok)
            .contains("range LA-2026-1 added for lettre-suivie: LA47110815..LA47111814 (1000 ids)"),
        "{}",
        text(&ok)
    );
    let overlap = add(
        "LA-2026-2",
        "lettre-suivie",
        Some("LA"),
        "47111814",
        "47112000",
    );
    assert!(!overlap.status.success());
    assert!(
        text(&overlap).contains("overlap range LA-2026-1"),
        "{}",
        text(&overlap)
    );
    // EMS ids on a lettre suivie, or a tracked-letter range for a registered letter: refused,
    // saying which kind each is.
    let ems = add("EE-2026-1", "lettre-suivie", Some("EE"), "1", "2");
    assert!(!ems.status.success());
    assert!(
        text(&ems).contains(
            "service indicator EE does not fit product lettre-suivie: lettre-suivie is tracked \
             letter post (UPU S10 first letter L), but EE is EMS (international express)"
        ),
        "{}",
        text(&ems)
    );
    let crossed = add("LA-2026-3", "lettre-recommandee", Some("LA"), "1", "2");
    assert!(!crossed.status.success());
    assert!(
        text(&crossed).contains("first letter R"),
        "{}",
        text(&crossed)
    );
    let recommandee = add("RA-2026-1", "lettre-recommandee", None, "1", "2");
    assert!(recommandee.status.success(), "{}", text(&recommandee));
    let unknown = add("X-1", "lettre-verte", None, "1", "2");
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).contains("unknown postal product \"lettre-verte\""),
        "{}",
        text(&unknown)
    );
    let reserved = add("SA-1", "lettre-suivie", Some("SA"), "1", "2");
    assert!(!reserved.status.success());
    assert!(
        text(&reserved).contains("refused here"),
        "{}",
        text(&reserved)
    );
    let list = cqcfab(&args(db, &["post", "range", "list"]));
    let t = text(&list);
    assert!(list.status.success(), "{t}");
    assert!(t.contains("LA-2026-1"), "{t}");
    assert!(t.contains("47110815"), "{t}");
    assert!(!t.contains("LA-2026-2"), "{t}");
    assert!(!t.contains("EE-2026-1"), "{t}");
    let line = t.lines().find(|l| l.starts_with("RA-2026-1")).unwrap_or("");
    assert!(line.ends_with("lettre-recommandee"), "{t}");
}

#[test]
fn the_demo_imports_renders_and_encodes_the_fixtures_in_a_fresh_database() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    // Twice: the second run must start fresh, not add to the first. The first picks its
    // readers itself (PC/SC when pcscd runs, as in CI); the second uses the in-process
    // simulator, which is faster for 200 cards.
    for (cards, expect) in [
        (Some("20"), "20 new, 0 already present, 0 rejected"),
        (None, "200 new, 0 already present, 0 rejected"),
    ] {
        let mut args = vec![
            "demo".into(),
            "--out".into(),
            out_dir.to_str().unwrap().into(),
        ];
        if let Some(n) = cards {
            args.extend(["--cards".into(), n.into()]);
        } else {
            args.extend(["--readers".into(), "inprocess".into()]);
        }
        let out = cqcfab(&args);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains(expect), "{}", text(&out));
        assert!(
            text(&out).contains("the ledger reconciles"),
            "{}",
            text(&out)
        );
        if cards.is_some() && std::env::var_os("CQCFAB_REQUIRE_PCSC").is_some() {
            assert!(text(&out).contains("PC/SC through pcscd"), "{}", text(&out));
        }
        if cards.is_some() {
            // The small run's post is checked by independent tools, piece by piece.
            check_demo_post(&out_dir, 20);
        }
    }
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["post"]["inserted"], 200);
    assert_eq!(summary["post"]["batches"][0]["dispatched"], 200);
    assert_eq!(summary["render"]["rendered"], 200);
    assert_eq!(summary["encode"]["personalised"], 200);
    assert_eq!(summary["audit"]["intact"], true);
    for check in summary["checks"].as_array().unwrap() {
        assert_eq!(check["ok"], true, "{check}");
    }
    // One piece in twenty came back; of ten, four readdressed, three resent, three unclaimed.
    let returns = summary["returns"].as_array().unwrap();
    assert_eq!(returns.len(), 10, "{summary}");
    let answered = returns.iter().filter(|r| !r["new_piece"].is_null()).count();
    assert_eq!(answered, 7, "{summary}");
    assert_eq!(summary["reposted"]["inserted"], 7);
    // Three quality cases, each with its replacement made, personalised and posted.
    let quality = summary["quality"].as_array().unwrap();
    assert_eq!(quality.len(), 3, "{summary}");
    let rules: Vec<&str> = quality
        .iter()
        .map(|q| q["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "manufacturing_defect",
            "manufacturing_defect",
            "data_as_submitted"
        ]
    );
    assert!(
        quality.iter().all(|q| q["replacement"].is_string()),
        "{summary}"
    );
    assert_eq!(summary["replacements_posted"]["inserted"], 3);
    // 203 bodies written; the 6 destroyed below leave the ledger's personalised count.
    assert_eq!(summary["stock"]["personalised"], 197);
    // The three unclaimed and the three analysed cards destroyed.
    assert_eq!(summary["destructions"].as_array().unwrap().len(), 6);
    assert_eq!(summary["cards_by_state"]["destroyed"], 6, "{summary}");
    check_report(&out_dir);
    let samples = summary["render"]["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 6, "{summary}");
    for card in samples {
        let card_dir = out_dir.join("cards").join(card.as_str().unwrap());
        for file in [
            "proof.pdf",
            "front-preview.png",
            "back-preview.png",
            "front-personalisation.png",
            "back-personalisation.png",
        ] {
            let bytes =
                std::fs::read(card_dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(
                bytes.starts_with(b"%PDF-") || bytes.starts_with(b"\x89PNG"),
                "{file}"
            );
        }
    }

    // One card on demand, from the demo's database.
    let data = out_dir.join("data");
    let one = dir.path().join("one");
    let out = cqcfab(&[
        "render".into(),
        "--data".into(),
        data.to_str().unwrap().into(),
        "--request".into(),
        "FIX-2026-000000".into(),
        "--out".into(),
        one.to_str().unwrap().into(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("proof.pdf"), "{}", text(&out));
    let front = image::open(one.join("front-personalisation.png")).unwrap();
    assert_eq!((front.width(), front.height()), (1011, 638), "300 dpi");
    let out = cqcfab(&[
        "render".into(),
        "--data".into(),
        data.to_str().unwrap().into(),
        "--request".into(),
        "NO-SUCH-REQUEST".into(),
        "--out".into(),
        one.to_str().unwrap().into(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no card for request NO-SUCH-REQUEST"),
        "{}",
        text(&out)
    );
}

/// The report of a demo run: the page's every link and picture is a file of the run, the
/// PDF passes `qpdf --check`, and the page says the day was sound.
fn check_report(out_dir: &std::path::Path) {
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("Journée saine"), "{html}");
    for needle in [
        "Courrier revenu",
        "Retours qualité",
        "Destructions",
        "<svg class=\"chart\"",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    let mut links = 0;
    for attr in ["href=\"", "src=\""] {
        for part in html.split(attr).skip(1) {
            let target = &part[..part.find('"').unwrap()];
            assert!(
                out_dir.join(target).is_file(),
                "the report links {target}, which is not in {}",
                out_dir.display()
            );
            links += 1;
        }
    }
    assert!(links >= 20, "{links} links");
    let pdf = out_dir.join("report.pdf");
    let check = Command::new("qpdf")
        .arg("--check")
        .arg(&pdf)
        .output()
        .expect("qpdf");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let text = Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Journée saine"), "{text}");
    assert!(text.contains("Retours qualité"), "{text}");
}

/// The post of a demo run, checked by tools that are not ours: every carrier letter, coupon
/// and cover sheet of every batch (the day's, the answered returns', the replacements') passes
/// `qpdf --check` and its barcodes, read by zbar at 300 dpi, are the expected ids; each
/// manifest, parsed by Python's csv module, matches the database row by row and follows the
/// address rules; its totals file carries its SHA-256.
fn check_demo_post(out_dir: &std::path::Path, cards: usize) {
    use cqcfab::store::{Location, Store};
    use sha2::Digest;
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    let post = &summary["post"];
    assert_eq!(post["letters"], cards, "{post}");
    assert_eq!(post["inserted"], cards, "{post}");
    assert_eq!(post["mismatch_drill_stopped_the_line"], true, "{post}");
    assert_eq!(post["batches"][0]["pieces"], cards, "{post}");
    assert_eq!(post["batches"][0]["dispatched"], cards, "{post}");
    let mut batches = Vec::new();
    let mut letters_made = 0;
    for round in ["post", "reposted", "replacements_posted"] {
        let r = &summary[round];
        letters_made += r["letters"].as_u64().unwrap() as usize;
        for b in r["batches"].as_array().unwrap() {
            assert_eq!(b["pieces"], b["dispatched"], "{b}");
            batches.push(b.clone());
        }
    }
    assert_eq!(batches.len(), 3, "{summary}");

    // Every piece the database knows: piece id -> (card number, address lines, postcode,
    // country), read through the store.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let known = rt.block_on(async {
        let db = out_dir.join("data").join(cqcfab::store::SQLITE_FILE);
        let store = Store::open(&Location::SqliteFile(db), Clock::System)
            .await
            .unwrap();
        let mut known = std::collections::BTreeMap::new();
        for state in [
            "created",
            "inserted",
            "batched",
            "dispatched",
            "delivered",
            "returned_undelivered",
            "awaiting_decision",
            "resent",
            "readdressed",
            "card_destroyed",
            "cancelled",
        ] {
            for (piece_id, card) in store.pieces_in_state(state, 10_000).await.unwrap() {
                let c = store.card_by_number(&card).await.unwrap().unwrap();
                let p = store
                    .pieces_of_card(c.id)
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|p| p.piece_id == piece_id)
                    .unwrap();
                known.insert(
                    piece_id,
                    (
                        card,
                        p.address_lines(),
                        p.postcode.clone(),
                        p.country.clone(),
                    ),
                );
            }
        }
        store.close().await;
        known
    });
    assert_eq!(known.len(), letters_made);

    // Every PDF, two at a time (two cores).
    let letters = out_dir.join("post").join("letters");
    let batches_dir = out_dir.join("post").join("batches");
    let mut jobs: Vec<(std::path::PathBuf, Vec<String>)> = Vec::new();
    for (piece, (card, ..)) in &known {
        jobs.push((
            letters.join(format!("{piece}.carrier.pdf")),
            vec![format!("CODE-128:{piece}"), format!("QR-Code:{piece}")],
        ));
        jobs.push((
            letters.join(format!("{piece}.coupon.pdf")),
            vec![format!("CODE-128:RC{card}"), format!("QR-Code:RC{card}")],
        ));
    }
    for b in &batches {
        let batch_id = b["batch_id"].as_str().unwrap();
        jobs.push((
            batches_dir.join(format!("{batch_id}.cover.pdf")),
            vec![
                format!("CODE-128:{batch_id}"),
                format!("QR-Code:{batch_id}"),
            ],
        ));
    }
    let files: Vec<String> = std::fs::read_dir(&letters)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let pdfs = files.iter().filter(|f| f.ends_with(".pdf")).count();
    assert_eq!(
        pdfs,
        2 * letters_made,
        "no stray letter in {}",
        letters.display()
    );
    // The pictures of the first two letters, for the report.
    let pngs = files.iter().filter(|f| f.ends_with(".png")).count();
    assert_eq!(pngs, 4, "{files:?}");
    let scratch = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for (worker, share) in jobs.chunks(jobs.len().div_ceil(2)).enumerate() {
            let dir = scratch.path();
            s.spawn(move || {
                for (i, (pdf, want)) in share.iter().enumerate() {
                    let png = dir.join(format!("w{worker}-{i}.png"));
                    let found = common::scan::scan_pdf_file(pdf, &png);
                    assert_eq!(&found, want, "{}", pdf.display());
                    let _ = std::fs::remove_file(png);
                }
            });
        }
    });

    let mut seen = std::collections::BTreeSet::new();
    for b in &batches {
        let batch_id = b["batch_id"].as_str().unwrap();
        let pieces = b["pieces"].as_u64().unwrap() as usize;
        // The manifest through Python's csv module.
        let manifest_path = batches_dir.join(format!("{batch_id}.manifest.csv"));
        let manifest = std::fs::read(&manifest_path).unwrap();
        let py = Command::new("python3")
            .args([
                "-c",
                "import csv, json, sys\n\
                 with open(sys.argv[1], newline='', encoding='utf-8') as f:\n\
                 \x20   print(json.dumps(list(csv.DictReader(f))))",
            ])
            .arg(&manifest_path)
            .output()
            .expect("python3");
        assert!(
            py.status.success(),
            "{}",
            String::from_utf8_lossy(&py.stderr)
        );
        let rows: Vec<std::collections::BTreeMap<String, String>> =
            serde_json::from_slice(&py.stdout).unwrap();
        assert_eq!(rows.len(), pieces);
        for (i, row) in rows.iter().enumerate() {
            let piece = &row["piece_id"];
            let (_, address, postcode, country) = known
                .get(piece)
                .unwrap_or_else(|| panic!("manifest row {piece} is not a known piece"));
            assert!(seen.insert(piece.clone()), "{piece} twice");
            assert_eq!(row["batch_id"], batch_id);
            assert_eq!(row["sequence"], (i + 1).to_string());
            assert_eq!(row["product"], "lettre-suivie");
            assert_eq!(row["weight_g"], "20");
            assert_eq!(&row["postcode"], postcode);
            assert_eq!(&row["country"], country);
            let lines: Vec<&String> = (1..=7)
                .map(|n| &row[&format!("address_{n}")])
                .filter(|l| !l.is_empty())
                .collect();
            assert_eq!(lines, address.iter().collect::<Vec<_>>(), "{piece}");
            // NF Z10-011: 38 characters a line, 6 lines (7 abroad, the country last).
            assert!(
                lines.iter().all(|l| l.chars().count() <= 38),
                "{piece}: {lines:?}"
            );
            let max = if country == "FR" { 6 } else { 7 };
            assert!(lines.len() <= max, "{piece}: {lines:?}");
            if country == "FR" {
                let last = lines.last().unwrap();
                assert!(last.starts_with(postcode.as_str()), "{piece}: {last}");
                assert_eq!(row["city"], last[postcode.len()..].trim(), "{piece}");
            }
        }
        // Presort: domestic by postcode, then abroad.
        let keys: Vec<(bool, &str, &str)> = rows
            .iter()
            .map(|r| {
                (
                    r["country"] != "FR",
                    r["country"].as_str(),
                    r["postcode"].as_str(),
                )
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        // The totals file carries the manifest's hash and count.
        let totals =
            std::fs::read_to_string(batches_dir.join(format!("{batch_id}.totals.csv"))).unwrap();
        let sha = hex::encode(sha2::Sha256::digest(&manifest));
        assert_eq!(b["manifest_sha256"], sha);
        let total_line = totals
            .lines()
            .find(|l| l.contains(",TOTAL,"))
            .unwrap_or_else(|| panic!("no TOTAL line: {totals}"));
        assert!(
            total_line.contains(&format!(",{pieces},{},{sha}", pieces * 20)),
            "{total_line}"
        );
    }
    assert_eq!(seen.len(), letters_made, "every letter made was posted");
}

#[test]
fn help_explains_every_command() {
    let out = cqcfab(&["--help".into()]);
    let t = text(&out);
    for cmd in [
        "serve",
        "import",
        "status",
        "audit",
        "demo",
        "bench",
        "fixtures",
        "render",
        "station",
        "simulator",
        "stock",
        "pki",
        "post",
    ] {
        assert!(t.contains(cmd), "--help does not mention {cmd}: {t}");
    }
    assert!(t.contains("--database-url"));
    assert!(t.contains("--data"));
}

#[test]
fn serve_refuses_to_start_without_a_portal_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cqcfab"))
        .args([
            "--data",
            dir.path().to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("CQCFAB_PORTAL_TOKEN")
        .env_remove("CQCFAB_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no portal token is configured"),
        "{}",
        text(&out)
    );
}
