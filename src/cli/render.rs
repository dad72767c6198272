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
    let media = |role: &'static str| {
        let store = store.clone();
        let request = card.request_id.clone();
        async move {
            store
                .request_media(&request, role)
                .await?
                .and_then(|m| m.bytes)
                .with_context(|| format!("the {role} of request {request} is not stored (purged?)"))
        }
    };
    let photo = media("photo").await?;
    let signature = media("signature").await?;
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
