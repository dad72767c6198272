//! UPU S10 id ranges and their allocation, on SQLite and on PostgreSQL.

mod common;

use std::collections::HashSet;

use common::TestDb;
use cqcfab::clock::Clock;
use cqcfab::post::s10::{S10Id, ServiceIndicator};
use cqcfab::store::s10::{self, RangeError};
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 26))
}

fn la() -> ServiceIndicator {
    ServiceIndicator::new("LA").unwrap()
}

on_both_backends!(clock();
    ids_come_in_order_from_the_oldest_range_then_the_next,
    overlapping_and_duplicate_ranges_are_refused,
    an_exhausted_service_says_so,
    a_rolled_back_allocation_gives_its_id_back,
    concurrent_allocations_never_share_an_id,
    a_personalised_card_gets_one_piece_and_its_letters,
    a_letters_run_the_ranges_cannot_cover_makes_nothing,
);

async fn allocate_one(db: &TestDb, service: ServiceIndicator) -> Result<S10Id, RangeError> {
    let mut tx = db.store.begin().await.unwrap();
    let id = s10::allocate(&mut tx, service).await;
    tx.commit().await.unwrap();
    id
}

async fn ids_come_in_order_from_the_oldest_range_then_the_next(db: &TestDb) {
    let s = &db.store;
    s.add_s10_range("LA-B", la(), 500, 501, "test")
        .await
        .unwrap();
    s.add_s10_range("LA-A", la(), 47110815, 47110816, "test")
        .await
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(allocate_one(db, la()).await.unwrap().to_string());
    }
    // The lower range first, whatever the order they were added in; every id valid.
    assert_eq!(
        got[0],
        format!("LA00000500{}FR", cqcfab::post::s10::check_digit(500))
    );
    assert_eq!(got[2], "LA471108151FR");
    for id in &got {
        id.parse::<S10Id>().unwrap();
    }
    let lines = s.s10_ranges().await.unwrap();
    assert!(lines.iter().all(|l| l.left() == 0), "{lines:?}");
    assert!(s.verify_audit().await.unwrap().is_intact());
}

async fn overlapping_and_duplicate_ranges_are_refused(db: &TestDb) {
    let s = &db.store;
    s.add_s10_range("LA-1", la(), 1000, 1999, "test")
        .await
        .unwrap();
    let e = s
        .add_s10_range("LA-2", la(), 1999, 2999, "test")
        .await
        .unwrap_err();
    assert!(
        matches!(e, RangeError::Overlap { ref other, .. } if other == "LA-1"),
        "{e}"
    );
    assert!(e.to_string().contains("overlap range LA-1"), "{e}");
    let e = s
        .add_s10_range("LA-1", la(), 5000, 5999, "test")
        .await
        .unwrap_err();
    assert!(matches!(e, RangeError::Duplicate(_)), "{e}");
    // The same serials under another service indicator are other ids.
    let ra = ServiceIndicator::new("RA").unwrap();
    s.add_s10_range("RA-1", ra, 1000, 1999, "test")
        .await
        .unwrap();
    let e = s
        .add_s10_range("LA-3", la(), 10, 5, "test")
        .await
        .unwrap_err();
    assert!(matches!(e, RangeError::Bounds { .. }), "{e}");
    assert_eq!(s.s10_ranges().await.unwrap().len(), 2);
}

async fn an_exhausted_service_says_so(db: &TestDb) {
    let s = &db.store;
    assert!(matches!(
        allocate_one(db, la()).await,
        Err(RangeError::Exhausted(_))
    ));
    s.add_s10_range("LA-1", la(), 7, 7, "test").await.unwrap();
    allocate_one(db, la()).await.unwrap();
    let e = allocate_one(db, la()).await.unwrap_err();
    assert!(
        e.to_string().contains("no S10 id left for service LA"),
        "{e}"
    );
}

async fn a_rolled_back_allocation_gives_its_id_back(db: &TestDb) {
    let s = &db.store;
    s.add_s10_range("LA-1", la(), 100, 199, "test")
        .await
        .unwrap();
    let mut tx = s.begin().await.unwrap();
    let first = s10::allocate(&mut tx, la()).await.unwrap();
    tx.rollback().await.unwrap();
    let again = allocate_one(db, la()).await.unwrap();
    assert_eq!(first, again);
    let next = allocate_one(db, la()).await.unwrap();
    assert_eq!(next.serial(), 101);
}

