use super::*;

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn row<'a>(sequence: u32, piece_id: &'a str, address: &'a [String]) -> Row<'a> {
    Row {
        sequence,
        piece_id,
        product: "lettre-suivie",
        address,
        postcode: "69003",
        city: "LYON",
        country: "FR",
        weight_g: 21,
    }
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("utf-8")
}

#[test]
fn the_header_names_the_columns_in_order_and_missing_lines_are_empty_cells() {
    let a = lines(&["ZOLTAN KOVARI", "12 RUE DES LILAS", "69003 LYON"]);
    let out = write("20261127-lettre-suivie-001", &[row(1, "LA471108151FR", &a)]).expect("write");
    let text = text(&out);
    assert_eq!(
        text,
        "batch_id,sequence,piece_id,product,address_1,address_2,address_3,address_4,address_5,\
         address_6,address_7,postcode,city,country,weight_g\n\
         20261127-lettre-suivie-001,1,LA471108151FR,lettre-suivie,ZOLTAN KOVARI,\
         12 RUE DES LILAS,69003 LYON,,,,,69003,LYON,FR,21\n"
    );
    assert!(!out.starts_with(&[0xEF, 0xBB, 0xBF]), "no BOM");
    assert!(!out.contains(&b'\r'), "\\n line ends only");
}

#[test]
fn cells_a_spreadsheet_would_run_get_an_apostrophe() {
    let a = lines(&[
        "=HYPERLINK(\"http://x\",\"clic\")",
        "-12 rue",
        "+33 BAT A",
        "@CEDEX",
        "SAINT-ÉTIENNE",
    ]);
    let mut r = row(1, "LA471108151FR", &a);
    r.city = "=1+1";
    let out = write("B1", &[r]).expect("write");
    let mut reader = csv::ReaderBuilder::new().from_reader(out.as_slice());
    let record = reader.records().next().expect("a row").expect("parses");
    assert_eq!(&record[4], "'=HYPERLINK(\"http://x\",\"clic\")");
    assert_eq!(&record[5], "'-12 rue");
    assert_eq!(&record[6], "'+33 BAT A");
    assert_eq!(&record[7], "'@CEDEX");
    assert_eq!(&record[8], "SAINT-ÉTIENNE");
    assert_eq!(&record[12], "'=1+1");
}

#[test]
fn the_same_rows_give_the_same_bytes() {
    let a = lines(&["A", "1 RUE B, BAT \"C\"", "75011 PARIS"]);
    let rows: Vec<Row<'_>> = (1..=50).map(|i| row(i, "LA471108151FR", &a)).collect();
    let once = write("B1", &rows).expect("write");
    let twice = write("B1", &rows).expect("write");
    assert_eq!(once, twice);
    assert_eq!(sha256(&once), sha256(&twice));
}

#[test]
fn commas_and_double_quotes_are_quoted() {
    let a = lines(&["DUPONT, JEAN", "RESIDENCE \"LES PINS\"", "75011 PARIS"]);
    let out = write("B1", &[row(1, "LA471108151FR", &a)]).expect("write");
    let body = text(&out).lines().nth(1).expect("row");
    assert!(
        body.contains(",\"DUPONT, JEAN\",\"RESIDENCE \"\"LES PINS\"\"\",75011 PARIS,"),
        "{body}"
    );
}

