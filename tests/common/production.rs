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
    carriers_for(db, &numbers).await
}

/// A carrier (piece) for each of these personalised cards: (card number, piece id) pairs.
pub async fn carriers_for(db: &TestDb, numbers: &[String]) -> Vec<(String, String)> {
    let la = ServiceIndicator::new("LA").unwrap();
    db.store
        .add_s10_range("LA-T", la, 10_000_000, 10_000_999, "test")
        .await
        .unwrap();
    let mut pairs = Vec::new();
    for number in numbers {
        let (piece, _) = db
            .store
            .piece_for(number, la, PRODUCT, "test")
            .await
            .unwrap();
        pairs.push((number.clone(), piece.piece_id));
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
    let batch = closed_batch(db, pairs, date).await;
    db.store.hand_over(&batch, "test").await.unwrap();
}

/// Inserts the pieces `pairs` (card number, piece id), batches and closes them (not yet
/// handed over); returns the batch id.
pub async fn closed_batch(db: &TestDb, pairs: &[(String, String)], date: &str) -> String {
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
    batch.batch_id
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

/// The personalisation master key of [`encoded_and_posted`] chips.
pub const MASTER: &[u8] = b"production test master";

/// Cards made for real and posted: chips written by the encoding station (in-process
/// readers, test PKI), then carriers, inserting, batch and hand-over.
pub struct Posted {
    /// (card number, piece id), sorted by card number.
    pub pairs: Vec<(String, String)>,
    /// The chips, in the order of `pairs`.
    pub chips: Vec<cqcfab_simulator::card::VirtualCard>,
    pub pki: cqcfab::chip::pki::TestPki,
    _dir: tempfile::TempDir,
}

/// `n` fixture requests taken in, rendered, personalised on simulated chips and posted on
/// `date`.
pub async fn encoded_and_posted(db: &TestDb, n: usize, date: &str) -> Posted {
    encoded_and_batched(db, n, n, date).await
}

/// [`encoded_and_posted`], but only the first `posted` pieces are handed over; the others wait
/// in a closed batch (a second one, when some were posted).
pub async fn encoded_and_batched(db: &TestDb, n: usize, posted: usize, date: &str) -> Posted {
    use cqcfab::station::encode::{self, Mode};
    use cqcfab::station::readers::{Hopper, InProcessSlot, ReaderSlot};
    use cqcfab_simulator::blanks::Blanks;
    use std::sync::Mutex;
    use std::sync::atomic::AtomicBool;

    const FIRST: u64 = 0x0A0A_0000_0000_0001;
    let mut numbers = rendered_cards(db, n).await;
    numbers.sort();
    db.store
        .receive_lot("LOT-Q", FIRST, FIRST + 99, "test")
        .await
        .expect("lot");
    let dir = tempfile::tempdir().expect("tmp");
    let pki = cqcfab::chip::pki::TestPki::ensure(dir.path()).expect("pki");
    let station = file_station(&db.store, &pki, MASTER, "encode-t", 3);
    let blanks = Arc::new(Mutex::new(Blanks::new(FIRST, FIRST + 99, MASTER)));
    let hopper: Hopper = Arc::default();
    let slots: Vec<Box<dyn ReaderSlot>> = vec![Box::new(InProcessSlot::new(
        "sim 0",
        blanks,
        hopper.clone(),
    ))];
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let stop = AtomicBool::new(false);
        drop(encode::run_station(
            &station,
            slots,
            &rt,
            &stop,
            Mode::Drain,
            &|_| {},
        ));
    })
    .await
    .expect("station");
    let mut cards = std::mem::take(&mut *hopper.lock().expect("hopper"));
    let mut chips = Vec::new();
    for number in &numbers {
        let at = cards
            .iter()
            .position(|c| {
                c.file(cqcfab::chip::data_groups::FID_DG1)
                    .and_then(|f| cqcfab::chip::tlv::parse(f).ok())
                    .and_then(|n| n.find(0x5F0E).map(|n| n.text()))
                    .as_deref()
                    == Some(number.as_str())
            })
            .unwrap_or_else(|| panic!("no chip holds {number}"));
        chips.push(cards.swap_remove(at));
    }
    let pairs = carriers_for(db, &numbers).await;
    if posted > 0 {
        post(db, &pairs[..posted], date).await;
    }
    if posted < pairs.len() {
        closed_batch(db, &pairs[posted..], date).await;
    }
    Posted {
        pairs,
        chips,
        pki,
        _dir: dir,
    }
}
