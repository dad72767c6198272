//! Configuration: built-in defaults, then a TOML file, then environment variables, then flags.
//!
//! Flags and environment variables are read by clap (each flag names its variable in
//! `--help`); this module merges them over the file. Secrets (the portal token, database
//! passwords inside URLs) are never printed: [`Config::describe`] redacts them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::store::Location;

/// The data folder when nothing says otherwise.
pub const DEFAULT_DATA_DIR: &str = "./cqcfab-data";
/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "cqcfab.toml";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The file's shape. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub portal_token: Option<String>,
    pub log: Option<String>,
    /// Issuing authority printed in field 4c.
    pub authority: Option<String>,
    /// The chip: document signer and personalisation keys.
    #[serde(default)]
    pub chip: ChipConfig,
    /// `[stations]`: station name = bearer token, for the stations that call the service
    /// (the mailroom). Prefer `CQCFAB_STATION_TOKENS` for the secrets.
    #[serde(default)]
    pub stations: std::collections::BTreeMap<String, String>,
    /// `[returns]`: returned mail.
    #[serde(default)]
    pub returns: ReturnsConfig,
    /// `[retention]`: when delivery is presumed and personal data purged.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// `[webhook]`: where the portal's events go (docs/portal-events.md).
    #[serde(default)]
    pub webhook: WebhookConfig,
    /// `[console]`: the web console (docs/console.md).
    #[serde(default)]
    pub console: ConsoleConfig,
    /// `[post]`: postal products and their S10 service indicators (docs/post.md).
    #[serde(default)]
    pub post: PostConfig,
    /// `[certificate]`: the certificate of qualification (docs/certificate.md).
    #[serde(default)]
    pub certificate: CertificateConfig,
}

/// `[post]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostConfig {
    /// `[post.products."NAME"]`: `service` (two letters) and, for a product not built in,
    /// `class`.
    #[serde(default)]
    pub products: std::collections::BTreeMap<String, crate::post::product::ProductConfig>,
}

/// `[certificate]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    /// The company that establishes the certificates and makes them available (arrêté du
    /// 18 janvier 2022, annex 1 b): printed on every certificate [default: the bureau's name].
    pub issuer: Option<String>,
}

/// `[console]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// `Secure` session cookies [default: true]. Browsers accept them from https and from
    /// http://localhost; turn off only for a plain-HTTP test bench reached by another name.
    pub secure_cookies: Option<bool>,
}

/// `[webhook]`; the secret comes from `CQCFAB_WEBHOOK_SECRET` (or `secret` here).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The portal's webhook URL (http or https); `CQCFAB_WEBHOOK_URL` overrides it.
    pub url: Option<String>,
    pub secret: Option<String>,
    /// Attempts before an event is set aside as dead [default: 20, about 14 hours].
    pub max_attempts: Option<i64>,
    /// Extra CA certificates (PEM) trusted for an https webhook.
    pub ca_file: Option<PathBuf>,
}

/// The webhook settings in force.
#[derive(Clone)]
pub struct WebhookSettings {
    pub url: String,
    pub secret: String,
    pub max_attempts: i64,
    pub ca_file: Option<PathBuf>,
}

/// Attempts before an event is dead when nothing is configured.
pub const DEFAULT_WEBHOOK_ATTEMPTS: i64 = 20;

/// `[retention]` (docs/retention.md).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days after hand-over without a return before delivery is presumed [default: 21].
    pub presume_delivered_days: Option<u32>,
    /// Days after a card's last state of custody before its personal data is purged
    /// [default: 90].
    pub purge_after_days: Option<u32>,
}

/// `[returns]`: how long a returned card waits for its holder.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnsConfig {
    /// Days the holder has to answer (resend or readdress) before the card goes to
    /// destruction [default: 90].
    pub decision_days: Option<u32>,
}

/// Days a returned card waits for its holder's decision when nothing is configured.
pub const DEFAULT_DECISION_DAYS: u32 = 90;

/// `[chip]`: who signs EF.SOD, and the test PKI's place. The HSM PIN comes only from the
/// environment (`CQCFAB_PKCS11_PIN`), the personalisation master key from
/// `CQCFAB_PERSO_MASTER_KEY` (hex) or, for development, the built-in test key.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChipConfig {
    /// "file" (development; the default) or "pkcs11".
    pub signer: Option<String>,
    /// Folder of the test PKI (csca.pem, ds.pem, ds.key.pem); created when missing and the
    /// file signer is used. Default: `<data_dir>/pki`.
    pub pki_dir: Option<PathBuf>,
    /// The CSCA certificate passive authentication trusts. Default: the test PKI's.
    pub csca_cert: Option<PathBuf>,
    /// Document-signer certificate of the PKCS#11 key.
    pub ds_cert: Option<PathBuf>,
    pub pkcs11_module: Option<PathBuf>,
    pub pkcs11_token: Option<String>,
    pub pkcs11_key_label: Option<String>,
}

