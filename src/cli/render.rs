//! `cqcfab render --request ID --out DIR`: the proof and bitmaps of one card, as files.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use crate::config::Config;
use crate::render::Renderer;
use crate::render::card_data::CardData;

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The request whose card to render (its request_id).
    #[arg(long, value_name = "ID")]
    pub request: String,
    /// Folder for proof.pdf and the PNG bitmaps.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub async fn run(config: &Config, args: RenderArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config).await?;
    let Some(card) = store.card_by_request(&args.request).await? else {
        bail!("no card for request {}", args.request);
    };
    let id = &card.request_id;
    let missing = |role: &str| format!("the {role} of request {id} is not stored (purged?)");
    let photo = store
        .request_picture(id, "photo")
        .await?
        .with_context(|| missing("photo"))?;
    let signature = store
        .request_picture(id, "signature")
        .await?
        .with_context(|| missing("signature"))?;
    let renderer = Renderer::new(&config.authority)?;
    let data = CardData::from_record(&card, renderer.authority(), None)?;
    let render =
        tokio::task::spawn_blocking(move || renderer.render(&data, &photo, &signature)).await??;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    println!(
        "card {} ({}), request {}",
        card.card_number, card.state, card.request_id
    );
    for o in &render.outputs {
        let path = args.out.join(o.name);
        std::fs::write(&path, &o.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "  {:<28} {:>8} bytes  sha256 {}",
            o.name,
            o.bytes.len(),
            o.sha256
        );
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
