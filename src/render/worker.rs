//! The render worker: claims `render` jobs, renders the card, stores the proof and the
//! personalisation bitmaps with their hashes, and moves the card into production.
//!
//! A card that cannot be produced as requested (a name that does not fit even abbreviated, a
//! picture that cannot be used) is *stopped* with the reason, for a supervisor to correct and
//! release or reject: retrying would give the same answer. Store failures are retried.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use thiserror::Error;
use tokio::sync::watch;

use super::card_data::CardData;
use super::{
    BACK_PERSONALISATION, CHIP_PORTRAIT, CHIP_SIGNATURE, CardRender, FRONT_PERSONALISATION, PROOF,
    RenderError, Renderer,
};
use crate::domain::lifecycle::{CardEvent, CardState};
use crate::intake::RENDER_JOB;
use crate::store::artifacts::{self, NewArtifact};
use crate::store::cards::{self, TransitionError};
use crate::store::jobs::{self, ClaimedJob, JobError, NewJob};
use crate::store::{Store, StoreError};

/// The job kind that encodes a rendered card's chip (consumed by the encoding stations).
pub const ENCODE_JOB: &str = "encode";
/// How long a render may hold its job before another worker may take it.
pub const LEASE_MS: i64 = 60_000;
/// Files kept with the card: the proof an operator approves and the bytes the printer prints.
pub const KEPT: [&str; 5] = [
    PROOF,
    FRONT_PERSONALISATION,
    BACK_PERSONALISATION,
    CHIP_PORTRAIT,
    CHIP_SIGNATURE,
];

#[derive(Debug, Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("job {job}: {message}")]
    BadJob { job: i64, message: String },
    #[error("render task failed: {0}")]
    Task(String),
}

/// What happened to one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// Rendered; the card is in production.
    Rendered { card_number: String },
    /// Production stopped for this card, with the reason.
    Stopped { card_number: String, reason: String },
    /// The card was not waiting for rendering any more (a repeat): nothing done.
    Skipped { card_number: String, state: String },
}

/// Takes and processes jobs, each leased for `lease_ms`, until `stop` turns true. The lease
/// is how long the other nodes wait before taking over the job of a node that died.
pub async fn run(
    store: Store,
    renderer: Arc<Renderer>,
    owner: String,
    lease_ms: i64,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        match once_leased(&store, &renderer, &owner, lease_ms).await {
            Ok(Some(_)) => continue,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "render worker"),
        }
        tokio::select! {
            _ = stop.changed() => {}
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

/// Renders with `workers` tasks until no render job is ready, calling `progress` after each
/// job; returns what happened to each. For batch runs (the demo, tests); `serve` uses [`run`].
pub async fn drain(
    store: &Store,
    renderer: &Arc<Renderer>,
    owner: &str,
    workers: usize,
    progress: impl Fn(&Result<Done, WorkerError>) + Send + Sync + 'static,
) -> Vec<Result<Done, WorkerError>> {
    let progress = Arc::new(progress);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..workers.max(1) {
        let (store, renderer, progress) = (store.clone(), renderer.clone(), progress.clone());
        let owner = format!("{owner}-{i}");
        tasks.spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let outcome = match once(&store, &renderer, &owner).await {
                    Ok(None) => break,
                    Ok(Some(done)) => Ok(done),
                    Err(e) => Err(e),
                };
                progress(&outcome);
                outcomes.push(outcome);
            }
            outcomes
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(outcomes) => all.extend(outcomes),
            Err(e) => all.push(Err(WorkerError::Task(e.to_string()))),
        }
    }
    all
}

/// Claims and processes one job; `None` when there was none.
pub async fn once(
    store: &Store,
    renderer: &Arc<Renderer>,
    owner: &str,
) -> Result<Option<Done>, WorkerError> {
    once_leased(store, renderer, owner, LEASE_MS).await
}

/// [`once`] with a lease of `lease_ms`.
pub async fn once_leased(
    store: &Store,
    renderer: &Arc<Renderer>,
    owner: &str,
    lease_ms: i64,
) -> Result<Option<Done>, WorkerError> {
    let Some(job) = store.claim(RENDER_JOB, owner, lease_ms).await? else {
        return Ok(None);
    };
    match process(store, renderer, owner, &job).await {
        Ok(done) => Ok(Some(done)),
        Err(e) => {
            let _ = store.fail(&job.lease, &e.to_string()).await;
            Err(e)
        }
    }
}

