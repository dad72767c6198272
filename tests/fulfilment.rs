//! Fulfilment on both backends: card-to-carrier matching at the inserting station, postal
//! batches (presort, seal, immutability, hand-over) and their manifests.

mod common;

use common::TestDb;
use cqcfab::clock::Clock;
use cqcfab::station::insert::{Answer, Line, Scan};
use cqcfab::store::insertion::{CardKey, InsertError};
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 27))
}

on_both_backends!(clock();
    a_card_goes_only_into_its_own_carrier,
    the_line_stops_on_a_mismatch_until_a_supervisor_clears_it,
    a_batch_is_presorted_sealed_immutable_and_handed_over,
    a_crash_while_closing_leaves_the_batch_open,
    the_inserting_command_takes_scans_from_a_wedge_scanner,
);

use common::production::PRODUCT;

async fn state_of(db: &TestDb, card: &str) -> String {
    db.store.card_by_number(card).await.unwrap().unwrap().state
}

async fn piece_state(db: &TestDb, card: &str) -> String {
    let c = db.store.card_by_number(card).await.unwrap().unwrap();
    db.store.pieces_of_card(c.id).await.unwrap()[0]
        .state
        .clone()
}

async fn a_card_goes_only_into_its_own_carrier(db: &TestDb) {
    let s = &db.store;
    let pairs = common::production::cards_with_carriers(db, 3).await;
    let (card0, piece0) = &pairs[0];
    let (card1, piece1) = &pairs[1];

    // Another holder's carrier: refused, both items and the carrier's own card named, audited,
    // nothing moved.
    let e = s
        .insert_card(&CardKey::Number(card0.clone()), piece1, "insert-t")
        .await
        .unwrap_err();
    match &e {
        InsertError::Mismatch {
            offered,
            piece_id,
            piece_card,
        } => {
            assert_eq!((offered, piece_id, piece_card), (card0, piece1, card1));
        }
        other => panic!("not a mismatch: {other}"),
    }
    let text = e.to_string();
    assert!(
        text.contains(card0) && text.contains(piece1) && text.contains(card1),
        "{text}"
    );
    assert_eq!(state_of(db, card0).await, "personalised");
    assert_eq!(piece_state(db, card1).await, "created");
    let audit = s.audit_history("mail_piece", piece1).await.unwrap();
    let stop = audit
        .iter()
        .find(|r| r.action == "insert.mismatch")
        .expect("the mismatch is audited");
    assert_eq!(stop.entity_id, *piece1);
    assert!(stop.after.as_deref().unwrap_or("").contains(card0.as_str()));

    // The right pair: inserted, both moved, once.
    let done = s
        .insert_card(&CardKey::Number(card0.clone()), piece0, "insert-t")
        .await
        .unwrap();
    assert!(done.now);
    assert_eq!(state_of(db, card0).await, "inserted");
    assert_eq!(piece_state(db, card0).await, "inserted");
    let again = s
        .insert_card(&CardKey::Number(card0.clone()), piece0, "insert-t")
        .await
        .unwrap();
    assert!(!again.now, "the same pair twice changes nothing");
    let inserts = s
        .audit_history("card", card0)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.action == "card.insert")
        .count();
    assert_eq!(inserts, 1);

    // Unknown items are named.
    let e = s
        .insert_card(&CardKey::ChipSerial(987_654_321), piece1, "insert-t")
        .await
        .unwrap_err();
    assert!(matches!(e, InsertError::UnknownCard(_)), "{e}");
    assert!(e.to_string().contains("0987654321"), "{e}");
    let e = s
        .insert_card(&CardKey::Number(card1.clone()), "LA000000000FR", "insert-t")
        .await
        .unwrap_err();
    assert!(matches!(e, InsertError::UnknownPiece(_)), "{e}");
    // Accounting: one inserted, two carriers still waiting for their card.
    let counts = s.piece_counts().await.unwrap();
    assert_eq!(
        counts,
        [("created".to_string(), 2), ("inserted".to_string(), 1)]
    );
    let waiting: Vec<String> = s
        .pieces_in_state("created", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, card)| card)
        .collect();
    assert_eq!(waiting, [card1.clone(), pairs[2].0.clone()]);
    assert!(s.verify_audit().await.unwrap().is_intact());
}

