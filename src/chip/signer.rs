//! Document signers: whoever holds the private key that signs EF.SOD.
//!
//! The key never leaves its holder and is never logged: a [`FileSigner`] keeps it in memory
//! (development and CI only), a [`Pkcs11Signer`] asks the HSM to sign (SoftHSM2 in CI, a real
//! HSM in production). Both sign the SHA-256 digest of the CMS signed attributes with ECDSA
//! P-256 and publish the document-signer certificate that goes into EF.SOD.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use der::{Decode, DecodePem};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use x509_cert::Certificate;

/// DER of the named curve prime256v1 (1.2.840.10045.3.1.7), as PKCS#11 wants it in CKA_EC_PARAMS.
pub const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// Why a signer could not be opened or could not sign.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("{path}: {detail}")]
    File { path: PathBuf, detail: String },
    #[error("PKCS#11 module {module}: {detail}")]
    Pkcs11 { module: PathBuf, detail: String },
    #[error("the HSM refused to sign: {0}")]
    Sign(String),
    #[error("the document-signer certificate does not hold the signing key's public key")]
    KeyMismatch,
}

/// Signs EF.SOD's signed attributes.
pub trait DocumentSigner: Send + Sync {
    /// The document-signer certificate embedded in EF.SOD.
    fn certificate(&self) -> &Certificate;
    /// ECDSA P-256 over a SHA-256 digest computed by the caller.
    fn sign_digest(&self, digest: &[u8; 32]) -> Result<Signature, SignerError>;
    /// Where the key lives, for logs and reports (never the key itself).
    fn describe(&self) -> String;
}

/// A PEM certificate from a file.
pub fn read_certificate(path: &Path) -> Result<Certificate, SignerError> {
    let text = std::fs::read_to_string(path).map_err(|e| SignerError::File {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    Certificate::from_pem(text.as_bytes())
        .or_else(|_| Certificate::from_der(text.as_bytes()))
        .map_err(|e| SignerError::File {
            path: path.to_path_buf(),
            detail: format!("not a PEM certificate: {e}"),
        })
}

/// The P-256 public point of a certificate (SEC1 uncompressed).
pub fn certificate_point(cert: &Certificate) -> &[u8] {
    cert.tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
}

/// The development signer: a PKCS#8 key file next to its certificate.
pub struct FileSigner {
    key: SigningKey,
    cert: Certificate,
    path: PathBuf,
}

impl fmt::Debug for FileSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is deliberately not shown.
        write!(f, "FileSigner({})", self.path.display())
    }
}

impl FileSigner {
    pub fn open(key_path: &Path, cert_path: &Path) -> Result<Self, SignerError> {
        let pem = std::fs::read_to_string(key_path).map_err(|e| SignerError::File {
            path: key_path.to_path_buf(),
            detail: e.to_string(),
        })?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| SignerError::File {
            path: key_path.to_path_buf(),
            detail: format!("not a PKCS#8 P-256 key: {e}"),
        })?;
        Self::from_parts(key, read_certificate(cert_path)?, key_path.to_path_buf())
    }

    pub fn from_parts(
        key: SigningKey,
        cert: Certificate,
        path: PathBuf,
    ) -> Result<Self, SignerError> {
        let point = key.verifying_key().to_encoded_point(false);
        if point.as_bytes() != certificate_point(&cert) {
            return Err(SignerError::KeyMismatch);
        }
        Ok(Self { key, cert, path })
    }
}

impl DocumentSigner for FileSigner {
    fn certificate(&self) -> &Certificate {
        &self.cert
    }

    fn sign_digest(&self, digest: &[u8; 32]) -> Result<Signature, SignerError> {
        self.key
            .sign_prehash(digest)
            .map_err(|e| SignerError::Sign(e.to_string()))
    }

    fn describe(&self) -> String {
        format!("key file {}", self.path.display())
    }
}

/// Where a PKCS#11 key is: module, token and key label; the PIN comes from the environment.
#[derive(Clone)]
pub struct Pkcs11Location {
    pub module: PathBuf,
    pub token: String,
    pub key_label: String,
    pub pin: String,
}

impl fmt::Debug for Pkcs11Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Location")
            .field("module", &self.module)
            .field("token", &self.token)
            .field("key_label", &self.key_label)
            .field("pin", &"<hidden>")
            .finish()
    }
}

/// The process's one initialised context per module. PKCS#11 state is process-wide: a second
/// C_Initialize fails, and a context dropped (C_Finalize) closes every other user's sessions.
fn context(module: &Path) -> Result<Pkcs11, String> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut contexts = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .map_err(|_| "the PKCS#11 context table was poisoned by a panic".to_string())?;
    if let Some(ctx) = contexts.get(module) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(module).map_err(|e| format!("cannot load: {e}"))?;
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| format!("C_Initialize: {e}"))?;
    contexts.insert(module.to_path_buf(), ctx.clone());
    Ok(ctx)
}

