//! The manifest as another program reads it: Python's `csv` module (not our code) parses the
//! file we write, and every field comes back as meant — quoted separators and quotes intact,
//! accents intact, formula starts neutralised with an apostrophe.

use std::process::Command;

use cqcfab::post::manifest::{self, ManifestError, Row};

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Python's reading of a CSV file: one list of fields per line, header included.
fn python_reads(path: &std::path::Path) -> Vec<Vec<String>> {
    let script = "import csv, json, sys\n\
                  with open(sys.argv[1], newline='', encoding='utf-8') as f:\n\
                  \x20   print(json.dumps(list(csv.reader(f, strict=True))))\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn python_reads_back_every_field_of_a_tricky_manifest() {
    let dupont = lines(&[
        "DUPONT, JEAN",
        "RESIDENCE \"LES PINS\", BAT A",
        "12 RUE DE L'ÉGLISE",
        "69003 LYON CEDEX 03",
    ]);
    let hostile = lines(&[
        "=HYPERLINK(\"http://x\",\"clic\")",
        "-12 RUE",
        "+33 ETAGE",
        "@SOMME(A1)",
        "ŒUVRE D'ÉCOLE, 5 RUE ŒSTERLÉ",
        "13001 MARSEILLE",
    ]);
    let munich = lines(&[
        "FRAU ANNA MÜLLER",
        "WOHNUNG 12",
        "HAUS B",
        "LINDENALLEE 7",
        "POSTFACH 1234",
        "80331 MUNCHEN",
        "ALLEMAGNE",
    ]);
    let city = |a: &[String], postcode, country| manifest::city_of(a, postcode, country);
    let (c1, c2, c3) = (
        city(&dupont, "69003", "FR"),
        city(&hostile, "13001", "FR"),
        city(&munich, "80331", "DE"),
    );
    let rows = [
        Row {
            sequence: 1,
            piece_id: "LA471108151FR",
            product: "lettre-suivie",
            address: &dupont,
            postcode: "69003",
            city: &c1,
            country: "FR",
            weight_g: 21,
        },
        Row {
            sequence: 2,
            piece_id: "LA471108165FR",
            product: "lettre-suivie",
            address: &hostile,
            postcode: "13001",
            city: &c2,
            country: "FR",
            weight_g: 22,
        },
        Row {
            sequence: 3,
            piece_id: "LA471108179FR",
            product: "lettre-suivie",
            address: &munich,
            postcode: "80331",
            city: &c3,
            country: "DE",
            weight_g: 25,
        },
    ];
    let bytes = manifest::write("20261127-lettre-suivie-001", &rows).expect("manifest");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("20261127-lettre-suivie-001.csv");
    std::fs::write(&path, &bytes).unwrap();

    let read = python_reads(&path);
    let b = "20261127-lettre-suivie-001";
    let want: Vec<Vec<&str>> = vec![
        manifest::COLUMNS.to_vec(),
        vec![
            b,
            "1",
            "LA471108151FR",
            "lettre-suivie",
            "DUPONT, JEAN",
            "RESIDENCE \"LES PINS\", BAT A",
            "12 RUE DE L'ÉGLISE",
            "69003 LYON CEDEX 03",
            "",
            "",
            "",
            "69003",
            "LYON CEDEX 03",
            "FR",
            "21",
        ],
        vec![
            b,
            "2",
            "LA471108165FR",
            "lettre-suivie",
            "'=HYPERLINK(\"http://x\",\"clic\")",
            "'-12 RUE",
            "'+33 ETAGE",
            "'@SOMME(A1)",
            "ŒUVRE D'ÉCOLE, 5 RUE ŒSTERLÉ",
            "13001 MARSEILLE",
            "",
            "13001",
            "MARSEILLE",
            "FR",
            "22",
        ],
        vec![
            b,
            "3",
            "LA471108179FR",
            "lettre-suivie",
            "FRAU ANNA MÜLLER",
            "WOHNUNG 12",
            "HAUS B",
            "LINDENALLEE 7",
            "POSTFACH 1234",
            "80331 MUNCHEN",
            "ALLEMAGNE",
            "80331",
            "MUNCHEN",
            "DE",
            "25",
        ],
    ];
    assert_eq!(read, want);

    // The totals file ties itself to these bytes, and Python reads it too.
    let sha = manifest::sha256(&bytes);
    let totals = manifest::totals(&rows);
    let tpath = dir.path().join("20261127-lettre-suivie-001.totals.csv");
    std::fs::write(
        &tpath,
        manifest::totals_csv(b, &totals, &sha).expect("totals"),
    )
    .unwrap();
    assert_eq!(
        python_reads(&tpath),
        vec![
            manifest::TOTALS_COLUMNS.to_vec(),
            vec![b, "lettre-suivie", "3", "68", &sha],
            vec![b, "TOTAL", "3", "68", &sha],
        ]
    );
}

/// A line break inside an address line would split one piece over two lines for any reader
/// that goes line by line: refused, naming the piece, its sequence and the column.
#[test]
fn a_line_break_inside_an_address_line_is_refused_by_row() {
    let ok = lines(&["JEAN DUPONT", "75011 PARIS"]);
    let broken = lines(&["JEAN DUPONT", "12 RUE\nDES LILAS", "75011 PARIS"]);
    let row = |sequence, piece_id, address| Row {
        sequence,
        piece_id,
        product: "lettre-suivie",
        address,
        postcode: "75011",
        city: "PARIS",
        country: "FR",
        weight_g: 21,
    };
    let e = manifest::write(
        "20261127-lettre-suivie-001",
        &[
            row(1, "LA471108151FR", &ok),
            row(2, "LA471108165FR", &broken),
        ],
    )
    .unwrap_err();
    assert!(
        matches!(e, ManifestError::LineBreak { sequence: 2, .. }),
        "{e}"
    );
    assert_eq!(
        e.to_string(),
        "manifest of batch 20261127-lettre-suivie-001: piece LA471108165FR (sequence 2): \
         address_2 holds a line break"
    );
}