/// Values that came from flags or environment variables (clap fills these).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub portal_token: Option<String>,
    /// `CQCFAB_STATION_TOKENS`: `name=token` pairs separated by commas.
    pub station_tokens: Option<String>,
    /// `CQCFAB_WEBHOOK_URL` and `CQCFAB_WEBHOOK_SECRET`.
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    pub log: Option<String>,
}

/// The merged configuration.
#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub listen: SocketAddr,
    pub portal_token: Option<String>,
    pub log: String,
    /// Issuing authority printed in field 4c of every card.
    pub authority: String,
    pub chip: ChipConfig,
    /// Station name and bearer token of every station allowed to call the service.
    pub stations: Vec<(String, String)>,
    /// Days a returned card waits for its holder's decision.
    pub decision_days: u32,
    /// When delivery is presumed and personal data purged.
    pub retention: crate::store::retention::Retention,
    /// Where the portal's events go; `None`: they wait in the outbox.
    pub webhook: Option<WebhookSettings>,
    /// The web console's settings.
    pub console: crate::console::ConsoleSettings,
    /// The postal products and the S10 service indicator of each.
    pub products: crate::post::product::Catalogue,
    /// Who establishes the certificates of qualification (printed on them).
    pub certificate_issuer: String,
    /// The file that was read, if any.
    pub source: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "a webhook URL is set but no secret: set CQCFAB_WEBHOOK_SECRET (events are never sent unsigned)"
    )]
    WebhookSecret,
    #[error("listen address {value:?} is not ADDRESS:PORT (e.g. 127.0.0.1:8080)")]
    Listen { value: String },
    #[error(
        "station token {which} is not name=token (names are letters, digits, '-' and '_'; \
         tokens at least 16 characters)"
    )]
    StationToken { which: String },
    #[error("[post.products]: {0}")]
    Product(#[from] crate::post::product::ProductError),
}

impl Config {
    /// Loads the file (the one given, or `./cqcfab.toml` when present) and applies overrides.
    pub fn load(o: &Overrides) -> Result<Config, ConfigError> {
        let (file, source) = match &o.config {
            Some(path) => (read_file(path)?, Some(path.clone())),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                let p = PathBuf::from(DEFAULT_CONFIG_FILE);
                (read_file(&p)?, Some(p))
            }
            None => (FileConfig::default(), None),
        };
        let listen_text = o
            .listen
            .clone()
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen = listen_text
            .parse()
            .map_err(|_| ConfigError::Listen { value: listen_text })?;
        Ok(Config {
            data_dir: o
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            database_url: o
                .database_url
                .clone()
                .or(file.database_url)
                .filter(|u| !u.trim().is_empty()),
            listen,
            portal_token: o
                .portal_token
                .clone()
                .or(file.portal_token)
                .filter(|t| !t.is_empty()),
            log: o
                .log
                .clone()
                .or(file.log)
                .unwrap_or_else(|| "info".to_string()),
            authority: file
                .authority
                .filter(|a| !a.trim().is_empty())
                .unwrap_or_else(|| crate::render::card_data::DEFAULT_AUTHORITY.to_string()),
            chip: file.chip,
            stations: stations(o.station_tokens.as_deref(), file.stations)?,
            decision_days: file.returns.decision_days.unwrap_or(DEFAULT_DECISION_DAYS),
            retention: {
                let d = crate::store::retention::Retention::default();
                crate::store::retention::Retention {
                    presume_delivered_days: file
                        .retention
                        .presume_delivered_days
                        .unwrap_or(d.presume_delivered_days),
                    purge_after_days: file
                        .retention
                        .purge_after_days
                        .unwrap_or(d.purge_after_days),
                }
            },
            webhook: {
                let w = file.webhook;
                match (
                    o.webhook_url
                        .clone()
                        .or(w.url)
                        .filter(|u| !u.trim().is_empty()),
                    o.webhook_secret.clone().or(w.secret),
                ) {
                    (None, _) => None,
                    (Some(_), None) => return Err(ConfigError::WebhookSecret),
                    (Some(url), Some(secret)) => Some(WebhookSettings {
                        url,
                        secret,
                        max_attempts: w.max_attempts.unwrap_or(DEFAULT_WEBHOOK_ATTEMPTS),
                        ca_file: w.ca_file,
                    }),
                }
            },
            console: crate::console::ConsoleSettings {
                secure_cookies: file.console.secure_cookies.unwrap_or(true),
            },
            products: crate::post::product::Catalogue::new(&file.post.products)?,
            certificate_issuer: file
                .certificate
                .issuer
                .map(|i| i.trim().to_string())
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| crate::certificate::DEFAULT_ISSUER.to_string()),
            source,
        })
    }

    /// The test PKI's folder.
    pub fn pki_dir(&self) -> PathBuf {
        self.chip
            .pki_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("pki"))
    }

    pub fn location(&self) -> Location {
        Location::resolve(&self.data_dir, self.database_url.as_deref())
    }

    /// One line per setting, secrets redacted.
    pub fn describe(&self) -> String {
        format!(
            "config file: {}\ndata folder: {}\ndatabase: {}\nlisten: {}\nportal token: {}",
            self.source
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(none)".into()),
            self.data_dir.display(),
            self.location().describe(),
            self.listen,
            if self.portal_token.is_some() {
                "set"
            } else {
                "not set"
            },
        )
    }
}