async fn concurrent_allocations_never_share_an_id(db: &TestDb) {
    let s = &db.store;
    s.add_s10_range("LA-1", la(), 0, 99, "test").await.unwrap();
    s.add_s10_range("LA-2", la(), 1000, 1099, "test")
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..25 {
                let mut tx = store.begin().await.unwrap();
                ids.push(s10::allocate(&mut tx, la()).await.unwrap());
                tx.commit().await.unwrap();
            }
            ids
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            assert!(all.insert(id), "{id} handed out twice");
        }
    }
    assert_eq!(all.len(), 200);
    assert!(matches!(
        allocate_one(db, la()).await,
        Err(RangeError::Exhausted(_))
    ));
}

async fn a_personalised_card_gets_one_piece_and_its_letters(db: &TestDb) {
    use cqcfab::store::pieces::PieceError;
    let s = &db.store;
    let mut numbers = common::production::rendered_cards(db, 3).await;
    // In intake order (holder numbers are given in that order), as the store lists them.
    numbers.sort();
    // Still in production: no envelope.
    let e = s
        .piece_for(&numbers[0], la(), "lettre-suivie", "test")
        .await
        .unwrap_err();
    assert!(matches!(e, PieceError::NotPersonalised { .. }), "{e}");
    common::production::mark_personalised(db, &numbers[..2]).await;
    assert_eq!(s.cards_awaiting_piece().await.unwrap(), numbers[..2]);
    // No range yet: said plainly.
    let e = s
        .piece_for(&numbers[0], la(), "lettre-suivie", "test")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no S10 id left"), "{e}");
    s.add_s10_range("LA-1", la(), 47110815, 47110899, "test")
        .await
        .unwrap();
    let (piece, made) = s
        .piece_for(&numbers[0], la(), "lettre-suivie", "test")
        .await
        .unwrap();
    assert!(made);
    assert_eq!(piece.piece_id, "LA471108151FR");
    assert!(!piece.address_lines().is_empty());
    // Asking again gives the same piece, and no id is spent.
    let (again, made) = s
        .piece_for(&numbers[0], la(), "lettre-suivie", "test")
        .await
        .unwrap();
    assert!(!made);
    assert_eq!(again, piece);
    assert_eq!(s.cards_awaiting_piece().await.unwrap(), numbers[1..2]);

    // The command makes the rest, with a carrier letter and a coupon each, that scan.
    let out = tempfile::tempdir().unwrap();
    let mut args = db.cli_args();
    args.extend(
        ["post", "letters", "--out"]
            .iter()
            .map(|s| s.to_string())
            .chain([out.path().display().to_string()]),
    );
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_cqcfab"))
        .args(&args)
        .env_remove("CQCFAB_CONFIG")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{text}");
    assert!(text.contains("1 carrier letter(s)"), "{text}");
    let second = s.card_by_number(&numbers[1]).await.unwrap().unwrap();
    let pieces = s.pieces_of_card(second.id).await.unwrap();
    assert_eq!(pieces.len(), 1);
    let id = &pieces[0].piece_id;
    // The next serial of the range: the first went to the first card.
    let next = 47110816;
    assert_eq!(
        id,
        &format!("LA{next:08}{}FR", cqcfab::post::s10::check_digit(next))
    );
    let letter = std::fs::read(out.path().join(format!("{id}.carrier.pdf"))).unwrap();
    let (found, _) = common::scan::scan_pdf(&letter, out.path());
    assert_eq!(found, [format!("CODE-128:{id}"), format!("QR-Code:{id}")]);
    let coupon = std::fs::read(out.path().join(format!("{id}.coupon.pdf"))).unwrap();
    let (found, _) = common::scan::scan_pdf(&coupon, out.path());
    assert_eq!(
        found,
        [
            format!("CODE-128:RC{}", numbers[1]),
            format!("QR-Code:RC{}", numbers[1])
        ]
    );
    assert!(s.verify_audit().await.unwrap().is_intact());
}

fn letters_run(db: &TestDb, out: &std::path::Path) -> (bool, String) {
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_cqcfab"))
        .args(db.cli_args())
        .args(["post", "letters", "--out"])
        .arg(out)
        .env_remove("CQCFAB_CONFIG")
        .output()
        .unwrap();
    (
        run.status.success(),
        String::from_utf8_lossy(&run.stdout).into_owned() + &String::from_utf8_lossy(&run.stderr),
    )
}

