//! The `cqcfab` binary as a child process of a test: nothing taken from the caller's
//! configuration or environment, the tests' portal token, info logs.

use std::process::Command;

/// Variables of the caller that would change what a child `cqcfab` does: its configuration,
/// the drills' hooks, the pcscd socket of another test.
const FOREIGN: [&str; 10] = [
    "CQCFAB_CONFIG",
    "CQCFAB_DATA",
    "CQCFAB_DATABASE_URL",
    "CQCFAB_LISTEN",
    "CQCFAB_WEBHOOK_URL",
    "CQCFAB_WEBHOOK_SECRET",
    "CQCFAB_STATION_TOKENS",
    "CQCFAB_PERSO_MASTER_KEY",
    "CQCFAB_DRILL_CLOSE_PAUSE_MS",
    "PCSCLITE_CSOCK_NAME",
];

/// Clears the caller's configuration from `c`; sets the tests' portal token and info logs.
pub fn isolate(c: &mut Command) -> &mut Command {
    for var in FOREIGN {
        c.env_remove(var);
    }
    c.env("CQCFAB_LOG", "info")
        .env("CQCFAB_PORTAL_TOKEN", super::http::TOKEN)
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}
