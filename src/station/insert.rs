//! The inserting station (docs/post.md, "Inserting"): a card and its carrier letter are
//! scanned, in either order, and only a matching pair goes into the envelope. The card is
//! known by its printed number (scanned or typed) or by its chip serial (read on a card
//! reader, fed to the line as `CHIP:<serial>`); the carrier by the piece id printed on it.
//!
//! A mismatch stops the line: nothing more is inserted until a supervisor clears it
//! (`CLEAR <name>`, audited), because the two items in the operator's hands belong to two
//! different people and must be looked at before work goes on. The answers are in French, for
//! the operators at the bench.

use serde_json::json;

use crate::domain::card_number::CardNumber;
use crate::post::s10::S10Id;
use crate::store::Store;
use crate::store::audit::{self, Entry};
use crate::store::insertion::{CardKey, InsertError, Inserted};

/// What one scanned (or typed) line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    Card(CardKey),
    Piece(String),
    /// A supervisor clears a stopped line.
    Clear {
        supervisor: String,
    },
    /// Nothing the station knows; the raw text, for the answer and the log.
    Unknown(String),
}

/// Prefix of a chip serial fed to the line by the card reader.
pub const CHIP_PREFIX: &str = "CHIP:";

impl Scan {
    /// Reads one line: a piece id (UPU S10), a card number, `CHIP:<serial>` or
    /// `CLEAR <supervisor>`. Spaces around and inside ids are ignored, as ids are printed
    /// in groups.
    pub fn read(line: &str) -> Scan {
        let line = line.trim();
        if let Some(who) = line
            .strip_prefix("CLEAR ")
            .or_else(|| line.strip_prefix("clear "))
        {
            let who = who.trim();
            if !who.is_empty() {
                return Scan::Clear {
                    supervisor: who.to_string(),
                };
            }
        }
        if let Some(Ok(s)) = line
            .strip_prefix(CHIP_PREFIX)
            .map(|serial| serial.trim().parse::<i64>())
        {
            return Scan::Card(CardKey::ChipSerial(s));
        }
        if let Ok(id) = line.parse::<S10Id>() {
            return Scan::Piece(id.to_string());
        }
        if let Ok(n) = CardNumber::parse(line) {
            return Scan::Card(CardKey::Number(n.to_string()));
        }
        Scan::Unknown(line.to_string())
    }
}

/// The station's answer to one scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Half a pair is known; the other half is awaited.
    Waiting(String),
    /// The pair matched: the card goes into the envelope.
    Inserted(Inserted),
    /// The pair was already inserted: nothing changed.
    Already(Inserted),
    /// The line is stopped (this scan caused it, or it was stopped before).
    Stopped(String),
    /// This scan was refused; the line goes on.
    Refused(String),
    /// A supervisor cleared the line.
    Cleared(String),
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Waiting(m) | Answer::Refused(m) | Answer::Stopped(m) | Answer::Cleared(m) => {
                f.write_str(m)
            }
            Answer::Inserted(i) => match i.from_slot {
                Some(slot) => write!(
                    f,
                    "OK : carte {} sortie de la CASE {slot}, dans le pli {} — mettre sous enveloppe",
                    i.card_number, i.piece_id
                ),
                None => write!(
                    f,
                    "OK : carte {} dans le pli {} — mettre sous enveloppe",
                    i.card_number, i.piece_id
                ),
            },
            Answer::Already(i) => write!(
                f,
                "déjà fait : la carte {} est déjà dans le pli {} (rien n'a changé)",
                i.card_number, i.piece_id
            ),
        }
    }
}

/// What this station did since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub inserted: u64,
    pub already: u64,
    pub mismatches: u64,
    pub refused: u64,
    pub unknown: u64,
}

/// One inserting line: the half pair in hand and whether the line is stopped.
pub struct Line {
    store: Store,
    station: String,
    card: Option<CardKey>,
    piece: Option<String>,
    stopped: Option<String>,
    pub tally: Tally,
}

impl Line {
    pub fn new(store: Store, station: impl Into<String>) -> Line {
        Line {
            store,
            station: station.into(),
            card: None,
            piece: None,
            stopped: None,
            tally: Tally::default(),
        }
    }

