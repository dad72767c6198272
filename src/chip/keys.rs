//! The keys a station needs, from the configuration: the document signer (a file key from the
//! test PKI, or a PKCS#11 key), the CSCA certificate, and the personalisation master key.

use std::path::PathBuf;
use std::sync::Arc;

use x509_cert::Certificate;

use super::pki::{PkiError, TestPki};
use super::signer::{self, DocumentSigner, FileSigner, Pkcs11Location, Pkcs11Signer, SignerError};
use crate::config::Config;

/// Environment variable holding the HSM user PIN (never in a file, never logged).
pub const PIN_ENV: &str = "CQCFAB_PKCS11_PIN";
/// Environment variable holding the personalisation master key, in hex.
pub const MASTER_ENV: &str = "CQCFAB_PERSO_MASTER_KEY";
/// The development master key: the simulator's blanks are made with it unless told otherwise.
pub const TEST_MASTER: &[u8] = b"cqcfab TEST personalisation master key - not for production";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Signer(#[from] SignerError),
    #[error("[chip] signer = {0:?}: expected \"file\" or \"pkcs11\"")]
    UnknownSigner(String),
    #[error("[chip] signer = \"pkcs11\" needs {0}")]
    Missing(&'static str),
    #[error("{MASTER_ENV} is not hex: {0}")]
    MasterKey(String),
}

/// The document signer the configuration names.
pub fn open_signer(config: &Config) -> Result<Arc<dyn DocumentSigner>, KeyError> {
    let chip = &config.chip;
    match chip.signer.as_deref().unwrap_or("file") {
        "file" => {
            let pki = TestPki::ensure(&config.pki_dir())?;
            Ok(Arc::new(FileSigner::open(&pki.ds_key(), &pki.ds_cert())?))
        }
        "pkcs11" => {
            let need = |v: &Option<String>, what| v.clone().ok_or(KeyError::Missing(what));
            let path = |v: &Option<PathBuf>, what| v.clone().ok_or(KeyError::Missing(what));
            let loc = Pkcs11Location {
                module: path(&chip.pkcs11_module, "pkcs11_module")?,
                token: need(&chip.pkcs11_token, "pkcs11_token")?,
                key_label: need(&chip.pkcs11_key_label, "pkcs11_key_label")?,
                pin: std::env::var(PIN_ENV).map_err(|_| KeyError::Missing(PIN_ENV))?,
            };
            let cert = signer::read_certificate(&path(&chip.ds_cert, "ds_cert")?)?;
            Ok(Arc::new(Pkcs11Signer::open(loc, cert)?))
        }
        other => Err(KeyError::UnknownSigner(other.to_string())),
    }
}

/// The CSCA certificate passive authentication trusts.
pub fn csca(config: &Config) -> Result<Certificate, KeyError> {
    match &config.chip.csca_cert {
        Some(path) => Ok(signer::read_certificate(path)?),
        None => Ok(TestPki::ensure(&config.pki_dir())?.csca()?),
    }
}

/// The personalisation master key: from the environment, else the development key.
pub fn master_key() -> Result<Vec<u8>, KeyError> {
    match std::env::var(MASTER_ENV) {
        Ok(h) => hex::decode(h.trim()).map_err(|e| KeyError::MasterKey(e.to_string())),
        Err(_) => Ok(TEST_MASTER.to_vec()),
    }
}
