//! Card previews for the console, drawn on demand (production keeps only what it prints) and
//! kept for the last few cards looked at: a card page asks for both sides at once, and a
//! supervisor going back and forth between two cards should not wait twice.

use std::sync::{Arc, Mutex};

use crate::render::Renderer;
use crate::render::worker::{self, WorkerError};
use crate::store::Store;
use crate::store::cards::CardRecord;

/// Cards whose previews are kept.
const KEPT: usize = 16;

type Entry = ((String, i64), Arc<(Vec<u8>, Vec<u8>)>);

/// The renderer and the last previews drawn, by (card number, record version).
#[derive(Clone)]
pub struct Previews {
    renderer: Arc<Renderer>,
    cache: Arc<Mutex<Vec<Entry>>>,
}

impl std::fmt::Debug for Previews {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Previews")
    }
}

impl Previews {
    pub fn new(renderer: Arc<Renderer>) -> Previews {
        Previews {
            renderer,
            cache: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Front and back of `card` as PNG; `None` when its pictures are purged.
    pub async fn of(
        &self,
        store: &Store,
        card: &CardRecord,
    ) -> Result<Option<Arc<(Vec<u8>, Vec<u8>)>>, WorkerError> {
        let key = (card.card_number.clone(), card.version);
        if let Some(hit) = self.lookup(&key) {
            return Ok(Some(hit));
        }
        let Some(pair) = worker::previews(store, &self.renderer, card).await? else {
            return Ok(None);
        };
        let pair = Arc::new(pair);
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|(k, _)| k.0 != key.0);
            if cache.len() >= KEPT {
                cache.remove(0);
            }
            cache.push((key, pair.clone()));
        }
        Ok(Some(pair))
    }

    fn lookup(&self, key: &(String, i64)) -> Option<Arc<(Vec<u8>, Vec<u8>)>> {
        let cache = self.cache.lock().ok()?;
        cache.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
}