/// The stations of the file, overridden name by name by `CQCFAB_STATION_TOKENS`.
fn stations(
    env: Option<&str>,
    file: std::collections::BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut all = file;
    for (i, entry) in env
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .enumerate()
    {
        let (name, token) = entry
            .split_once('=')
            .ok_or_else(|| ConfigError::StationToken {
                which: format!("number {} of CQCFAB_STATION_TOKENS", i + 1),
            })?;
        all.insert(name.trim().to_string(), token.trim().to_string());
    }
    let valid = |name: &str, token: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && token.len() >= 16
    };
    if let Some((name, _)) = all.iter().find(|(n, t)| !valid(n, t)) {
        return Err(ConfigError::StationToken {
            which: format!("{name:?}"),
        });
    }
    Ok(all.into_iter().collect())
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_win_over_the_file_and_the_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "data_dir = \"/from/file\"\nlisten = \"0.0.0.0:9000\"\nportal_token = \"t\"\n",
        )
        .unwrap();
        let c = Config::load(&Overrides {
            config: Some(file.clone()),
            data_dir: Some("/from/flag".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.portal_token.as_deref(), Some("t"));
        assert!(!c.describe().contains("\"t\""));
    }

    #[test]
    fn postal_products_and_the_certificate_issuer_come_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        let load = |text: &str| {
            std::fs::write(&file, text).unwrap();
            Config::load(&Overrides {
                config: Some(file.clone()),
                ..Default::default()
            })
        };
        let c = load("").unwrap();
        assert_eq!(c.products, crate::post::product::Catalogue::default());
        assert_eq!(c.certificate_issuer, crate::certificate::DEFAULT_ISSUER);
        let c = load(
            "[post.products.lettre-suivie]\nservice = \"LK\"\n\
             [certificate]\nissuer = \" Société des cartes \"\n",
        )
        .unwrap();
        let suivie = c.products.get("lettre-suivie").unwrap();
        assert_eq!(suivie.service().as_str(), "LK");
        assert_eq!(c.certificate_issuer, "Société des cartes");
        let e = load("[post.products.lettre-suivie]\nservice = \"EE\"\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("service indicator EE does not fit product lettre-suivie"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_key_in_the_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "data_dri = \"x\"\n").unwrap();
        let e = Config::load(&Overrides {
            config: Some(file),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("data_dri"), "{e}");
    }

    #[test]
    fn station_tokens_merge_file_and_environment_and_bad_ones_are_named_not_shown() {
        let mut file = std::collections::BTreeMap::new();
        file.insert("mailroom-1".to_string(), "f".repeat(20));
        file.insert("quality-1".to_string(), "q".repeat(20));
        let all = stations(
            Some(&format!(
                " mailroom-1={} , mailroom-2={}",
                "e".repeat(16),
                "z".repeat(16)
            )),
            file,
        )
        .unwrap();
        assert_eq!(
            all,
            vec![
                ("mailroom-1".to_string(), "e".repeat(16)),
                ("mailroom-2".to_string(), "z".repeat(16)),
                ("quality-1".to_string(), "q".repeat(20)),
            ]
        );
        let e = stations(Some("mailroom-1"), Default::default()).unwrap_err();
        assert!(e.to_string().contains("number 1"), "{e}");
        let e = stations(Some("mailroom 1=short-secret"), Default::default()).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("\"mailroom 1\""), "{text}");
        assert!(
            !text.contains("short-secret"),
            "a token never appears: {text}"
        );
    }
}