#[test]
fn rows_the_post_could_not_read_are_refused_by_name() {
    let a = lines(&["A", "75011 PARIS"]);
    let e = write("B1", &[row(1, "EE1", &a), row(2, " ", &a)]).unwrap_err();
    assert!(
        matches!(e, ManifestError::EmptyPieceId { sequence: 2, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("sequence 2"), "{e}");

    let eight = lines(&["1", "2", "3", "4", "5", "6", "7", "8"]);
    let e = write("B1", &[row(3, "LA471108151FR", &eight)]).unwrap_err();
    assert!(
        matches!(e, ManifestError::AddressLines { lines: 8, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("LA471108151FR (sequence 3)"), "{e}");

    let e = write("B1", &[row(4, "LA471108151FR", &[])]).unwrap_err();
    assert!(
        matches!(e, ManifestError::AddressLines { lines: 0, .. }),
        "{e}"
    );

    let broken = lines(&["A", "12 RUE\nDES LILAS", "75011 PARIS"]);
    let e = write("B1", &[row(5, "LA471108151FR", &broken)]).unwrap_err();
    assert!(
        e.to_string()
            .contains("LA471108151FR (sequence 5): address_2"),
        "{e}"
    );
    let mut r = row(6, "LA471108151FR", &a);
    r.city = "PARIS\r";
    let e = write("B1", &[r]).unwrap_err();
    assert!(e.to_string().contains("city holds a line break"), "{e}");

    assert!(matches!(write(" ", &[]), Err(ManifestError::EmptyBatchId)));
    assert!(matches!(
        write("B\n1", &[]),
        Err(ManifestError::BatchIdLineBreak(_))
    ));
}

#[test]
fn the_csv_crate_reads_back_every_field() {
    let a = lines(&[
        "ANNA MÜLLER",
        "LINDENALLEE 7, HAUS \"B\"",
        "80331 MUNCHEN",
        "ALLEMAGNE",
    ]);
    let b = lines(&["ZOLTAN KOVARI", "12 RUE DES LILAS", "69003 LYON CEDEX 03"]);
    let rows = [
        Row {
            sequence: 1,
            piece_id: "LA471108151FR",
            product: "lettre-suivie",
            address: &a,
            postcode: "80331",
            city: "MUNCHEN",
            country: "DE",
            weight_g: 23,
        },
        Row {
            sequence: 2,
            piece_id: "LA471108165FR",
            product: "lettre-suivie",
            address: &b,
            postcode: "69003",
            city: "LYON CEDEX 03",
            country: "FR",
            weight_g: 4_000_000,
        },
    ];
    let out = write("20261127-lettre-suivie-001", &rows).expect("write");
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(header, COLUMNS);
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(records.len(), 2);
    for (record, row) in records.iter().zip(&rows) {
        assert_eq!(record.len(), COLUMNS.len());
        assert_eq!(&record[0], "20261127-lettre-suivie-001");
        assert_eq!(record[1].parse::<u32>().expect("sequence"), row.sequence);
        assert_eq!(&record[2], row.piece_id);
        assert_eq!(&record[3], row.product);
        for i in 0..MAX_ADDRESS_LINES {
            let want = row.address.get(i).map_or("", String::as_str);
            assert_eq!(&record[4 + i], want);
        }
        assert_eq!(&record[11], row.postcode);
        assert_eq!(&record[12], row.city);
        assert_eq!(&record[13], row.country);
        assert_eq!(record[14].parse::<u32>().expect("weight"), row.weight_g);
    }
}

#[test]
fn a_hundred_thousand_rows_are_one_line_each() {
    let a = lines(&[
        "ZOLTAN KOVARI",
        "RESIDENCE LES TILLEULS",
        "12 RUE DES LILAS",
        "69003 LYON",
    ]);
    let ids: Vec<String> = (0..100_000).map(|i| format!("LA{i:08}1FR")).collect();
    let rows: Vec<Row<'_>> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| row(i as u32 + 1, id, &a))
        .collect();
    // Speed is measured by `cqcfab bench --only post`, not here.
    let out = write("20261127-lettre-suivie-001", &rows).expect("write");
    assert_eq!(out.iter().filter(|b| **b == b'\n').count(), 100_001);
}

#[test]
fn totals_count_pieces_and_grams_per_product_in_product_order() {
    let a = lines(&["A", "75011 PARIS"]);
    let mut rows = vec![row(1, "P1", &a), row(2, "P2", &a), row(3, "P3", &a)];
    rows[1].product = "lettre-recommandee";
    rows[1].weight_g = 30;
    let t = totals(&rows);
    assert_eq!(t.pieces, 3);
    assert_eq!(t.weight_g, 72);
    assert_eq!(
        t.by_product,
        [
            ("lettre-recommandee".to_string(), 1),
            ("lettre-suivie".to_string(), 2)
        ]
    );
    assert_eq!(
        t.weight_g_by_product,
        [
            ("lettre-recommandee".to_string(), 30),
            ("lettre-suivie".to_string(), 42)
        ]
    );
    let sha = sha256(b"manifest");
    let out = totals_csv("B1", &t, &sha).expect("totals");
    assert_eq!(
        text(&out),
        format!(
            "batch_id,product,pieces,weight_g,manifest_sha256\n\
             B1,lettre-recommandee,1,30,{sha}\n\
             B1,lettre-suivie,2,42,{sha}\n\
             B1,TOTAL,3,72,{sha}\n"
        )
    );
    assert_eq!(totals_csv("B1", &t, &sha).expect("again"), out);
}

#[test]
fn totals_that_do_not_add_up_or_a_bad_hash_are_refused() {
    let a = lines(&["A", "75011 PARIS"]);
    let t = totals(&[row(1, "P1", &a), row(2, "P2", &a)]);
    let sha = sha256(b"m");
    let mut wrong = t.clone();
    wrong.pieces = 3;
    let e = totals_csv("B1", &wrong, &sha).unwrap_err();
    assert!(e.to_string().contains("add up to 2 pieces"), "{e}");
    let mut wrong = t.clone();
    wrong.weight_g_by_product[0].0 = "autre".into();
    assert!(totals_csv("B1", &wrong, &sha).is_err());
    let mut wrong = t.clone();
    wrong.by_product[0].0 = TOTAL.into();
    wrong.weight_g_by_product[0].0 = TOTAL.into();
    assert!(totals_csv("B1", &wrong, &sha).is_err());
    assert!(totals_csv("B1", &t, &sha.to_uppercase()).is_err());
    assert!(totals_csv("B1", &t, &sha[..63]).is_err());
    // An empty batch adds up to nothing and is still a file.
    let none = totals_csv("B1", &totals(&[]), &sha).expect("empty");
    assert_eq!(
        text(&none).lines().nth(1),
        Some(&*format!("B1,TOTAL,0,0,{sha}"))
    );
}

#[test]
fn the_locality_is_found_in_the_address_block() {
    let cases: &[(&[&str], &str, &str, &str)] = &[
        (
            &["JEAN DUPONT", "12 RUE DES LILAS", "75011 PARIS"],
            "75011",
            "FR",
            "PARIS",
        ),
        (
            &["SOCIETE X", "BP 12", "69003 LYON CEDEX 03"],
            "69003",
            "FR",
            "LYON CEDEX 03",
        ),
        (&["A", "  13001   MARSEILLE  "], "13001", "fr", "MARSEILLE"),
        // A street number that only starts like the postcode is not the locality line.
        (&["A", "750110 RUE", "75011 PARIS"], "75011", "FR", "PARIS"),
        (&["A", "12 RUE DES LILAS"], "75011", "FR", ""),
        (&["A", "75011 PARIS"], "", "FR", ""),
        (
            &[
                "JAN KOWALSKI",
                "UL PIOTRKOWSKA 104",
                "90-001 LODZ",
                "POLOGNE",
            ],
            "90-001",
            "PL",
            "LODZ",
        ),
        (
            &[
                "JAN KOWALSKI",
                "10 DOWNING STREET",
                "SW1A 2AA LONDON",
                "ROYAUME UNI",
            ],
            "SW1A 2AA",
            "GB",
            "LONDON",
        ),
        (
            &[
                "J DOE",
                "350 FIFTH AVENUE",
                "NEW YORK NY 10118",
                "ETATS UNIS",
            ],
            "10118",
            "US",
            "NEW YORK NY",
        ),
        (
            &["J DOE", "1 RUE", "OTTAWA ON K1A 0B1", "CANADA"],
            "k1a 0b1",
            "CA",
            "OTTAWA ON",
        ),
        // The postcode 1000 is not in "RUE 10002".
        (
            &["JAN", "RUE 10002", "1000 BRUXELLES", "BELGIQUE"],
            "1000",
            "BE",
            "BRUXELLES",
        ),
        (
            &[
                "JAN KOWALSKI",
                "STRADA STEFAN CEL MARE 3",
                "IASI",
                "ROUMANIE",
            ],
            "",
            "RO",
            "IASI",
        ),
        (
            &["JAN KOWALSKI", "STRADA 3", "IASI", "ROUMANIE"],
            "700001",
            "RO",
            "IASI",
        ),
        (&["JAN KOWALSKI", "ROUMANIE"], "", "RO", ""),
        (&[], "", "RO", ""),
    ];
    for (address, postcode, country, want) in cases {
        let address = lines(address);
        assert_eq!(
            city_of(&address, postcode, country),
            *want,
            "{address:?} {postcode:?} {country:?}"
        );
    }
}