async fn the_line_stops_on_a_mismatch_until_a_supervisor_clears_it(db: &TestDb) {
    let pairs = common::production::cards_with_carriers(db, 2).await;
    let (card0, piece0) = &pairs[0];
    let (card1, piece1) = &pairs[1];
    let mut line = Line::new(db.store.clone(), "insert-t");

    assert!(matches!(
        line.scan(Scan::read(card0)).await,
        Answer::Waiting(_)
    ));
    let a = line.scan(Scan::read(piece1)).await;
    let Answer::Stopped(text) = &a else {
        panic!("not stopped: {a}")
    };
    assert!(
        text.contains(card0) && text.contains(piece1) && text.contains(card1),
        "{text}"
    );
    // Stopped: even the right pair is refused until a supervisor clears the line.
    assert!(matches!(
        line.scan(Scan::read(card1)).await,
        Answer::Stopped(_)
    ));
    assert!(matches!(
        line.scan(Scan::read(piece1)).await,
        Answer::Stopped(_)
    ));
    assert_eq!(state_of(db, card1).await, "personalised");
    assert!(matches!(
        line.scan(Scan::read("CLEAR Brigitte Martin")).await,
        Answer::Cleared(_)
    ));
    assert!(line.stopped().is_none());

    // The carrier scanned twice, printed with spaces the second time: said, nothing changes.
    let spaced = cqcfab::post::letter::spaced(piece0);
    assert!(matches!(
        line.scan(Scan::read(piece0)).await,
        Answer::Waiting(_)
    ));
    let a = line.scan(Scan::read(&spaced)).await;
    assert!(a.to_string().contains("déjà scanné"), "{a}");
    let a = line.scan(Scan::read(card0)).await;
    assert!(matches!(a, Answer::Inserted(_)), "{a}");
    // Scanner noise is refused and named.
    let a = line.scan(Scan::read("LA12345")).await;
    assert!(
        matches!(a, Answer::Refused(_)) && a.to_string().contains("LA12345"),
        "{a}"
    );
    assert_eq!(line.tally.inserted, 1);
    assert_eq!(line.tally.mismatches, 1);
    let actions: Vec<String> = db
        .store
        .audit_history("station", "insert-t")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.action)
        .collect();
    assert!(actions.contains(&"insert.line_cleared".to_string()));
}

/// `n` cards inserted into their carriers.
async fn inserted_pieces(db: &TestDb, n: usize) -> Vec<(String, String)> {
    let pairs = common::production::cards_with_carriers(db, n).await;
    for (card, piece) in &pairs {
        insert(db, card, piece).await;
    }
    pairs
}

async fn insert(db: &TestDb, card: &str, piece: &str) {
    db.store
        .insert_card(&CardKey::Number(card.to_string()), piece, "insert-t")
        .await
        .unwrap();
}

