//! The SoftHSM2 token `.ci/test` prepares (`start_softhsm` in `.ci/lib.sh`), and signers on it.

use std::path::{Path, PathBuf};

use cqcfab::chip::pki::{self, TestPki};
use cqcfab::chip::signer::{self, DocumentSigner, FileSigner, Pkcs11Location, Pkcs11Signer};

/// The token's location with a fresh key label, or None (after saying so) when no token was
/// prepared. With CQCFAB_REQUIRE_PKCS11=1 (CI) a missing token fails the test.
pub fn token(label: &str) -> Option<Pkcs11Location> {
    let module = std::env::var_os("CQCFAB_TEST_PKCS11_MODULE").map(PathBuf::from);
    let token = std::env::var("CQCFAB_TEST_PKCS11_TOKEN").ok();
    let pin = std::env::var("CQCFAB_PKCS11_PIN").ok();
    match (module, token, pin) {
        (Some(module), Some(token), Some(pin)) => Some(Pkcs11Location {
            module,
            token,
            key_label: format!("{label}-{}", uuid::Uuid::new_v4()),
            pin,
        }),
        _ => {
            assert!(
                std::env::var_os("CQCFAB_REQUIRE_PKCS11").is_none(),
                "CQCFAB_REQUIRE_PKCS11 is set but no SoftHSM2 token was prepared"
            );
            eprintln!("SKIPPED: no SoftHSM2 token; run .ci/test to prepare one");
            None
        }
    }
}

/// A document signer whose key is generated inside the token, certified by the test CSCA in
/// `pki_dir`.
pub fn pkcs11_signer(loc: Pkcs11Location, pki_dir: &Path) -> Pkcs11Signer {
    let pki = TestPki::ensure(pki_dir).expect("test PKI");
    let point = signer::pkcs11_generate(&loc).expect("key pair generated in the token");
    let cert = pki::issue_document_signer(
        &pki.csca_signing_key().expect("CSCA key"),
        &pki.csca().expect("CSCA"),
        &point,
        pki::DS_NAME,
    )
    .expect("document-signer certificate");
    Pkcs11Signer::open(loc, cert).expect("signer on the token")
}

/// The SoftHSM signer when a token is there, else the file signer of the test PKI.
pub fn any_signer(pki_dir: &Path) -> Box<dyn DocumentSigner> {
    match token("e2e") {
        Some(loc) => Box::new(pkcs11_signer(loc, pki_dir)),
        None => {
            let pki = TestPki::ensure(pki_dir).expect("test PKI");
            Box::new(FileSigner::open(&pki.ds_key(), &pki.ds_cert()).expect("file signer"))
        }
    }
}

/// `openssl cms -verify` of a CMS ContentInfo against the CSCA: returns the eContent.
pub fn openssl_cms_verify(content_info: &[u8], csca_pem: &Path) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tmp");
    let input = dir.path().join("sod.der");
    let output = dir.path().join("lds.der");
    std::fs::write(&input, content_info).expect("write");
    let out = std::process::Command::new("openssl")
        .args(["cms", "-verify", "-inform", "DER", "-purpose", "any", "-in"])
        .arg(&input)
        .arg("-CAfile")
        .arg(csca_pem)
        .arg("-out")
        .arg(&output)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl cms -verify refused EF.SOD: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&output).expect("eContent")
}
