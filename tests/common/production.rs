//! Cards brought to the encoding stage: requests taken in and rendered.

use std::sync::Arc;

use cqcfab::intake::{Intake, Submission};
use cqcfab::render::Renderer;
use cqcfab::render::card_data::DEFAULT_AUTHORITY;
use cqcfab::render::worker;

use cqcfab::post::s10::ServiceIndicator;
use cqcfab::store::insertion::CardKey;

use super::{TestDb, valid_fixtures};

/// The first `n` valid fixtures, accepted and rendered: their encode jobs are queued. Returns
/// the card numbers.
pub async fn rendered_cards(db: &TestDb, n: usize) -> Vec<String> {
    let intake = Intake::new(db.store.clone());
    for doc in valid_fixtures().iter().take(n) {
        let s = intake.submit(doc.clone(), "test").await.expect("intake");
        assert!(matches!(s, Submission::Created(_)), "{s:?}");
    }
    let renderer = Arc::new(Renderer::new(DEFAULT_AUTHORITY).expect("layouts"));
    let mut numbers = Vec::new();
    for done in worker::drain(&db.store, &renderer, "test", 2, |_| {}).await {
        match done.expect("render") {
            worker::Done::Rendered { card_number } => numbers.push(card_number),
            other => panic!("not rendered: {other:?}"),
        }
    }
    numbers
}

/// Test set-up only: the chip issue's station is proven elsewhere; here cards just need to
/// be personalised.
pub async fn mark_personalised(db: &TestDb, numbers: &[String]) {
    for n in numbers {
        db.exec(
            "UPDATE cards SET state = 'personalised' WHERE card_number = $1",
            &[n],
        )
        .await
        .expect("personalise");
    }
}

/// The postal product of the test pieces.
pub const PRODUCT: &str = "lettre-suivie";

/// `n` personalised cards, each with its carrier (piece): (card number, piece id) pairs,
/// sorted by card number.
pub async fn cards_with_carriers(db: &TestDb, n: usize) -> Vec<(String, String)> {
    let mut numbers = rendered_cards(db, n).await;
    numbers.sort();
    mark_personalised(db, &numbers).await;
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

/// `n` cards posted: inserted into their carriers, batched, closed and handed to the post
/// on `date`. Returns (card number, piece id) pairs.
pub async fn dispatched(db: &TestDb, n: usize, date: &str) -> Vec<(String, String)> {
    let pairs = cards_with_carriers(db, n).await;
    post(db, &pairs, date).await;
    pairs
}

/// Inserts, batches, closes and hands over the pieces `pairs` (card number, piece id).
pub async fn post(db: &TestDb, pairs: &[(String, String)], date: &str) {
    for (card, piece) in pairs {
        db.store
            .insert_card(&CardKey::Number(card.clone()), piece, "insert-t")
            .await
            .unwrap();
    }
    let (batch, joined) = db
        .store
        .batch_inserted(PRODUCT, date, "test")
        .await
        .unwrap();
    assert_eq!(joined, pairs.len() as u64);
    db.store
        .close_batch(&batch.batch_id, "test", None)
        .await
        .unwrap();
    db.store.hand_over(&batch.batch_id, "test").await.unwrap();
}

/// An encoding station on `store` signing EF.SOD with the test PKI's file key.
pub fn file_station(
    store: &cqcfab::store::Store,
    pki: &cqcfab::chip::pki::TestPki,
    master: &[u8],
    name: &str,
    blanks_per_job: u32,
) -> cqcfab::station::encode::Station {
    let signer =
        cqcfab::chip::signer::FileSigner::open(&pki.ds_key(), &pki.ds_cert()).expect("file signer");
    cqcfab::station::encode::Station {
        store: store.clone(),
        signer: Arc::new(signer),
        master: Arc::new(master.to_vec()),
        authority: DEFAULT_AUTHORITY.to_string(),
        name: name.to_string(),
        blanks_per_job,
    }
}
