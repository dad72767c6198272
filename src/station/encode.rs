//! The encoding station: claims `encode` jobs and personalises chips on its readers, one
//! thread per reader (the PC/SC API blocks).
//!
//! For each card: a blank is in the reader before the job is claimed (so the job's lease only
//! covers the write), the body is identified and drawn from stock, EF.SOD is signed, the chip
//! written, read back and locked, and only then, in one transaction, the body is bound to the
//! card, the card moves to `personalised` with the hashes in the audit trail, and the job is
//! done. Any failure after the draw spoils that body with its reason and the job goes on with
//! the next blank; a card number is never written to two chips (docs/stock.md).

use crate::domain::review::{Stop, StopCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cqcfab_drivers::transport::{Transport, TransportError};
use serde_json::json;
use tokio::runtime::Handle;

use super::readers::ReaderSlot;
use crate::chip::script::{self, PersoError};
use crate::chip::signer::DocumentSigner;
use crate::chip::{data_groups, record, sod};
use crate::domain::lifecycle::CardState;
use crate::render::worker::ENCODE_JOB;
use crate::render::{CHIP_PORTRAIT, CHIP_SIGNATURE};
use crate::store::jobs::ClaimedJob;
use crate::store::stock::{self, StockError};
use crate::store::{Store, cards, jobs, personalisation};

/// How long a write may hold its job.
pub const LEASE_MS: i64 = 120_000;
/// Blanks one job may use before it is put back in the queue (with its backoff).
pub const BLANKS_PER_JOB: u32 = 3;

/// What the station needs besides its readers.
#[derive(Clone)]
pub struct Station {
    pub store: Store,
    pub signer: Arc<dyn DocumentSigner>,
    /// The bureau's personalisation master key (each card's key is derived from it).
    pub master: Arc<Vec<u8>>,
    pub authority: String,
    /// This station's name in the ledger and the audit trail.
    pub name: String,
    /// Blanks one job may use before it goes back to the queue ([`BLANKS_PER_JOB`]).
    pub blanks_per_job: u32,
}

/// What happened on a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A card was personalised and bound to its chip.
    Personalised {
        reader: String,
        card_number: String,
        serial: u64,
        apdus: u32,
        /// The fewest APDUs these files need on this card ([`script::minimum_apdus`]).
        minimum_apdus: u32,
        /// Time in card round trips, and from the claim to the commit.
        card_time: Duration,
        total_time: Duration,
    },
    /// A drawn body was spoiled; the job goes on with the next blank.
    Spoiled {
        reader: String,
        card_number: String,
        serial: u64,
        reason: String,
    },
    /// The card in the reader was refused before anything was written (not our card type,
    /// not our stock, a live card): it is taken out, the ledger is unchanged.
    Refused {
        reader: String,
        card_number: String,
        reason: String,
    },
    /// The job used its blanks without success and went back to the queue.
    Failed { card_number: String, error: String },
    /// The link to the reader went away (pcscd stopped, reader unplugged) during the job: a
    /// body drawn for it is spoiled, the job goes back to the queue without counting the
    /// attempt, and the reader waits for the link to come back.
    Interrupted {
        reader: String,
        card_number: String,
        reason: String,
    },
    /// The card was not waiting for encoding (a repeat): nothing done.
    Skipped { card_number: String, state: String },
    /// The card cannot be encoded as it stands (its rendered pictures are missing, its data
    /// does not fit the chip profile): production stopped for this card only, before a blank
    /// was drawn; a supervisor releases it after a fix or rejects it (docs/lifecycle.md).
    Stopped { card_number: String, reason: String },
    /// The reader could not be used; this reader's thread ends.
    ReaderLost { reader: String, error: String },
}

/// A transport that times the card round trips.
struct Timed<'a> {
    inner: &'a mut dyn Transport,
    spent: Duration,
}

impl Transport for Timed<'_> {
    fn reader(&self) -> &str {
        self.inner.reader()
    }

    fn atr(&self) -> &[u8] {
        self.inner.atr()
    }

    fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let t = Instant::now();
        let r = self.inner.transmit_raw(command);
        self.spent += t.elapsed();
        r
    }
}