async fn a_letters_run_the_ranges_cannot_cover_makes_nothing(db: &TestDb) {
    let s = &db.store;
    let numbers = common::production::rendered_cards(db, 3).await;
    common::production::mark_personalised(db, &numbers).await;
    s.add_s10_range("LA-SMALL", la(), 100, 101, "test")
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    // Two ids for three cards: refused before the first letter, said plainly.
    let (ok, text) = letters_run(db, out.path());
    assert!(!ok, "{text}");
    assert!(
        text.contains("3 card(s) wait for a carrier but only 2 S10 id(s) of service LA"),
        "{text}"
    );
    assert!(text.contains("nothing was made"), "{text}");
    assert_eq!(s.cards_awaiting_piece().await.unwrap().len(), 3);
    assert_eq!(s.s10_ranges().await.unwrap()[0].next_serial, 100);
    assert!(std::fs::read_dir(out.path()).unwrap().next().is_none());
    // The next range arrives: the run goes through, and warns that ids are running low.
    s.add_s10_range("LA-NEXT", la(), 200, 1199, "test")
        .await
        .unwrap();
    let (ok, text) = letters_run(db, out.path());
    assert!(ok, "{text}");
    assert!(text.contains("3 carrier letter(s)"), "{text}");
    assert!(
        text.contains("only 999 S10 id(s) of service LA are left"),
        "{text}"
    );
    assert!(s.cards_awaiting_piece().await.unwrap().is_empty());
}

/// A carrier letter as the post and the mailroom see it: exactly two codes, a Code 128 and a
/// QR code, both the piece id.
#[test]
fn a_carrier_letter_scans_with_zbarimg_and_passes_qpdf() {
    use cqcfab::domain::address::{AddressInput, format};
    use cqcfab::post::letter::{self, Carrier};

    let address = format(&AddressInput {
        recipient: "Zoltán Kővári".into(),
        building: Some("Résidence Les Tilleuls".into()),
        street: Some("12 rue des Lilas".into()),
        postcode: "69003".into(),
        city: "Lyon".into(),
        country: "FR".into(),
        ..Default::default()
    })
    .expect("address");
    let block: Vec<String> = address.lines().iter().map(|l| l.text.clone()).collect();
    let carrier = Carrier {
        piece: "LA471108151FR".parse().unwrap(),
        card_number: "F0000000600G",
        address: &block,
        date_fr: "Paris, le 26 novembre 2026",
    };
    let fonts = cqcfab::render::fonts::fonts().expect("fonts");
    let bytes = letter::pdf(&carrier, fonts).expect("letter");
    let dir = tempfile::tempdir().unwrap();
    // For a human to look at (docs/carrier-letter.png was made this way).
    if let Some(keep) = std::env::var_os("CQCFAB_KEEP_LETTER") {
        std::fs::write(keep, &bytes).unwrap();
    }
    let (found, _) = common::scan::scan_pdf(&bytes, dir.path());
    assert_eq!(found, ["CODE-128:LA471108151FR", "QR-Code:LA471108151FR"]);
}

/// A return coupon as the quality desk scans it: the coupon code as Code 128 and QR.
#[test]
fn a_return_coupon_scans_with_zbarimg_and_passes_qpdf() {
    use cqcfab::domain::card_number::CardNumber;
    use cqcfab::post::coupon::{self, Coupon, CouponCode};

    let code = CouponCode::for_card(CardNumber::parse("F0000000600G").unwrap());
    let sheet = Coupon {
        code,
        holder: "ZOLTÁN KŐVÁRI",
    };
    let fonts = cqcfab::render::fonts::fonts().expect("fonts");
    let bytes = coupon::pdf(&sheet, fonts).expect("coupon");
    if let Some(keep) = std::env::var_os("CQCFAB_KEEP_COUPON") {
        std::fs::write(keep, &bytes).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let (found, _) = common::scan::scan_pdf(&bytes, dir.path());
    assert_eq!(found, ["CODE-128:RCF0000000600G", "QR-Code:RCF0000000600G"]);
    // What the desk's scanner hands over parses back to the card.
    let scanned: CouponCode = found[0].strip_prefix("CODE-128:").unwrap().parse().unwrap();
    assert_eq!(scanned.card().to_string(), "F0000000600G");
}
