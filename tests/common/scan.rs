//! What independent tools read on our PDFs: `qpdf --check` must pass; each page is rasterised
//! at 300 dpi by poppler and zbar (not our code) decodes every barcode on it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Checks and scans a one-page PDF given as bytes (written into `dir`). Returns zbar's
/// `SYMBOLOGY:data` lines, sorted, and the PNG's path.
pub fn scan_pdf(bytes: &[u8], dir: &Path) -> (Vec<String>, PathBuf) {
    let pdf = dir.join("page.pdf");
    std::fs::write(&pdf, bytes).unwrap();
    let png = dir.join("page.png");
    (scan_pdf_file(&pdf, &png), png)
}

/// Checks and scans the one-page PDF `pdf`, rasterised into `png`.
pub fn scan_pdf_file(pdf: &Path, png: &Path) -> Vec<String> {
    let qpdf = Command::new("qpdf")
        .arg("--check")
        .arg(pdf)
        .output()
        .expect("qpdf (apt-get install qpdf)");
    assert!(
        qpdf.status.success(),
        "{}: {}",
        pdf.display(),
        String::from_utf8_lossy(&qpdf.stdout)
    );
    let stem = png.with_extension("");
    let raster = Command::new("pdftoppm")
        .args(["-r", "300", "-png", "-singlefile"])
        .arg(pdf)
        .arg(&stem)
        .status()
        .expect("pdftoppm (apt-get install poppler-utils)");
    assert!(raster.success(), "{}", pdf.display());
    let out = Command::new("zbarimg")
        .args(["-q", "-Sdisable", "-Scode128.enable", "-Sqrcode.enable"])
        .arg(png)
        .output()
        .expect("zbarimg (apt-get install zbar-tools)");
    let mut found: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    found.sort();
    found
}
