//! EF.SOD: the document security object (docs/chip-profile.md).
//!
//! A CMS SignedData (RFC 5652) whose eContent is an LDSSecurityObject (eContentType
//! 2.23.136.1.1.1) listing the SHA-256 of each data-group file, over the exact bytes written
//! to the chip. It is signed with ECDSA P-256 by the document signer over the DER of the signed
//! attributes (content type, message digest, signing time), and the document-signer
//! certificate travels inside. The file on the chip is that ContentInfo wrapped in tag 77.
//!
//! [`verify`] is passive authentication: the quality desk uses it to prove whether a chip still
//! holds what the bureau wrote.

use cms::cert::CertificateChoices;
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_TIME};
use const_oid::db::rfc5912::{ECDSA_WITH_SHA_256, ID_SHA_256};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence, Tag};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{DerSignature, Signature, VerifyingKey};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::time::Time;

use super::data_groups::{FID_DG1, FID_DG5, FID_DG6};
use super::signer::{DocumentSigner, SignerError, certificate_point};
use super::tlv;

/// id-icao-ldsSecurityObject.
pub const LDS_SECURITY_OBJECT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.23.136.1.1.1");

/// The tag wrapping the ContentInfo in the file.
pub const SOD_TAG: u32 = 0x77;

/// Why EF.SOD could not be made or does not verify.
#[derive(Debug, thiserror::Error)]
pub enum SodError {
    #[error("file {0:04X} is not a data group of this profile")]
    NotADataGroup(u16),
    #[error("encoding EF.SOD: {0}")]
    Encode(String),
    #[error(transparent)]
    Signer(#[from] SignerError),
    #[error("EF.SOD is malformed: {0}")]
    Malformed(String),
    #[error("EF.SOD: {0}")]
    Invalid(String),
    /// The document signer does not chain to the CSCA: not a chip this bureau signed.
    #[error("EF.SOD was signed by an unknown key: {0}")]
    UnknownSigner(String),
    #[error("DG{dg}: hash on the chip's file does not match EF.SOD")]
    HashMismatch { dg: u8 },
    #[error("DG{dg} is listed in EF.SOD but was not read")]
    Missing { dg: u8 },
}

/// One data group's hash.
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
struct DataGroupHash {
    data_group_number: u8,
    data_group_hash_value: OctetString,
}

/// ICAO Doc 9303-10 LDSSecurityObject, version 0 (no LDS version info).
#[derive(Debug, Clone, PartialEq, Eq, Sequence)]
struct LdsSecurityObject {
    version: u8,
    hash_algorithm: AlgorithmIdentifierOwned,
    data_group_hash_values: Vec<DataGroupHash>,
}

/// The data-group number of a file, per the profile's FIDs.
pub fn data_group_number(fid: u16) -> Option<u8> {
    match fid {
        FID_DG1 => Some(1),
        FID_DG5 => Some(5),
        FID_DG6 => Some(6),
        _ => None,
    }
}

fn alg(oid: ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    }
}

fn enc(e: impl std::fmt::Display) -> SodError {
    SodError::Encode(e.to_string())
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, SodError> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).map_err(enc)?,
    })
}

/// Builds EF.SOD over the data-group files among `files` (EF.COM and others are skipped),
/// signed at `signing_time` (Unix seconds).
pub fn build(
    files: &[(u16, Vec<u8>)],
    signer: &dyn DocumentSigner,
    signing_time: u64,
) -> Result<Vec<u8>, SodError> {
    let mut hashes = Vec::new();
    for (fid, bytes) in files {
        if let Some(dg) = data_group_number(*fid) {
            hashes.push(DataGroupHash {
                data_group_number: dg,
                data_group_hash_value: OctetString::new(Sha256::digest(bytes).to_vec())
                    .map_err(enc)?,
            });
        }
    }
    hashes.sort_by_key(|h| h.data_group_number);
    let lds = LdsSecurityObject {
        version: 0,
        hash_algorithm: alg(ID_SHA_256),
        data_group_hash_values: hashes,
    }
    .to_der()
    .map_err(enc)?;

    let time = Time::UtcTime(
        der::asn1::UtcTime::from_unix_duration(std::time::Duration::from_secs(signing_time))
            .map_err(enc)?,
    );
    let signed_attrs = SetOfVec::try_from(vec![
        attribute(
            ID_CONTENT_TYPE,
            Any::encode_from(&LDS_SECURITY_OBJECT).map_err(enc)?,
        )?,
        attribute(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(Sha256::digest(&lds).to_vec()).map_err(enc)?)
                .map_err(enc)?,
        )?,
        attribute(ID_SIGNING_TIME, Any::encode_from(&time).map_err(enc)?)?,
    ])
    .map_err(enc)?;
    // RFC 5652 §5.4: the signature covers the attributes encoded as a SET OF (tag 31), not as
    // the [0] IMPLICIT field that carries them.
    let to_sign: [u8; 32] = Sha256::digest(signed_attrs.to_der().map_err(enc)?).into();
    let signature: DerSignature = signer.sign_digest(&to_sign)?.to_der();

    let cert = signer.certificate().clone();
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate.issuer.clone(),
            serial_number: cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: alg(ID_SHA_256),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: alg(ECDSA_WITH_SHA_256),
        signature: OctetString::new(signature.as_bytes()).map_err(enc)?,
        unsigned_attrs: None,
    };
    let signed_data = SignedData {
        // v3: the content type is not id-data (RFC 5652 §5.1).
        version: CmsVersion::V3,
        digest_algorithms: SetOfVec::try_from(vec![alg(ID_SHA_256)]).map_err(enc)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: LDS_SECURITY_OBJECT,
            econtent: Some(Any::new(Tag::OctetString, lds).map_err(enc)?),
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(vec![CertificateChoices::Certificate(cert)]).map_err(enc)?,
        )),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info]).map_err(enc)?),
    };
    let content_info = ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data).map_err(enc)?,
    }
    .to_der()
    .map_err(enc)?;
    tlv::constructed(SOD_TAG, &[content_info]).map_err(enc)
}

