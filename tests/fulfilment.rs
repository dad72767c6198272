//! Fulfilment on both backends: card-to-carrier matching at the inserting station, postal
//! batches (presort, seal, immutability, hand-over) and their manifests.

mod common;

use common::TestDb;
use cqcfab::clock::Clock;
use cqcfab::post::s10::ServiceIndicator;
use cqcfab::station::insert::{Answer, Line, Scan};
use cqcfab::store::insertion::{CardKey, InsertError};
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 27))
}

on_both_backends!(clock();
    a_card_goes_only_into_its_own_carrier,
    the_line_stops_on_a_mismatch_until_a_supervisor_clears_it,
);

const PRODUCT: &str = "lettre-suivie";

/// `n` personalised cards, each with its carrier (piece): (card number, piece id) pairs.
async fn cards_with_carriers(db: &TestDb, n: usize) -> Vec<(String, String)> {
    let mut numbers = common::production::rendered_cards(db, n).await;
    numbers.sort();
    common::production::mark_personalised(db, &numbers).await;
    let ee = ServiceIndicator::new("EE").unwrap();
    db.store
        .add_s10_range("EE-T", ee, 10_000_000, 10_000_999, "test")
        .await
        .unwrap();
    let mut pairs = Vec::new();
    for number in numbers {
        let (piece, _) = db
            .store
            .piece_for(&number, ee, PRODUCT, "test")
            .await
            .unwrap();
        pairs.push((number, piece.piece_id));
    }
    pairs
}

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
    let pairs = cards_with_carriers(db, 3).await;
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
        .insert_card(&CardKey::Number(card1.clone()), "EE000000000FR", "insert-t")
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
    let pairs = cards_with_carriers(db, 2).await;
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
    let a = line.scan(Scan::read("EE12345")).await;
    assert!(
        matches!(a, Answer::Refused(_)) && a.to_string().contains("EE12345"),
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