async fn a_batch_is_presorted_sealed_immutable_and_handed_over(db: &TestDb) {
    use cqcfab::store::batches::BatchError;
    let s = &db.store;
    let mut pairs = common::production::cards_with_carriers(db, 5).await;
    let (late_card, late) = pairs.pop().unwrap();
    for (card, piece) in &pairs {
        insert(db, card, piece).await;
    }
    // A hostile address line: it must reach the manifest as text, never as a formula.
    let (_, hostile_piece) = &pairs[3];
    db.exec(
        "UPDATE mail_pieces SET address = $1 WHERE piece_id = $2",
        &[
            r#"["=HYPERLINK(\"http://x\";\"clic\")","@SUM(A1)","12 RUE DES LILAS","75011 PARIS"]"#,
            hostile_piece,
        ],
    )
    .await
    .unwrap();

    let (batch, joined) = s
        .batch_inserted(PRODUCT, "2026-11-27", "test")
        .await
        .unwrap();
    assert_eq!(batch.batch_id, "20261127-lettre-suivie-001");
    assert_eq!(joined, 4);
    // A piece is in one batch: it cannot join again, here or elsewhere.
    let e = s
        .add_to_batch(&batch.batch_id, &pairs[0].1, "test")
        .await
        .unwrap_err();
    assert!(matches!(e, BatchError::PieceNotInserted { .. }), "{e}");

    let m = s.close_batch(&batch.batch_id, "test", None).await.unwrap();
    assert_eq!(m.totals.pieces, 4);
    assert_eq!(m.totals.weight_g, 4 * 20);
    use sha2::Digest;
    assert_eq!(m.sha256, hex::encode(sha2::Sha256::digest(&m.csv)));
    assert_eq!(m.batch.manifest_sha256.as_deref(), Some(m.sha256.as_str()));
    let text = String::from_utf8(m.csv.clone()).unwrap();
    assert!(text.contains("'=HYPERLINK"), "{text}");
    assert!(text.contains("'@SUM(A1)"), "{text}");
    // Presorted: sequence 1..n, domestic pieces by postcode, then foreign ones by country
    // and postcode, piece id last.
    let mut rows: Vec<(bool, String, String, String)> = Vec::new();
    let mut reader = csv::Reader::from_reader(m.csv.as_slice());
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    for (i, r) in reader.records().enumerate() {
        let r = r.unwrap();
        assert_eq!(r[col("sequence")], (i + 1).to_string());
        assert_eq!(&r[col("batch_id")], batch.batch_id);
        rows.push((
            &r[col("country")] != "FR",
            r[col("country")].to_string(),
            r[col("postcode")].to_string(),
            r[col("piece_id")].to_string(),
        ));
    }
    let mut sorted = rows.clone();
    sorted.sort();
    assert_eq!(rows, sorted);
    assert_eq!(rows.len(), 4);

    // Sealed: a re-export gives the same bytes; nothing joins; the database itself refuses
    // to renumber a sealed batch's piece.
    let again = s.batch_manifest(&batch.batch_id).await.unwrap();
    assert_eq!(again.csv, m.csv);
    assert_eq!(again.totals_csv, m.totals_csv);
    let e = s
        .close_batch(&batch.batch_id, "test", None)
        .await
        .unwrap_err();
    assert!(matches!(e, BatchError::WrongState { .. }), "{e}");
    insert(db, &late_card, &late).await;
    let e = s
        .add_to_batch(&batch.batch_id, &late, "test")
        .await
        .unwrap_err();
    assert!(
        matches!(e, BatchError::WrongState { .. }) && e.to_string().contains("closed"),
        "{e}"
    );
    let e = db
        .exec(
            "UPDATE mail_pieces SET sequence = 99 WHERE piece_id = $1",
            &[&pairs[0].1],
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("batch is closed"), "{e}");
    // The late piece goes to the day's next batch.
    let (next, joined) = s
        .batch_inserted(PRODUCT, "2026-11-27", "test")
        .await
        .unwrap();
    assert_eq!(next.batch_id, "20261127-lettre-suivie-002");
    assert_eq!(joined, 1);

    // Hand-over: every piece and card dispatched, one event per piece for the portal.
    let e = s.hand_over(&next.batch_id, "test").await.unwrap_err();
    assert!(
        matches!(e, BatchError::WrongState { .. }),
        "an open batch is not handed over: {e}"
    );
    assert_eq!(s.hand_over(&batch.batch_id, "test").await.unwrap(), 4);
    let events = s.events(Some("piece.dispatched")).await.unwrap();
    assert_eq!(events.len(), 4);
    for (card, piece) in &pairs {
        assert_eq!(state_of(db, card).await, "dispatched");
        assert_eq!(piece_state(db, card).await, "dispatched");
        assert!(
            events.iter().any(
                |e| e.payload.contains(piece.as_str()) && e.payload.contains("tracking_number")
            ),
            "no event for {piece}"
        );
    }
    assert!(s.hand_over(&batch.batch_id, "test").await.is_err());
    // Still the same bytes after the hand-over.
    assert_eq!(s.batch_manifest(&batch.batch_id).await.unwrap().csv, m.csv);
    assert!(s.verify_audit().await.unwrap().is_intact());
}

fn cqcfab(db: &TestDb, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cqcfab"));
    cmd.args(db.cli_args())
        .args(args)
        .env_remove("CQCFAB_CONFIG");
    cmd
}

