//! Independent tools on the PDFs we write (poppler, qpdf): one runner and the checks more
//! than one test makes.

use std::process::Command;

/// Runs `program args`, panicking with its output when it is missing or fails; its stdout.
pub fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} is needed for this test (apt-get install poppler-utils qpdf): {e}")
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// qpdf finds `pdf` sound, and pdffonts lists at least a regular and a bold face, every one
/// embedded and subset (a subset's name carries a tag: `ABCDEF+DejaVuSans`).
pub fn assert_sound_with_fonts_embedded(pdf: &str) {
    let check = tool("qpdf", &["--check", pdf]);
    assert!(
        check.contains("No syntax or stream encoding errors"),
        "{check}"
    );
    let fonts = tool("pdffonts", &[pdf]);
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(rows.len() >= 2, "regular and bold: {fonts}");
    for row in rows {
        // name type... encoding emb sub uni object-id gen
        let cols: Vec<&str> = row.split_whitespace().collect();
        let n = cols.len();
        assert_eq!(cols[n - 5], "yes", "embedded: {row}");
        assert_eq!(cols[n - 4], "yes", "subset: {row}");
        assert!(cols[0].contains('+'), "a subset font has a tag: {row}");
    }
}
