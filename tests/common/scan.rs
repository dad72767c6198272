//! What independent tools read on a one-page PDF of the post (letters, coupons, cover sheets).

use std::path::{Path, PathBuf};
use std::process::Command;

/// `qpdf --check` must pass; the page is rasterised at 300 dpi by poppler and zbar (not our
/// code) decodes every Code 128 and QR code on it. Returns zbar's `SYMBOLOGY:data` lines,
/// sorted, and the PNG's path.
pub fn scan_pdf(bytes: &[u8], dir: &Path) -> (Vec<String>, PathBuf) {
    let pdf = dir.join("page.pdf");
    std::fs::write(&pdf, bytes).unwrap();
    let qpdf = Command::new("qpdf")
        .arg("--check")
        .arg(&pdf)
        .output()
        .expect("qpdf (apt-get install qpdf)");
    assert!(
        qpdf.status.success(),
        "{}",
        String::from_utf8_lossy(&qpdf.stdout)
    );
    let raster = Command::new("pdftoppm")
        .args(["-r", "300", "-png", "-singlefile"])
        .arg(&pdf)
        .arg(dir.join("page"))
        .status()
        .expect("pdftoppm (apt-get install poppler-utils)");
    assert!(raster.success());
    let png = dir.join("page.png");
    let out = Command::new("zbarimg")
        .args(["-q", "-Sdisable", "-Scode128.enable", "-Sqrcode.enable"])
        .arg(&png)
        .output()
        .expect("zbarimg (apt-get install zbar-tools)");
    let mut found: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    found.sort();
    (found, png)
}