/// Why a job could not even be tried.
#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Stock(#[from] StockError),
    #[error(transparent)]
    Transition(#[from] cards::TransitionError),
    #[error(transparent)]
    Lease(#[from] jobs::JobError),
    #[error("{0}")]
    Data(String),
    /// The card's own data cannot go on a chip: retrying cannot help, the card stops.
    #[error("{0}")]
    Unproducible(String),
}

/// A job claimed and its files prepared while the finished card leaves the reader.
struct Ahead {
    job: ClaimedJob,
    number: String,
    ready: Result<Ready, JobError>,
}

/// Runs one reader: takes jobs while blanks come, until `stop`, or after one card with
/// `once`, or when no job is ready with `drain`.
///
/// The next job is claimed and its files prepared (data groups, pictures, EF.SOD signed) while
/// the finished card leaves the reader and the next blank comes in — a swap takes ~0.6 s on a
/// motorised reader or the simulator — so the blank only waits for its own writes. Before the
/// first card, or after a failure, a blank comes first and the job is claimed after, so no
/// lease waits for an operator.
pub fn run_reader(
    station: &Station,
    slot: &mut dyn ReaderSlot,
    rt: &Handle,
    stop: &AtomicBool,
    mode: Mode,
    report: &(dyn Fn(Event) + Sync),
) {
    let owner = format!("{}:{}", station.name, slot.name());
    let mut done = 0u32;
    let mut ahead: Option<Ahead> = None;
    while !stop.load(Ordering::Relaxed) {
        if ahead.is_none() && mode != Mode::Once && slot.holds_used_card() {
            ahead = match rt.block_on(station.store.claim(ENCODE_JOB, &owner, LEASE_MS)) {
                Ok(Some(job)) => {
                    let number = card_number(&job);
                    let ready = rt.block_on(prepare(station, &number));
                    Some(Ahead { job, number, ready })
                }
                _ => None,
            };
        }
        let lost = match slot.next_blank(stop) {
            Ok(Some(_)) => None,
            Ok(None) => Some(String::from("the station stopped")),
            Err(e) => {
                report(Event::ReaderLost {
                    reader: slot.name().to_string(),
                    error: e.to_string(),
                });
                Some(e.to_string())
            }
        };
        if let Some(why) = lost {
            if let Some(a) = ahead.take() {
                let _ = rt.block_on(station.store.release(&a.job.lease, &why));
            }
            return;
        }
        let (job, number, ready, started) = match ahead.take() {
            Some(mut a) => {
                // A long swap (an operator's hands) may have eaten into the lease.
                let now = station.store.clock().now_ms();
                if a.job.lease.expires_at - now < LEASE_MS / 2 {
                    match rt.block_on(station.store.heartbeat(&a.job.lease, LEASE_MS)) {
                        Ok(lease) => a.job.lease = lease,
                        // Lost to another station, which does it: take the next one.
                        Err(_) => continue,
                    }
                }
                (a.job, a.number, a.ready, Instant::now())
            }
            None => {
                let job = match rt.block_on(station.store.claim(ENCODE_JOB, &owner, LEASE_MS)) {
                    Ok(Some(job)) => job,
                    Ok(None) if mode == Mode::Drain => return,
                    Ok(None) => {
                        std::thread::sleep(Duration::from_millis(200));
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming an encode job");
                        std::thread::sleep(Duration::from_millis(500));
                        continue;
                    }
                };
                let started = Instant::now();
                let number = card_number(&job);
                let ready = rt.block_on(prepare(station, &number));
                (job, number, ready, started)
            }
        };
        let personalised = encode_job(
            station, slot, rt, stop, &job, number, ready, started, report,
        );
        done += u32::from(personalised);
        if mode == Mode::Once && done > 0 {
            return;
        }
    }
}

fn card_number(job: &ClaimedJob) -> String {
    job.payload["card_number"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// How long a reader keeps going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Until stopped.
    Serve,
    /// Until one card is personalised.
    Once,
    /// Until no job is ready.
    Drain,
}

/// One job, on as many blanks as it takes (up to `blanks_per_job`). True when personalised.
/// `started` is when the job's time on the card's path began (for the station-time figures).
#[allow(clippy::too_many_arguments)]
fn encode_job(
    station: &Station,
    slot: &mut dyn ReaderSlot,
    rt: &Handle,
    stop: &AtomicBool,
    job: &ClaimedJob,
    number: String,
    ready: Result<Ready, JobError>,
    started: Instant,
    report: &(dyn Fn(Event) + Sync),
) -> bool {
    let prepared = match ready {
        Ok(Ready::Files(card_id, files)) => (card_id, files),
        Ok(Ready::Skip(state)) => {
            let _ = rt.block_on(station.store.complete(&job.lease));
            report(Event::Skipped {
                card_number: number,
                state,
            });
            return false;
        }
        Err(JobError::Unproducible(reason)) => {
            match rt.block_on(stop_card(station, job, &number, &reason)) {
                Ok(()) => report(Event::Stopped {
                    card_number: number,
                    reason,
                }),
                Err(e) => {
                    let error = format!("{reason}; stopping the card failed: {e}");
                    let _ = rt.block_on(station.store.fail(&job.lease, &error));
                    report(Event::Failed {
                        card_number: number,
                        error,
                    });
                }
            }
            return false;
        }
        Err(e) => {
            let error = e.to_string();
            let _ = rt.block_on(station.store.fail(&job.lease, &error));
            report(Event::Failed {
                card_number: number,
                error,
            });
            return false;
        }
    };
    let (card_id, files) = prepared;
    let reader = slot.name().to_string();
    let mut last_error = String::new();
    let mut tries = 0;
    while tries < station.blanks_per_job.max(1) {
        let last_serial = slot.last_serial();
        let transport = match slot.next_blank(stop) {
            Ok(Some(t)) => t,
            Ok(None) => {
                last_error = "the station stopped".into();
                break;
            }
            Err(e) => {
                report(Event::ReaderLost {
                    reader: reader.clone(),
                    error: e.to_string(),
                });
                slot.link_lost();
                interrupted(station, rt, job, &number, &reader, &e.to_string(), report);
                return false;
            }
        };
        let mut timed = Timed {
            inner: transport,
            spent: Duration::ZERO,
        };
        let work = Work {
            card_id,
            number: &number,
            files: &files,
        };
        let attempt = attempt(station, rt, &mut timed, &work, &reader, last_serial);
        let card_time = timed.spent;
        match &attempt {
            Err(Attempt::SameCard(serial)) => {
                // The used card is still there: eject it again, this blank does not count.
                tracing::info!(
                    reader,
                    serial = format!("{serial:016X}"),
                    "the finished card is still in the reader"
                );
                slot.mark_used(Some(*serial));
                continue;
            }
            Ok((serial, _))
            | Err(Attempt::Spoiled(serial, _))
            | Err(Attempt::LinkLost(Some(serial), _)) => slot.mark_used(Some(*serial)),
            Err(Attempt::Refused(_)) => slot.mark_used(None),
            // Untouched: the same blank is used when the link is back.
            Err(Attempt::LinkLost(None, _)) => {}
        }
        tries += 1;
        match attempt {
            Ok((serial, done)) => {
                match rt.block_on(bind(station, job, card_id, &number, &reader, serial, &done)) {
                    Ok(()) => {
                        let (max_cmd, max_resp) = done.chunk;
                        report(Event::Personalised {
                            reader,
                            card_number: number,
                            serial,
                            apdus: done.apdus,
                            minimum_apdus: script::minimum_apdus(
                                &files,
                                max_cmd,
                                max_resp,
                                max_cmd > cqcfab_drivers::apdu::SHORT_MAX_DATA,
                            ),
                            card_time,
                            total_time: started.elapsed(),
                        });
                        return true;
                    }
                    Err(e) => {
                        // Written but not bound: this chip must never leave.
                        last_error = format!("written, but recording it failed: {e}");
                        spoil(station, rt, serial, &number, &reader, &last_error, report);
                    }
                }
            }
            Err(Attempt::Refused(reason)) => {
                last_error = reason.clone();
                report(Event::Refused {
                    reader: reader.clone(),
                    card_number: number.clone(),
                    reason,
                });
            }
            Err(Attempt::Spoiled(serial, reason)) => {
                last_error = reason.clone();
                spoil(station, rt, serial, &number, &reader, &reason, report);
            }
            Err(Attempt::LinkLost(drawn, reason)) => {
                slot.link_lost();
                if let Some(serial) = drawn {
                    spoil(station, rt, serial, &number, &reader, &reason, report);
                }
                interrupted(station, rt, job, &number, &reader, &reason, report);
                return false;
            }
            Err(Attempt::SameCard(_)) => {}
        }
    }
    let _ = rt.block_on(station.store.fail(&job.lease, &last_error));
    report(Event::Failed {
        card_number: number,
        error: last_error,
    });
    false
}

/// The reader's link went away: the job goes back to the queue as it was.
fn interrupted(
    station: &Station,
    rt: &Handle,
    job: &ClaimedJob,
    number: &str,
    reader: &str,
    reason: &str,
    report: &(dyn Fn(Event) + Sync),
) {
    if let Err(e) = rt.block_on(station.store.release(&job.lease, reason)) {
        tracing::warn!(job = job.id, error = %e, "giving an interrupted job back");
    }
    report(Event::Interrupted {
        reader: reader.to_string(),
        card_number: number.to_string(),
        reason: reason.to_string(),
    });
}

fn spoil(
    station: &Station,
    rt: &Handle,
    serial: u64,
    number: &str,
    reader: &str,
    reason: &str,
    report: &(dyn Fn(Event) + Sync),
) {
    let actor = format!("station:{}", station.name);
    if let Err(e) = rt.block_on(station.store.spoil(serial, reason, &actor)) {
        tracing::error!(serial = format!("{serial:016X}"), error = %e, "could not record a spoiled body");
    }
    report(Event::Spoiled {
        reader: reader.to_string(),
        card_number: number.to_string(),
        serial,
        reason: reason.to_string(),
    });
}

/// The card being written: its record id, number and files.
#[derive(Clone, Copy)]
struct Work<'a> {
    card_id: i64,
    number: &'a str,
    files: &'a [(u16, Vec<u8>)],
}

enum Attempt {
    /// The card is the one this reader used last: it was never swapped.
    SameCard(u64),
    /// Nothing was written; the ledger is unchanged.
    Refused(String),
    /// The body was drawn and something went wrong: spoil it.
    Spoiled(u64, String),
    /// The reader service or the reader went away, after the body was drawn (`Some`: spoil
    /// it, its chip holds an unknown part of the card) or before.
    LinkLost(Option<u64>, String),
}

/// pcscd stopped or the reader vanished: neither the card's fault nor the job's.
fn link_lost(e: &PersoError) -> bool {
    matches!(
        e,
        PersoError::Transport(
            TransportError::ServiceDown { .. } | TransportError::ReaderGone { .. }
        )
    )
}

/// Identify, draw, write: the card side of one blank.
fn attempt(
    station: &Station,
    rt: &Handle,
    card: &mut dyn Transport,
    work: &Work<'_>,
    reader: &str,
    last_serial: Option<u64>,
) -> Result<(u64, script::Personalised), Attempt> {
    let Work {
        card_id,
        number,
        files,
    } = *work;
    let opened = script::open(card).map_err(|e| {
        if link_lost(&e) {
            Attempt::LinkLost(None, e.to_string())
        } else {
            Attempt::Refused(refusal(&e))
        }
    })?;
    if last_serial == Some(opened.serial) {
        return Err(Attempt::SameCard(opened.serial));
    }
    rt.block_on(
        station
            .store
            .draw(opened.serial, card_id, number, &station.name, reader),
    )
    .map_err(|e| Attempt::Refused(e.to_string()))?;
    script::write(card, &opened, &station.master, files)
        .map(|done| (opened.serial, done))
        .map_err(|e| {
            if link_lost(&e) {
                Attempt::LinkLost(Some(opened.serial), format!("write interrupted: {e}"))
            } else {
                Attempt::Spoiled(opened.serial, e.to_string())
            }
        })
}

fn refusal(e: &PersoError) -> String {
    match e {
        PersoError::WrongCard(_) => format!("{e}: not a CQC blank, take it out"),
        other => format!("could not identify the card: {other}"),
    }
}

enum Ready {
    Files(i64, Vec<(u16, Vec<u8>)>),
    Skip(String),
}

/// The files to write: the data groups from the record and the rendered pictures, then EF.SOD.
/// Bodies a killed station left drawn for this card are spoiled first: their chips hold an
/// unknown part of the card.
async fn prepare(station: &Station, number: &str) -> Result<Ready, JobError> {
    let store = &station.store;
    let card = store
        .card_by_number(number)
        .await?
        .ok_or_else(|| JobError::Data(format!("card {number} does not exist")))?;
    if card.state != CardState::InProduction.as_str() {
        return Ok(Ready::Skip(card.state));
    }
    let actor = format!("station:{}", station.name);
    for serial in store.unfinished_bodies(card.id).await? {
        store
            .spoil(
                serial,
                "write interrupted (station stopped mid-write): chip content unknown",
                &actor,
            )
            .await?;
    }
    let artifacts = store.artifacts(card.id).await?;
    let picture = |name: &str| {
        artifacts
            .iter()
            .find(|a| a.name == name)
            .and_then(|a| a.bytes.clone())
            .ok_or_else(|| {
                JobError::Unproducible(format!(
                    "card {number}: no rendered {name}; release it to render it again"
                ))
            })
    };
    let data = record::chip_data(
        &card,
        &station.authority,
        picture(CHIP_PORTRAIT)?,
        picture(CHIP_SIGNATURE)?,
    )
    .map_err(|e| JobError::Unproducible(format!("card {number}: {e}")))?;
    let mut files = data_groups::build(&data)
        .map_err(|e| JobError::Unproducible(format!("card {number}: {e}")))?
        .files;
    let now_s = u64::try_from(store.clock().now_ms() / 1000).unwrap_or(0);
    let sod_file = sod::build(&files, station.signer.as_ref(), now_s)
        .map_err(|e| JobError::Data(format!("card {number}: EF.SOD: {e}")))?;
    files.push((data_groups::FID_SOD, sod_file));
    script::check_sizes(&files)
        .map_err(|e| JobError::Unproducible(format!("card {number}: {e}")))?;
    Ok(Ready::Files(card.id, files))
}

/// Stops card `number` (`in_production` → `stopped`, with the reason) and completes its job,
/// together: the line goes on with the other cards.
async fn stop_card(
    station: &Station,
    job: &ClaimedJob,
    number: &str,
    reason: &str,
) -> Result<(), JobError> {
    let store = &station.store;
    let now = store.clock().now_ms();
    let mut tx = store.begin().await?;
    let card = cards::by_number_in(&mut tx, number)
        .await?
        .ok_or_else(|| JobError::Data(format!("card {number} vanished")))?;
    // What the encoding stage cannot do (rendered files missing, data over the chip profile)
    // is ours to fix, never the driver's: the portal hears `card.stopped` with no field.
    let stop = Stop::new(StopCode::DataMissing, vec![], format!("encoding: {reason}"));
    crate::review::stop_card(
        &mut tx,
        now,
        &card,
        &stop,
        &format!("station:{}", station.name),
    )
    .await?;
    jobs::complete(&mut tx, now, &job.lease).await?;
    tx.commit().await?;
    tracing::warn!(
        card_number = number,
        reason,
        "production stopped at encoding"
    );
    Ok(())
}

/// Binds the body to the card, moves the card to personalised (superseding its predecessor,
/// telling the portal), completes the job: together.
async fn bind(
    station: &Station,
    job: &ClaimedJob,
    card_id: i64,
    number: &str,
    reader: &str,
    serial: u64,
    done: &script::Personalised,
) -> Result<(), JobError> {
    let store = &station.store;
    let card = store
        .card_by_number(number)
        .await?
        .filter(|c| c.id == card_id)
        .ok_or_else(|| JobError::Data(format!("card {number} vanished")))?;
    let now = store.clock().now_ms();
    let hashes: serde_json::Map<String, serde_json::Value> = done
        .hashes
        .iter()
        .map(|(fid, h)| (format!("{fid:04X}"), json!(hex::encode(h))))
        .collect();
    let mut tx = store.begin().await?;
    stock::bind(&mut tx, now, serial, card_id).await?;
    personalisation::record(
        &mut tx,
        now,
        &card,
        &format!("station:{}", station.name),
        json!({
            "chip_serial": format!("{serial:016X}"),
            "reader": reader,
            "file_sha256": hashes,
            "apdus": done.apdus,
            "signer": station.signer.describe(),
        }),
    )
    .await?;
    jobs::complete(&mut tx, now, &job.lease).await?;
    tx.commit().await?;
    Ok(())
}

/// Runs every reader on its own thread until each ends (see [`Mode`]); returns the readers
/// (tests look at the cards that left them). Call from a blocking context.
pub fn run_station(
    station: &Station,
    slots: Vec<Box<dyn ReaderSlot>>,
    rt: &Handle,
    stop: &AtomicBool,
    mode: Mode,
    report: &(dyn Fn(Event) + Sync),
) -> Vec<Box<dyn ReaderSlot>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = slots
            .into_iter()
            .map(|mut slot| {
                scope.spawn(move || {
                    run_reader(station, slot.as_mut(), rt, stop, mode, report);
                    slot
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    })
}
