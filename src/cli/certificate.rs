//! `cqcfab certificate --request ID --out FILE`: the certificate of qualification of one
//! accepted request, as the portal downloads it (docs/certificate.md).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sha2::{Digest, Sha256};

use crate::config::Config;

#[derive(Debug, Args)]
pub struct CertificateArgs {
    /// The request whose certificate to write (its request_id).
    #[arg(long, value_name = "ID")]
    pub request: String,
    /// The PDF to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub async fn run(config: &Config, args: CertificateArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_store(config).await?;
    let made =
        crate::certificate::for_request(&store, &args.request, &config.certificate_issuer).await;
    store.close().await;
    let certificate = made?;
    let validity = certificate.validity();
    let pdf =
        tokio::task::spawn_blocking(move || crate::certificate::render(&certificate)).await??;
    super::post::write_whole(&args.out, &pdf)?;
    let numeric = crate::certificate::page::numeric;
    println!(
        "certificate of request {} written to {} ({} bytes, sha256 {})",
        args.request,
        args.out.display(),
        pdf.len(),
        hex::encode(Sha256::digest(&pdf))
    );
    if let Some(v) = validity {
        println!(
            "  valid from {} to {} inclusive{}",
            numeric(v.from),
            numeric(v.until),
            if v.minor {
                " (a minor on the date of establishment: from his majority)"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