/// The CMS ContentInfo inside the EF.SOD file (for `openssl cms`).
pub fn content_info(sod_file: &[u8]) -> Result<Vec<u8>, SodError> {
    tlv::outer_value(sod_file, SOD_TAG)
        .map(<[u8]>::to_vec)
        .map_err(|e| SodError::Malformed(format!("file wrapper (tag 77): {e}")))
}

/// What passive authentication established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Data groups whose hash matched, in order.
    pub data_groups: Vec<u8>,
    /// The document signer's subject.
    pub signer: String,
}

fn verifying_key(cert: &Certificate) -> Result<VerifyingKey, SodError> {
    VerifyingKey::from_sec1_bytes(certificate_point(cert))
        .map_err(|e| SodError::Invalid(format!("certificate key is not P-256: {e}")))
}

/// Passive authentication: the document-signer certificate was issued by `csca`, the
/// signature covers the signed attributes, the message digest is the LDSSecurityObject's,
/// and every data group in `files` (FID, bytes read from the chip) has the hash EF.SOD lists.
pub fn verify(
    sod_file: &[u8],
    files: &[(u16, Vec<u8>)],
    csca: &Certificate,
) -> Result<Verified, SodError> {
    let bad = |e: der::Error| SodError::Malformed(e.to_string());
    let ci = ContentInfo::from_der(&content_info(sod_file)?).map_err(bad)?;
    if ci.content_type != ID_SIGNED_DATA {
        return Err(SodError::Invalid(format!(
            "content type {}",
            ci.content_type
        )));
    }
    let sd: SignedData = ci.content.decode_as().map_err(bad)?;
    if sd.encap_content_info.econtent_type != LDS_SECURITY_OBJECT {
        return Err(SodError::Invalid(format!(
            "eContentType {}",
            sd.encap_content_info.econtent_type
        )));
    }
    let lds_bytes = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| SodError::Invalid("no eContent".into()))?
        .decode_as::<OctetString>()
        .map_err(bad)?
        .into_bytes();
    let cert = match sd.certificates.as_ref().and_then(|c| c.0.iter().next()) {
        Some(CertificateChoices::Certificate(c)) => c.clone(),
        _ => return Err(SodError::Invalid("no document-signer certificate".into())),
    };
    // The certificate chain: the CSCA signed the document signer's certificate.
    if cert.tbs_certificate.issuer != csca.tbs_certificate.subject {
        return Err(SodError::UnknownSigner(format!(
            "document signer issued by {}, not by {}",
            cert.tbs_certificate.issuer, csca.tbs_certificate.subject
        )));
    }
    let tbs = cert.tbs_certificate.to_der().map_err(bad)?;
    let cert_sig = Signature::from_der(cert.signature.raw_bytes())
        .map_err(|e| SodError::Invalid(format!("certificate signature: {e}")))?;
    verifying_key(csca)?
        .verify_prehash(&Sha256::digest(&tbs), &cert_sig)
        .map_err(|_| {
            SodError::UnknownSigner("the CSCA did not sign the document-signer certificate".into())
        })?;

    let si = sd
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or_else(|| SodError::Invalid("no signer info".into()))?;
    if si.signature_algorithm.oid != ECDSA_WITH_SHA_256 || si.digest_alg.oid != ID_SHA_256 {
        return Err(SodError::Invalid(
            "signature algorithm is not ecdsa-with-SHA256".into(),
        ));
    }
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| SodError::Invalid("no signed attributes".into()))?;
    let digest = attrs
        .iter()
        .find(|a| a.oid == ID_MESSAGE_DIGEST)
        .and_then(|a| a.values.iter().next())
        .ok_or_else(|| SodError::Invalid("no message digest".into()))?
        .decode_as::<OctetString>()
        .map_err(bad)?;
    if digest.as_bytes() != &Sha256::digest(&lds_bytes)[..] {
        return Err(SodError::Invalid(
            "message digest does not match the security object".into(),
        ));
    }
    let sig = Signature::from_der(si.signature.as_bytes())
        .map_err(|e| SodError::Invalid(format!("signature: {e}")))?;
    verifying_key(&cert)?
        .verify_prehash(&Sha256::digest(attrs.to_der().map_err(bad)?), &sig)
        .map_err(|_| SodError::Invalid("the signature does not verify".into()))?;

    let lds = LdsSecurityObject::from_der(&lds_bytes).map_err(bad)?;
    if lds.hash_algorithm.oid != ID_SHA_256 {
        return Err(SodError::Invalid(format!(
            "hash algorithm {}",
            lds.hash_algorithm.oid
        )));
    }
    let mut matched = Vec::new();
    for h in &lds.data_group_hash_values {
        let dg = h.data_group_number;
        let (_, bytes) = files
            .iter()
            .find(|(fid, _)| data_group_number(*fid) == Some(dg))
            .ok_or(SodError::Missing { dg })?;
        if Sha256::digest(bytes)[..] != *h.data_group_hash_value.as_bytes() {
            return Err(SodError::HashMismatch { dg });
        }
        matched.push(dg);
    }
    Ok(Verified {
        data_groups: matched,
        signer: cert.tbs_certificate.subject.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chip::data_groups::{self, ChipData};
    use crate::chip::pki::TestPki;
    use crate::chip::signer::FileSigner;

    fn signer(dir: &std::path::Path) -> (FileSigner, Certificate) {
        let pki = TestPki::ensure(dir).expect("pki");
        let s = FileSigner::open(&pki.ds_key(), &pki.ds_cert()).expect("signer");
        (s, pki.csca().expect("csca"))
    }

    #[test]
    fn built_sod_verifies_and_detects_a_changed_data_group() {
        let dir = tempfile::tempdir().expect("tmp");
        let (s, csca) = signer(dir.path());
        let files = data_groups::build(&ChipData::sample()).expect("dgs").files;
        let sod = build(&files, &s, 1_790_000_000).expect("sod");
        assert_eq!(sod[0], 0x77);
        let ok = verify(&sod, &files, &csca).expect("verifies");
        assert_eq!(ok.data_groups, vec![1, 5, 6]);
        assert!(ok.signer.contains("document signer"));

        let mut changed = files.clone();
        let dg1 = changed
            .iter_mut()
            .find(|(f, _)| *f == FID_DG1)
            .expect("dg1");
        let last = dg1.1.len() - 1;
        dg1.1[last] ^= 1;
        assert!(matches!(
            verify(&sod, &changed, &csca),
            Err(SodError::HashMismatch { dg: 1 })
        ));

        let missing: Vec<_> = files
            .iter()
            .filter(|(f, _)| *f != FID_DG6)
            .cloned()
            .collect();
        assert!(matches!(
            verify(&sod, &missing, &csca),
            Err(SodError::Missing { dg: 6 })
        ));
    }

    #[test]
    fn a_signature_from_another_ca_or_a_flipped_bit_is_refused() {
        let (a, b) = (
            tempfile::tempdir().expect("a"),
            tempfile::tempdir().expect("b"),
        );
        let (s, _) = signer(a.path());
        let (_, other_csca) = signer(b.path());
        let files = data_groups::build(&ChipData::sample()).expect("dgs").files;
        let sod = build(&files, &s, 1_790_000_000).expect("sod");
        let err = verify(&sod, &files, &other_csca).expect_err("other CA");
        assert!(err.to_string().contains("CSCA"), "{err}");

        // Flip a bit inside the signature value (the last bytes of the file).
        let (_, csca) = signer(a.path());
        let mut tampered = sod.clone();
        let n = tampered.len();
        tampered[n - 3] ^= 0x01;
        assert!(verify(&tampered, &files, &csca).is_err());
    }

    #[test]
    fn a_certificate_for_another_key_is_refused_at_open() {
        let (a, b) = (
            tempfile::tempdir().expect("a"),
            tempfile::tempdir().expect("b"),
        );
        let pa = TestPki::ensure(a.path()).expect("a");
        let pb = TestPki::ensure(b.path()).expect("b");
        let err = FileSigner::open(&pa.ds_key(), &pb.ds_cert()).expect_err("mismatch");
        assert!(matches!(err, SignerError::KeyMismatch));
    }
}
