//! Hostile pictures for the bad-input cases, base64-encoded.

use std::io::Cursor;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use image::{GrayImage, ImageFormat, Luma, RgbImage};

pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 120])
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
        .unwrap();
    out
}

pub fn png_gray(img: &GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .unwrap();
    out
}

/// Bytes for a `$token` of fixtures/requests/invalid.jsonl.
pub fn bytes(token: &str) -> Vec<u8> {
    match token {
        "$gif" => b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec(),
        "$pdf" => b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec(),
        "$truncated_jpeg" => {
            let mut b = jpeg(413, 531);
            b.truncate(b.len() * 2 / 3);
            b
        }
        "$bomb_png" => cqcfab::domain::images::testing::png_with_header_size(20000, 20000),
        "$tiny_jpeg" => jpeg(200, 257),
        "$landscape_jpeg" => jpeg(800, 600),
        "$oversize" => {
            let mut b = jpeg(413, 531);
            b.resize(2 * 1024 * 1024 + 100, 0);
            b
        }
        "$blank_signature" => png_gray(&GrayImage::from_pixel(600, 200, Luma([255]))),
        other => panic!("unknown picture token {other}"),
    }
}

pub fn token(token: &str) -> String {
    STANDARD.encode(bytes(token))
}