async fn process(
    store: &Store,
    renderer: &Arc<Renderer>,
    owner: &str,
    job: &ClaimedJob,
) -> Result<Done, WorkerError> {
    let number = job.payload["card_number"]
        .as_str()
        .ok_or_else(|| WorkerError::BadJob {
            job: job.id,
            message: "no card_number in the payload".into(),
        })?
        .to_string();
    let card = store
        .card_by_number(&number)
        .await?
        .ok_or_else(|| WorkerError::BadJob {
            job: job.id,
            message: format!("card {number} does not exist"),
        })?;
    if card.state != CardState::Approved.as_str() {
        store.complete(&job.lease).await?;
        return Ok(Done::Skipped {
            card_number: number,
            state: card.state,
        });
    }
    let photo = media(store, job, &card.request_id, &number, "photo").await?;
    let signature = media(store, job, &card.request_id, &number, "signature").await?;
    let rendered = match CardData::from_record(&card, renderer.authority(), None) {
        Ok(data) => {
            let r = renderer.clone();
            tokio::task::spawn_blocking(move || r.render_for_production(&data, &photo, &signature))
                .await
                .map_err(|e| WorkerError::Task(e.to_string()))?
        }
        Err(e) => Err(RenderError::Data(e)),
    };
    let actor = format!("worker:{owner}");
    let now = store.clock().now_ms();
    let mut tx = store.begin().await?;
    let done = match rendered {
        Ok(render) => {
            let files = kept(&render);
            artifacts::replace(&mut tx, now, card.id, &files).await?;
            let hashes: serde_json::Map<String, serde_json::Value> = files
                .iter()
                .map(|f| (f.name.to_string(), json!(f.sha256)))
                .collect();
            cards::apply(
                &mut tx,
                now,
                &card,
                CardEvent::StartProduction,
                &actor,
                None,
                json!({ "rendered": hashes }),
            )
            .await?;
            jobs::enqueue(
                &mut tx,
                now,
                &NewJob::new(ENCODE_JOB, json!({ "card_number": number }))
                    .dedup(format!("{ENCODE_JOB}:{number}")),
            )
            .await?;
            Done::Rendered {
                card_number: number.clone(),
            }
        }
        Err(e) => {
            let Some(stop) = e.stop() else {
                drop(tx);
                return Err(WorkerError::Task(e.to_string()));
            };
            crate::review::stop_card(&mut tx, now, &card, &stop, &actor).await?;
            let reason = e.to_string();
            tracing::warn!(card_number = number, reason, code = %stop.code, "production stopped");
            Done::Stopped {
                card_number: number.clone(),
                reason,
            }
        }
    };
    jobs::complete(&mut tx, now, &job.lease).await?;
    tx.commit().await?;
    Ok(done)
}

/// A picture of the request; missing bytes (purged, or never stored) make the job fail loudly.
async fn media(
    store: &Store,
    job: &ClaimedJob,
    request_id: &str,
    number: &str,
    role: &str,
) -> Result<Vec<u8>, WorkerError> {
    store
        .request_picture(request_id, role)
        .await?
        .ok_or_else(|| WorkerError::BadJob {
            job: job.id,
            message: format!("card {number}: the {role} is missing (purged?)"),
        })
}

/// The files kept with the card record.
fn kept(render: &CardRender) -> Vec<NewArtifact<'_>> {
    render
        .outputs
        .iter()
        .filter(|o| KEPT.contains(&o.name))
        .map(|o| NewArtifact {
            name: o.name,
            mime: o.mime,
            sha256: &o.sha256,
            bytes: &o.bytes,
        })
        .collect()
}

/// The colour previews of a stored card (front, back PNG), drawn again from its record and
/// pictures: production does not keep them (docs/rendering.md), a person looking at a card
/// in the console gets the same pixels. `None` once the pictures are purged.
pub async fn previews(
    store: &Store,
    renderer: &Arc<Renderer>,
    card: &crate::store::cards::CardRecord,
) -> Result<Option<(Vec<u8>, Vec<u8>)>, WorkerError> {
    let (Some(photo), Some(signature)) = (
        store.request_picture(&card.request_id, "photo").await?,
        store.request_picture(&card.request_id, "signature").await?,
    ) else {
        return Ok(None);
    };
    let Ok(data) = CardData::from_record(card, renderer.authority(), None) else {
        return Ok(None);
    };
    let r = renderer.clone();
    let render = tokio::task::spawn_blocking(move || r.render(&data, &photo, &signature))
        .await
        .map_err(|e| WorkerError::Task(e.to_string()))?
        .map_err(|e| WorkerError::Task(e.to_string()))?;
    let take = |name: &str| render.output(name).map(|o| o.bytes.clone());
    Ok(take(crate::render::FRONT_PREVIEW).zip(take(crate::render::BACK_PREVIEW)))
}
