//! Cards brought to the encoding stage: requests taken in and rendered.

use std::sync::Arc;

use cqcfab::intake::{Intake, Submission};
use cqcfab::render::Renderer;
use cqcfab::render::card_data::DEFAULT_AUTHORITY;
use cqcfab::render::worker;

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