/// A logged-in session on the token that holds `loc`.
fn open_session(loc: &Pkcs11Location, rw: bool) -> Result<Session, SignerError> {
    let err = |detail: String| SignerError::Pkcs11 {
        module: loc.module.clone(),
        detail,
    };
    let ctx = context(&loc.module).map_err(err)?;
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| err(format!("listing slots: {e}")))?;
    let slot = slots
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .map(|t| t.label().trim_end() == loc.token)
                .unwrap_or(false)
        })
        .ok_or_else(|| err(format!("no token labelled {:?}", loc.token)))?;
    let session = if rw {
        ctx.open_rw_session(slot)
    } else {
        ctx.open_ro_session(slot)
    }
    .map_err(|e| err(format!("opening a session: {e}")))?;
    // Login is per application, not per session: another session of this process may have
    // logged in already.
    match session.login(UserType::User, Some(&AuthPin::new(loc.pin.clone().into()))) {
        Ok(()) | Err(cryptoki::error::Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
            Ok(session)
        }
        Err(e) => Err(err(format!("login to token {:?}: {e}", loc.token))),
    }
}

fn find_key(
    session: &Session,
    loc: &Pkcs11Location,
    class: ObjectClass,
) -> Result<Option<ObjectHandle>, SignerError> {
    session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::Label(loc.key_label.as_bytes().to_vec()),
        ])
        .map(|v| v.into_iter().next())
        .map_err(|e| SignerError::Pkcs11 {
            module: loc.module.clone(),
            detail: format!("finding key {:?}: {e}", loc.key_label),
        })
}

/// Generates a P-256 key pair inside the token (the private key cannot be extracted) and
/// returns its public point (SEC1 uncompressed). Refuses when the label is taken.
pub fn pkcs11_generate(loc: &Pkcs11Location) -> Result<Vec<u8>, SignerError> {
    let session = open_session(loc, true)?;
    let err = |detail: String| SignerError::Pkcs11 {
        module: loc.module.clone(),
        detail,
    };
    if find_key(&session, loc, ObjectClass::PRIVATE_KEY)?.is_some() {
        return Err(err(format!(
            "a key labelled {:?} already exists",
            loc.key_label
        )));
    }
    let label = loc.key_label.as_bytes().to_vec();
    let public = [
        Attribute::Token(true),
        Attribute::Verify(true),
        Attribute::EcParams(P256_PARAMS.to_vec()),
        Attribute::Label(label.clone()),
        Attribute::Id(label.clone()),
    ];
    let private = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::KeyType(KeyType::EC),
        Attribute::Label(label.clone()),
        Attribute::Id(label),
    ];
    let (pub_handle, _) = session
        .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
        .map_err(|e| err(format!("C_GenerateKeyPair: {e}")))?;
    public_point(&session, pub_handle).map_err(err)
}

/// CKA_EC_POINT is a DER OCTET STRING around the SEC1 point: unwrap it.
fn public_point(session: &Session, handle: ObjectHandle) -> Result<Vec<u8>, String> {
    let attrs = session
        .get_attributes(handle, &[AttributeType::EcPoint])
        .map_err(|e| format!("reading CKA_EC_POINT: {e}"))?;
    let Some(Attribute::EcPoint(der)) = attrs.into_iter().next() else {
        return Err("the public key has no CKA_EC_POINT".into());
    };
    match der.as_slice() {
        [0x04, 0x41, rest @ ..] if rest.len() == 65 => Ok(rest.to_vec()),
        [0x04, ..] if der.len() == 65 => Ok(der),
        _ => Err(format!("unexpected CKA_EC_POINT of {} bytes", der.len())),
    }
}

/// The production signer: the key stays in the HSM.
pub struct Pkcs11Signer {
    session: Mutex<Session>,
    key: ObjectHandle,
    cert: Certificate,
    loc: Pkcs11Location,
}

impl fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pkcs11Signer({:?})", self.loc)
    }
}

impl Pkcs11Signer {
    /// Logs in and finds the key; refuses a certificate that is not the key's.
    pub fn open(loc: Pkcs11Location, cert: Certificate) -> Result<Self, SignerError> {
        let session = open_session(&loc, false)?;
        let missing = || SignerError::Pkcs11 {
            module: loc.module.clone(),
            detail: format!(
                "no key labelled {:?} on token {:?}",
                loc.key_label, loc.token
            ),
        };
        let key = find_key(&session, &loc, ObjectClass::PRIVATE_KEY)?.ok_or_else(missing)?;
        let public = find_key(&session, &loc, ObjectClass::PUBLIC_KEY)?.ok_or_else(missing)?;
        let point = public_point(&session, public).map_err(|detail| SignerError::Pkcs11 {
            module: loc.module.clone(),
            detail,
        })?;
        if point != certificate_point(&cert) {
            return Err(SignerError::KeyMismatch);
        }
        Ok(Self {
            session: Mutex::new(session),
            key,
            cert,
            loc,
        })
    }
}

impl DocumentSigner for Pkcs11Signer {
    fn certificate(&self) -> &Certificate {
        &self.cert
    }

    fn sign_digest(&self, digest: &[u8; 32]) -> Result<Signature, SignerError> {
        let session = self
            .session
            .lock()
            .map_err(|_| SignerError::Sign("the HSM session was poisoned by a panic".into()))?;
        let raw = session
            .sign(&Mechanism::Ecdsa, self.key, digest)
            .map_err(|e| SignerError::Sign(e.to_string()))?;
        Signature::from_slice(&raw)
            .map_err(|e| SignerError::Sign(format!("r||s of {} bytes: {e}", raw.len())))
    }

    fn describe(&self) -> String {
        format!(
            "PKCS#11 key {:?} on token {:?} ({})",
            self.loc.key_label,
            self.loc.token,
            self.loc.module.display()
        )
    }
}
