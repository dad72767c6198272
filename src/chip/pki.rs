//! The test public-key infrastructure: a country-signing CA (CSCA) and document-signer
//! certificates under it.
//!
//! Production certificates come from the national CSCA ceremony, not from here: this module
//! exists so that development, CI and the demo sign EF.SOD exactly as production does, against
//! a CA that is plainly labelled as a test one. The CSCA key signs certificates only; the
//! document-signer key (a file, or a key generated inside the HSM) signs EF.SOD.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use der::EncodePem;
use der::pem::LineEnding;
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rand_core::OsRng;
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::Certificate;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use super::signer::{self, SignerError};

pub const CSCA_NAME: &str = "CN=cqcfab TEST CSCA,O=cqcfab test PKI - not for production,C=FR";
pub const DS_NAME: &str =
    "CN=cqcfab TEST document signer,O=cqcfab test PKI - not for production,C=FR";

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{path}: {detail}")]
    File { path: PathBuf, detail: String },
    #[error("building the certificate: {0}")]
    Build(String),
    #[error(transparent)]
    Signer(#[from] SignerError),
}

fn build_err(e: impl std::fmt::Display) -> PkiError {
    PkiError::Build(e.to_string())
}

fn serial() -> Result<SerialNumber, PkiError> {
    // Positive (top bit clear), unique enough for a test PKI.
    let mut bytes = *uuid::Uuid::new_v4().as_bytes();
    bytes[0] &= 0x7F;
    bytes[0] |= 0x01;
    SerialNumber::new(&bytes).map_err(build_err)
}

fn spki_of(point: &[u8]) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
    let key = VerifyingKey::from_sec1_bytes(point)
        .map_err(|e| PkiError::Build(format!("public key: {e}")))?;
    SubjectPublicKeyInfoOwned::from_key(key).map_err(build_err)
}

/// A self-signed CSCA certificate for `key`, valid ten years.
pub fn issue_csca(key: &SigningKey) -> Result<Certificate, PkiError> {
    let name = Name::from_str(CSCA_NAME).map_err(build_err)?;
    let spki = spki_of(key.verifying_key().to_encoded_point(false).as_bytes())?;
    let validity = Validity::from_now(10 * YEAR).map_err(build_err)?;
    CertificateBuilder::new(Profile::Root, serial()?, validity, name, spki, key)
        .map_err(build_err)?
        .build::<DerSignature>()
        .map_err(build_err)
}

/// A document-signer certificate for the P-256 public `point`, issued by the CSCA.
pub fn issue_document_signer(
    csca_key: &SigningKey,
    csca: &Certificate,
    point: &[u8],
    subject: &str,
) -> Result<Certificate, PkiError> {
    let name = Name::from_str(subject).map_err(build_err)?;
    let profile = Profile::Leaf {
        issuer: csca.tbs_certificate.subject.clone(),
        enable_key_agreement: false,
        enable_key_encipherment: false,
    };
    let validity = Validity::from_now(3 * YEAR).map_err(build_err)?;
    CertificateBuilder::new(
        profile,
        serial()?,
        validity,
        name,
        spki_of(point)?,
        csca_key,
    )
    .map_err(build_err)?
    .build::<DerSignature>()
    .map_err(build_err)
}

/// The files of a test PKI in one directory.
#[derive(Debug, Clone)]
pub struct TestPki {
    pub dir: PathBuf,
}

impl TestPki {
    pub fn csca_cert(&self) -> PathBuf {
        self.dir.join("csca.pem")
    }
    pub fn csca_key(&self) -> PathBuf {
        self.dir.join("csca.key.pem")
    }
    pub fn ds_cert(&self) -> PathBuf {
        self.dir.join("ds.pem")
    }
    pub fn ds_key(&self) -> PathBuf {
        self.dir.join("ds.key.pem")
    }

    /// Uses the PKI in `dir`, creating it first when it is not there (never overwriting).
    pub fn ensure(dir: &Path) -> Result<Self, PkiError> {
        let pki = Self {
            dir: dir.to_path_buf(),
        };
        if pki.csca_cert().exists() && pki.ds_cert().exists() {
            return Ok(pki);
        }
        let file_err = |path: &Path, e: &dyn std::fmt::Display| PkiError::File {
            path: path.to_path_buf(),
            detail: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| file_err(dir, &e))?;
        let csca_key = SigningKey::random(&mut OsRng);
        let csca = issue_csca(&csca_key)?;
        let ds_key = SigningKey::random(&mut OsRng);
        let ds = issue_document_signer(
            &csca_key,
            &csca,
            ds_key.verifying_key().to_encoded_point(false).as_bytes(),
            DS_NAME,
        )?;
        write_key(&pki.csca_key(), &csca_key)?;
        write_key(&pki.ds_key(), &ds_key)?;
        write_cert(&pki.ds_cert(), &ds)?;
        // Written last: its presence means the PKI is complete.
        write_cert(&pki.csca_cert(), &csca)?;
        Ok(pki)
    }

    /// The CSCA signing key, to issue a document-signer certificate for an HSM key.
    pub fn csca_signing_key(&self) -> Result<SigningKey, PkiError> {
        let path = self.csca_key();
        let pem = std::fs::read_to_string(&path).map_err(|e| PkiError::File {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        SigningKey::from_pkcs8_pem(&pem).map_err(|e| PkiError::File {
            path,
            detail: format!("not a PKCS#8 P-256 key: {e}"),
        })
    }

    pub fn csca(&self) -> Result<Certificate, PkiError> {
        Ok(signer::read_certificate(&self.csca_cert())?)
    }
}

/// Writes a private key readable by its owner only.
fn write_key(path: &Path, key: &SigningKey) -> Result<(), PkiError> {
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(build_err)?;
    write_private(path, pem.as_bytes())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), PkiError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let err = |e: std::io::Error| PkiError::File {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    options
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(err)
}

/// Writes a certificate as PEM.
pub fn write_cert(path: &Path, cert: &Certificate) -> Result<(), PkiError> {
    let pem = cert.to_pem(LineEnding::LF).map_err(build_err)?;
    std::fs::write(path, pem).map_err(|e| PkiError::File {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}