async fn a_crash_while_closing_leaves_the_batch_open(db: &TestDb) {
    let pairs = inserted_pieces(db, 3).await;
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().display().to_string();
    let mut child = cqcfab(
        db,
        &[
            "post",
            "batch",
            "close",
            "--date",
            "2026-11-27",
            "--out",
            &dir,
        ],
    )
    .env("CQCFAB_DRILL_CLOSE_PAUSE_MS", "60000")
    .stdout(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    // Wait until the closing transaction is open and the pieces numbered, then kill.
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("crash drill pause") {
        let mut l = String::new();
        assert!(
            std::io::BufRead::read_line(&mut stdout, &mut l).unwrap() > 0,
            "the close ended before the drill: {seen}"
        );
        seen += &l;
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();

    // After the crash: the batch is open, its pieces batched but not numbered, no file.
    let batch = db
        .store
        .batch("20261127-lettre-suivie-001")
        .await
        .unwrap()
        .expect("the batch was opened before the close began");
    assert_eq!(batch.state, "open");
    assert!(batch.manifest_sha256.is_none());
    for (card, _) in &pairs {
        assert_eq!(piece_state(db, card).await, "batched");
    }
    assert!(std::fs::read_dir(out.path()).unwrap().next().is_none());
    // Closing again finishes the job.
    let run = cqcfab(
        db,
        &[
            "post",
            "batch",
            "close",
            "--date",
            "2026-11-27",
            "--out",
            &dir,
        ],
    )
    .output()
    .unwrap();
    let text =
        String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{text}");
    assert!(text.contains("3 piece(s)"), "{text}");
    let manifest =
        std::fs::read(out.path().join("20261127-lettre-suivie-001.manifest.csv")).unwrap();
    let sealed = db
        .store
        .batch("20261127-lettre-suivie-001")
        .await
        .unwrap()
        .unwrap();
    use sha2::Digest;
    assert_eq!(
        sealed.manifest_sha256.as_deref(),
        Some(hex::encode(sha2::Sha256::digest(&manifest)).as_str())
    );
    // Each piece once in the manifest; the batch closed once in the audit trail.
    let mut reader = csv::Reader::from_reader(manifest.as_slice());
    let col = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "piece_id")
        .unwrap();
    let mut listed: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[col].to_string())
        .collect();
    listed.sort();
    let mut pieces: Vec<String> = pairs.iter().map(|p| p.1.clone()).collect();
    pieces.sort();
    assert_eq!(listed, pieces, "each piece once");
    let closed = db
        .store
        .audit_history("postal_batch", "20261127-lettre-suivie-001")
        .await
        .unwrap()
        .iter()
        .filter(|r| r.action == "batch.closed")
        .count();
    assert_eq!(closed, 1);
    assert!(db.store.verify_audit().await.unwrap().is_intact());
}

async fn the_inserting_command_takes_scans_from_a_wedge_scanner(db: &TestDb) {
    let pairs = common::production::cards_with_carriers(db, 3).await;
    let (card0, piece0) = &pairs[0];
    let (card1, piece1) = &pairs[1];
    // A shift: a good pair, noise, a card with the wrong carrier (the line stops, the next
    // pair is refused), the supervisor clears, the pair again; the third card never comes.
    let scans = format!(
        "{card0}\n{piece0}\nEE12\n{card1}\n{piece0}\n{piece1}\nCLEAR Brigitte\n{piece1}\n{card1}\n"
    );
    let mut child = cqcfab(db, &["station", "insert", "--name", "insert-cli"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), scans.as_bytes()).unwrap();
    let run = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        text.contains(&format!("OK : carte {card0} dans le pli {piece0}")),
        "{text}"
    );
    assert!(text.contains("code inconnu « EE12 »"), "{text}");
    assert!(text.contains("XX LIGNE ARRÊTÉE"), "{text}");
    assert!(text.contains("ligne libérée par Brigitte"), "{text}");
    assert!(
        text.contains(&format!("OK : carte {card1} dans le pli {piece1}")),
        "{text}"
    );
    assert!(text.contains("2 insérée(s)"), "{text}");
    assert!(text.contains("1 discordance(s)"), "{text}");
    assert!(
        text.contains(&format!(
            "non insérée : carte {} (pli {})",
            pairs[2].0, pairs[2].1
        )),
        "{text}"
    );
    assert_eq!(state_of(db, card1).await, "inserted");

    // Input that ends on a stopped line fails, so that a script sees it.
    let mut child = cqcfab(db, &["station", "insert", "--scans", "/dev/stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (card2, _) = &pairs[2];
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        format!("{card2}\n{piece0}\n").as_bytes(),
    )
    .unwrap();
    let run = child.wait_with_output().unwrap();
    assert_eq!(
        run.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
}
