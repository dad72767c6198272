//! The PKCS#11 document signer on a real SoftHSM2 token (`.ci/test` prepares it): the key is
//! generated inside the token, EF.SOD signed through it verifies with our passive
//! authentication and with `openssl cms -verify`, and misconfiguration is named clearly.

mod common;

use cqcfab::chip::data_groups::{self, ChipData, FID_DG1};
use cqcfab::chip::pki::TestPki;
use cqcfab::chip::signer::{Pkcs11Location, Pkcs11Signer, SignerError};
use cqcfab::chip::sod;
use sha2::{Digest, Sha256};

fn sod_signed_in_softhsm_verifies_with_openssl_against_the_test_csca(loc: Pkcs11Location) {
    let dir = tempfile::tempdir().expect("tmp");
    let signer = common::hsm::pkcs11_signer(loc, dir.path());
    let files = data_groups::build(&ChipData::sample())
        .expect("data groups")
        .files;
    let sod_file = sod::build(&files, &signer, 1_795_000_000).expect("EF.SOD");

    let pki = TestPki::ensure(dir.path()).expect("pki");
    let ok = sod::verify(&sod_file, &files, &pki.csca().expect("csca")).expect("verifies");
    assert_eq!(ok.data_groups, vec![1, 5, 6]);

    let lds = common::hsm::openssl_cms_verify(
        &sod::content_info(&sod_file).expect("ci"),
        &pki.csca_cert(),
    );
    // The security object openssl extracted lists DG1's hash as we compute it.
    let dg1 = &files.iter().find(|f| f.0 == FID_DG1).expect("DG1").1;
    let hash = Sha256::digest(dg1);
    assert!(
        lds.windows(32).any(|w| w == &hash[..]),
        "DG1 hash not in the LDSSecurityObject"
    );
}

/// One test, in this order: PKCS#11 login is per process, so a wrong PIN is only meaningful
/// before any session of this process has logged in (tests in one binary run in parallel).
#[test]
fn the_token_signer_refuses_misconfiguration_then_signs_a_sod_openssl_accepts() {
    let Some(loc) = common::hsm::token("mismatch") else {
        return;
    };
    let sod_key = Pkcs11Location {
        key_label: format!("sod-{}", uuid::Uuid::new_v4()),
        ..loc.clone()
    };
    let dir = tempfile::tempdir().expect("tmp");
    let pki = TestPki::ensure(dir.path()).expect("pki");
    let cert = pki.csca().expect("any certificate");

    let wrong = Pkcs11Location {
        pin: "000000".into(),
        ..loc.clone()
    };
    let err = Pkcs11Signer::open(wrong, cert.clone()).expect_err("wrong PIN");
    assert!(matches!(err, SignerError::Pkcs11 { .. }), "{err}");
    assert!(err.to_string().contains("login"), "{err}");
    assert!(
        !err.to_string().contains("000000"),
        "the PIN must not appear: {err}"
    );
    assert!(
        !format!("{wrong_dbg:?}", wrong_dbg = loc).contains(&loc.pin),
        "Debug hides the PIN"
    );

    let elsewhere = Pkcs11Location {
        token: "no-such-token".into(),
        ..loc.clone()
    };
    let err = Pkcs11Signer::open(elsewhere, cert.clone()).expect_err("wrong token");
    assert!(err.to_string().contains("no-such-token"), "{err}");

    let err = Pkcs11Signer::open(loc.clone(), cert).expect_err("no such key");
    assert!(err.to_string().contains("no key labelled"), "{err}");

    cqcfab::chip::signer::pkcs11_generate(&loc).expect("key");
    let again = cqcfab::chip::signer::pkcs11_generate(&loc).expect_err("label taken");
    assert!(again.to_string().contains("already exists"), "{again}");
    // The file signer's certificate, not the token key's.
    let other = cqcfab::chip::signer::read_certificate(&pki.ds_cert()).expect("cert");
    let err = Pkcs11Signer::open(loc, other).expect_err("mismatch");
    assert!(matches!(err, SignerError::KeyMismatch), "{err}");

    sod_signed_in_softhsm_verifies_with_openssl_against_the_test_csca(sod_key);
}
