//! Console users, on both backends: added by an admin with an argon2id hash (never the
//! password), sign-ins checked, failures audited and locked out, unknown names answered like
//! wrong passwords, disabled users refused; the `cqcfab user` commands through the binary.

mod common;

use common::TestDb;
use cqcfab::clock::Clock;
use cqcfab::domain::role::Role;
use cqcfab::store::users::{LoginError, UserError};
use time::macros::date;

fn clock() -> Clock {
    Clock::fixed_on(date!(2026 - 11 - 27))
}

on_both_backends!(clock();
    users_sign_in_and_failures_lock_them_out,
    the_user_commands_work_through_the_binary,
);

const PASSWORD: &str = "correct horse battery staple";

async fn users_sign_in_and_failures_lock_them_out(db: &TestDb) {
    let s = &db.store;
    let lea = s
        .add_user("Lea", "Léa Martin", Role::Supervisor, PASSWORD, "admin")
        .await
        .unwrap();
    assert_eq!(lea.username, "lea", "usernames are lower case");
    assert!(matches!(
        s.add_user("lea", "Other", Role::Quality, PASSWORD, "admin")
            .await,
        Err(UserError::Exists(_))
    ));
    assert!(matches!(
        s.add_user("x", "X", Role::Quality, PASSWORD, "admin").await,
        Err(UserError::BadUsername(_))
    ));
    assert!(matches!(
        s.add_user("nadia", "Nadia", Role::Mailroom, "short", "admin")
            .await,
        Err(UserError::WeakPassword)
    ));
    // The hash is argon2id and never the password; the database refuses anything else.
    assert_eq!(s.users().await.unwrap().len(), 1);
    let hash = stored_hash(db).await;
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
    assert!(
        db.exec(
            "UPDATE users SET password_hash = $1 WHERE username = 'lea'",
            &[PASSWORD]
        )
        .await
        .is_err()
    );

    let ok = s.authenticate("LEA", PASSWORD).await.unwrap().unwrap();
    assert_eq!(
        (ok.role, ok.display_name.as_str()),
        (Role::Supervisor, "Léa Martin")
    );
    // Unknown names and wrong passwords get the same answer.
    assert_eq!(
        s.authenticate("nobody", PASSWORD).await.unwrap(),
        Err(LoginError::Wrong)
    );
    for _ in 0..4 {
        assert_eq!(
            s.authenticate("lea", "wrong password!").await.unwrap(),
            Err(LoginError::Wrong)
        );
    }
    // The fifth failure locks the account; even the right password waits.
    assert!(matches!(
        s.authenticate("lea", "wrong password!").await.unwrap(),
        Err(LoginError::Locked { .. })
    ));
    assert!(matches!(
        s.authenticate("lea", PASSWORD).await.unwrap(),
        Err(LoginError::Locked { .. })
    ));
    db.store.clock().advance(time::Duration::minutes(16));
    assert!(s.authenticate("lea", PASSWORD).await.unwrap().is_ok());
    let failed = s
        .audit_history("user", "lea")
        .await
        .unwrap()
        .iter()
        .filter(|r| r.action == "user.login_failed")
        .count();
    assert_eq!(failed, 6, "five wrong passwords and one try while locked");
    assert!(
        s.audit_history("user", "lea")
            .await
            .unwrap()
            .iter()
            .all(|r| !format!("{r:?}").contains("wrong password!")),
        "a password never reaches the audit trail"
    );

    s.disable_user("lea", "admin").await.unwrap();
    assert_eq!(
        s.authenticate("lea", PASSWORD).await.unwrap(),
        Err(LoginError::Disabled)
    );
    assert!(matches!(
        s.disable_user("lea", "admin").await,
        Err(UserError::Unknown(_))
    ));
    let audit = s.verify_audit().await.unwrap();
    assert!(audit.is_intact(), "{audit:?}");
}

async fn stored_hash(db: &TestDb) -> String {
    use cqcfab::store::Tx;
    let mut tx = db.store.begin().await.unwrap();
    let (h,): (String,) = match &mut tx {
        Tx::Sqlite(t) => sqlx::query_as("SELECT password_hash FROM users WHERE username = 'lea'")
            .fetch_one(&mut **t)
            .await
            .unwrap(),
        Tx::Postgres(t) => sqlx::query_as("SELECT password_hash FROM users WHERE username = 'lea'")
            .fetch_one(&mut **t)
            .await
            .unwrap(),
    };
    h
}

async fn the_user_commands_work_through_the_binary(db: &TestDb) {
    let cqcfab = |args: &[&str], password: Option<&str>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cqcfab"));
        c.args(db.cli_args()).args(args);
        match password {
            Some(p) => c.env("CQCFAB_NEW_PASSWORD", p),
            None => c.env_remove("CQCFAB_NEW_PASSWORD"),
        };
        c.output().unwrap()
    };
    let out = cqcfab(
        &[
            "user",
            "add",
            "inès",
            "--role",
            "quality",
            "--display",
            "Inès",
            "--by",
            "admin",
        ],
        Some(PASSWORD),
    );
    assert!(!out.status.success(), "not a valid username");
    let out = cqcfab(
        &[
            "user",
            "add",
            "ines",
            "--role",
            "quality",
            "--display",
            "Inès Roy",
            "--by",
            "admin",
        ],
        Some(PASSWORD),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cqcfab(
        &[
            "user",
            "add",
            "marc",
            "--role",
            "chief",
            "--display",
            "Marc",
            "--by",
            "admin",
        ],
        Some(PASSWORD),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("one of operator, mailroom"), "{err}");
    let out = cqcfab(&["user", "disable", "ines", "--by", "admin"], None);
    assert!(out.status.success());
    let out = cqcfab(&["user", "list"], None);
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.contains("ines") && list.contains("quality") && list.contains("(disabled)"),
        "{list}"
    );
    assert!(!list.contains("argon2"), "{list}");
}