    /// Whether a mismatch stopped the line (and why).
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// Takes one scan and answers it.
    pub async fn scan(&mut self, scan: Scan) -> Answer {
        let clearing = matches!(scan, Scan::Clear { .. });
        if let Some(why) = self.stopped.as_ref().filter(|_| !clearing) {
            self.tally.refused += 1;
            return Answer::Stopped(format!(
                "LIGNE ARRÊTÉE : {why} — scan ignoré ; un superviseur doit saisir « CLEAR <nom> »"
            ));
        }
        match scan {
            Scan::Clear { supervisor } => self.clear(&supervisor).await,
            Scan::Unknown(raw) => {
                self.tally.unknown += 1;
                tracing::warn!(station = %self.station, scan = %raw, "unknown scan");
                Answer::Refused(format!(
                    "code inconnu « {raw} » : ni une carte ni un pli — rien n'a changé"
                ))
            }
            Scan::Card(key) => {
                let set_aside = self.card.replace(key.clone()).filter(|k| *k != key);
                if self.piece.is_some() {
                    return self.pair().await;
                }
                Answer::Waiting(match set_aside {
                    Some(old) => format!(
                        "{} mise de côté ; {} : scanner maintenant son pli",
                        describe(&old),
                        describe(&key)
                    ),
                    None => format!("{} : scanner maintenant son pli", describe(&key)),
                })
            }
            Scan::Piece(id) => {
                if self.piece.as_deref() == Some(id.as_str()) {
                    return Answer::Waiting(format!(
                        "pli {id} déjà scanné : scanner maintenant la carte (rien n'a changé)"
                    ));
                }
                let set_aside = self.piece.replace(id.clone());
                if self.card.is_some() {
                    return self.pair().await;
                }
                Answer::Waiting(match set_aside {
                    Some(old) => {
                        format!("pli {old} mis de côté ; pli {id} : scanner maintenant la carte")
                    }
                    None => format!("pli {id} : scanner maintenant la carte"),
                })
            }
        }
    }

    /// Both halves are known: ask the bureau whether they belong together.
    async fn pair(&mut self) -> Answer {
        let (Some(card), Some(piece)) = (self.card.take(), self.piece.take()) else {
            return Answer::Refused("il manque la carte ou le pli".into());
        };
        match self.store.insert_card(&card, &piece, &self.station).await {
            Ok(i) if i.now => {
                self.tally.inserted += 1;
                tracing::info!(station = %self.station, card = %i.card_number, piece = %i.piece_id, "inserted");
                Answer::Inserted(i)
            }
            Ok(i) => {
                self.tally.already += 1;
                Answer::Already(i)
            }
            Err(InsertError::Mismatch {
                offered,
                piece_id,
                piece_card,
            }) => {
                self.tally.mismatches += 1;
                tracing::warn!(station = %self.station, card = %offered, piece = %piece_id, piece_card = %piece_card, "card-to-carrier mismatch: line stopped");
                let why = format!(
                    "la carte {offered} n'est pas celle du pli {piece_id} (ce pli est pour la \
                     carte {piece_card}) ; mettre la carte et le pli de côté"
                );
                self.stopped = Some(why.clone());
                Answer::Stopped(format!("LIGNE ARRÊTÉE : {why}"))
            }
            Err(e) => {
                self.tally.refused += 1;
                tracing::warn!(station = %self.station, error = %e, "insertion refused");
                Answer::Refused(format!("refusé : {e} — ni la carte ni le pli n'ont changé"))
            }
        }
    }

    async fn clear(&mut self, supervisor: &str) -> Answer {
        let Some(why) = self.stopped.take() else {
            return Answer::Refused("la ligne n'est pas arrêtée : rien à libérer".into());
        };
        let store = self.store.clone();
        let result = async {
            let mut tx = store.begin().await?;
            audit::append(
                &mut tx,
                store.clock().now_ms(),
                &Entry {
                    actor: supervisor,
                    action: "insert.line_cleared",
                    entity_type: "station",
                    entity_id: &self.station,
                    before: Some(json!({ "stopped": why })),
                    after: Some(json!({ "stopped": null })),
                    reason: None,
                },
            )
            .await?;
            tx.commit().await
        }
        .await;
        match result {
            Ok(()) => {
                self.card = None;
                self.piece = None;
                Answer::Cleared(format!(
                    "ligne libérée par {supervisor} : reprendre avec la carte suivante"
                ))
            }
            Err(e) => {
                self.stopped = Some(why);
                Answer::Refused(format!("la libération n'a pas pu être enregistrée : {e}"))
            }
        }
    }
}

fn describe(key: &CardKey) -> String {
    match key {
        CardKey::Number(n) => format!("carte {n}"),
        CardKey::ChipSerial(s) => format!("carte de puce n° {s:010}"),
    }
}
