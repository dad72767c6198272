//! The soak (issue 8): 10,000 cards through the whole pipeline on the chip simulator, as the
//! binary runs it (`cqcfab demo --cards 10000`): intake, rendering, chips, letters, the
//! inserting line, batches, returned mail and the holders' answers, quality returns,
//! replacements and destructions. The run samples its own resident memory and open file
//! descriptors; this test holds it to its checks: every request one card, no job left, the
//! ledger and the audit chain verified, memory flat within each long stage, no descriptor
//! left open.
//!
//! `CQCFAB_SOAK_CARDS` sets the number of cards (10,000 by default; about six minutes in a
//! debug build on two cores, three in release with `.ci/soak`).

use std::process::Command;

use serde_json::Value;

#[test]
fn ten_thousand_cards_leave_memory_flat_and_no_descriptor_open() {
    let cards: usize = std::env::var("CQCFAB_SOAK_CARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("soak");
    let out = Command::new(env!("CARGO_BIN_EXE_cqcfab"))
        .args(["demo", "--readers", "inprocess", "--cards"])
        .arg(cards.to_string())
        .arg("--out")
        .arg(&out_dir)
        .env("CQCFAB_LOG", "error")
        .output()
        .expect("cqcfab demo");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["requests"]["created"], cards, "{text}");
    assert_eq!(summary["encode"]["personalised"], cards, "{text}");
    assert_eq!(summary["post"]["inserted"], cards, "{text}");
    let checks = summary["checks"].as_array().unwrap();
    for c in checks {
        assert_eq!(c["ok"], true, "{c}");
    }
    let what: Vec<&str> = checks.iter().map(|c| c["what"].as_str().unwrap()).collect();
    if cards >= 1000 {
        // The long run is judged: three long stages and the descriptors.
        let memory = what
            .iter()
            .filter(|w| w.starts_with("Mémoire stable"))
            .count();
        assert_eq!(memory, 3, "{what:?}");
        assert!(
            what.contains(&"Aucun descripteur de fichier perdu"),
            "{what:?}"
        );
    }
    assert!(what.contains(&"Chaîne d'audit intacte"), "{what:?}");
    assert!(
        what.contains(&"Registre des corps de carte équilibré"),
        "{what:?}"
    );
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(html.contains("Journée saine"));
}
