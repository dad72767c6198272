//! Golden pictures: a render compared with the PNG a person looked at and committed.

use std::path::Path;

use image::RgbImage;

/// Pixels may differ by rounding between builds and machines, never by a moved element: at
/// most 0.2% of pixels may differ by more than 48 levels in a channel. With `CQCFAB_BLESS`
/// set, the render becomes the golden file instead (look at it before committing it).
pub fn assert_close(name: &str, got: &RgbImage, golden_path: &Path) {
    if std::env::var_os("CQCFAB_BLESS").is_some() {
        got.save(golden_path).expect("write golden");
        return;
    }
    let golden = image::open(golden_path)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with CQCFAB_BLESS=1, look at the PNGs, commit them)",
                golden_path.display()
            )
        })
        .to_rgb8();
    assert_eq!(golden.dimensions(), got.dimensions(), "{name}: size");
    let differing = golden
        .pixels()
        .zip(got.pixels())
        .filter(|(a, b)| (0..3).any(|c| a[c].abs_diff(b[c]) > 48))
        .count();
    let share = differing as f64 / (golden.width() * golden.height()) as f64;
    if share > 0.002 {
        let seen = golden_path.with_extension("actual.png");
        got.save(&seen).expect("write actual");
        panic!(
            "{name}: {differing} pixels ({:.2}%) differ from {}; this render is in {}",
            share * 100.0,
            golden_path.display(),
            seen.display()
        );
    }
}
