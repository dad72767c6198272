//! Turning the byte stream of a serial barcode scanner into codes.
//!
//! A scanner sends each code as text followed by a terminator (set in the scanner's own
//! configuration: CR, LF, CR LF or TAB), optionally wrapped in a prefix and a suffix, and
//! optionally led by the three-character AIM symbology identifier (`]C0` for Code 128, `]Q1`
//! for QR...). The mailroom must never act on a frame it is not sure of, so this parser is
//! strict: a frame that lacks the configured prefix, suffix or AIM identifier, holds a control
//! character (a terminator the scanner was not set up for, line noise), is not UTF-8 or grows
//! past the longest code we print is reported as [`Noise`] with the raw bytes, never as a code.
//! A code cut short (the scanner unplugged, a glitch) is flushed as noise by
//! [`Framer::flush_partial`] when the line goes quiet.
//!
//! The parser is pure (bytes in, frames out) so that it is tested and fuzzed without a device.

use std::fmt;

/// The byte sequence that ends one code, as set in the scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Terminator {
    /// Carriage return (0x0D), the factory setting of most serial scanners.
    #[default]
    Cr,
    /// Line feed (0x0A).
    Lf,
    /// CR then LF.
    CrLf,
    /// Horizontal tab (0x09), used when the scanner feeds form fields.
    Tab,
}

impl Terminator {
    /// The bytes of the terminator.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Terminator::Cr => b"\r",
            Terminator::Lf => b"\n",
            Terminator::CrLf => b"\r\n",
            Terminator::Tab => b"\t",
        }
    }

    /// The name used in configuration files: `cr`, `lf`, `crlf`, `tab`.
    pub fn as_str(self) -> &'static str {
        match self {
            Terminator::Cr => "cr",
            Terminator::Lf => "lf",
            Terminator::CrLf => "crlf",
            Terminator::Tab => "tab",
        }
    }
}

impl std::str::FromStr for Terminator {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "cr" => Ok(Terminator::Cr),
            "lf" => Ok(Terminator::Lf),
            "crlf" => Ok(Terminator::CrLf),
            "tab" => Ok(Terminator::Tab),
            other => Err(format!(
                "unknown scanner terminator {other:?}: expected cr, lf, crlf or tab"
            )),
        }
    }
}

impl fmt::Display for Terminator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The symbology a scanner reported through its AIM identifier (ISO/IEC 15424).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symbology {
    Code128,
    Code39,
    Ean,
    Interleaved2of5,
    Qr,
    DataMatrix,
    Pdf417,
    /// Another symbology: the identifier's code character (`]Xm` gives `X`).
    Other(char),
}

impl Symbology {
    /// The symbology named by the code character of an AIM identifier.
    pub fn from_aim(code: char) -> Symbology {
        match code {
            'C' => Symbology::Code128,
            'A' => Symbology::Code39,
            'E' => Symbology::Ean,
            'I' => Symbology::Interleaved2of5,
            'Q' => Symbology::Qr,
            'd' => Symbology::DataMatrix,
            'L' => Symbology::Pdf417,
            other => Symbology::Other(other),
        }
    }
}

impl fmt::Display for Symbology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Symbology::Code128 => f.write_str("Code 128"),
            Symbology::Code39 => f.write_str("Code 39"),
            Symbology::Ean => f.write_str("EAN/UPC"),
            Symbology::Interleaved2of5 => f.write_str("Interleaved 2 of 5"),
            Symbology::Qr => f.write_str("QR Code"),
            Symbology::DataMatrix => f.write_str("Data Matrix"),
            Symbology::Pdf417 => f.write_str("PDF417"),
            Symbology::Other(c) => write!(f, "AIM ]{c}"),
        }
    }
}

/// How frames are cut and unwrapped: mirrors what the scanner was programmed to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framing {
    pub terminator: Terminator,
    /// Text the scanner puts before every code (stripped; a frame without it is noise).
    pub prefix: String,
    /// Text the scanner puts after every code, before the terminator (stripped likewise).
    pub suffix: String,
    /// The scanner sends the AIM symbology identifier first (stripped and reported).
    pub aim: bool,
    /// Longest frame accepted, prefix and suffix included: a frame that grows past it is a
    /// stuck line or several codes without terminators.
    pub max_len: usize,
}

impl Default for Framing {
    fn default() -> Self {
        Framing {
            terminator: Terminator::Cr,
            prefix: String::new(),
            suffix: String::new(),
            aim: false,
            max_len: 256,
        }
    }
}

/// One code read from the scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// The code's text, prefix, suffix and AIM identifier removed.
    pub text: String,
    /// The symbology, when the scanner sends AIM identifiers.
    pub symbology: Option<Symbology>,
}

/// Why a frame was not taken as a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoiseKind {
    #[error("empty frame")]
    Empty,
    #[error("a control character 0x{0:02X} inside the frame (wrong terminator or line noise)")]
    ControlCharacter(u8),
    #[error("not UTF-8 text")]
    NotText,
    #[error("longer than {0} bytes without a terminator")]
    TooLong(usize),
    #[error("the configured prefix {0:?} is missing")]
    MissingPrefix(String),
    #[error("the configured suffix {0:?} is missing")]
    MissingSuffix(String),
    #[error("no AIM symbology identifier (expected ]Xm first)")]
    MissingAim,
    #[error("a partial code: the line went quiet before the terminator")]
    Partial,
}

/// Bytes that were not a code, kept so the station can log them as they came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Noise {
    pub kind: NoiseKind,
    pub raw: Vec<u8>,
}

impl Noise {
    /// The raw bytes, printable, for logs (`\r`, `\x07`...).
    pub fn raw_escaped(&self) -> String {
        self.raw.escape_ascii().to_string()
    }
}

impl fmt::Display for Noise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (received \"{}\")", self.kind, self.raw_escaped())
    }
}

/// What one frame turned out to be.
pub type Frame = Result<Code, Noise>;

/// The stateful cutter: feed it bytes as they arrive, it returns the frames they complete.
#[derive(Debug, Clone)]
pub struct Framer {
    framing: Framing,
    pending: Vec<u8>,
    /// The pending bytes already overflowed: drop until the next terminator.
    overflowed: bool,
}

impl Framer {
    pub fn new(framing: Framing) -> Framer {
        Framer {
            framing,
            pending: Vec::new(),
            overflowed: false,
        }
    }

    /// The framing this cutter applies.
    pub fn framing(&self) -> &Framing {
        &self.framing
    }

    /// Whether bytes of an unfinished frame are waiting.
    pub fn has_partial(&self) -> bool {
        !self.pending.is_empty() || self.overflowed
    }

    /// Feeds bytes; returns every frame they complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut frames = Vec::new();
        let terminator = self.framing.terminator.bytes();
        for &b in bytes {
            self.pending.push(b);
            if self.pending.ends_with(terminator) {
                let end = self.pending.len() - terminator.len();
                let frame: Vec<u8> = self.pending.drain(..).take(end).collect();
                if std::mem::take(&mut self.overflowed) {
                    continue;
                }
                // A CR LF scanner read with a CR setting leaves the LF at the head of the
                // next frame (and an LF setting a CR at the tail): the pair is the usual
                // line ending, so the stray half is dropped rather than spoiling the code.
                frames.push(self.decode(trim_stray_line_end(&frame, self.framing.terminator)));
            } else if self.pending.len() > self.framing.max_len + terminator.len() {
                if !self.overflowed {
                    frames.push(Err(Noise {
                        kind: NoiseKind::TooLong(self.framing.max_len),
                        raw: self.pending.clone(),
                    }));
                }
                self.overflowed = true;
                // Keep a terminator's first half (the CR of CR LF): the next byte may end the
                // runaway line, and without it the next code would be dropped with the line.
                let keep = (1..terminator.len())
                    .rev()
                    .find(|&k| self.pending.ends_with(&terminator[..k]))
                    .unwrap_or(0);
                self.pending.drain(..self.pending.len() - keep);
            }
        }
        frames
    }

    /// The line went quiet (or the device went away) with an unfinished frame: it is returned
    /// as noise and forgotten, so its bytes never glue onto the next code.
    pub fn flush_partial(&mut self) -> Option<Noise> {
        let overflowed = std::mem::take(&mut self.overflowed);
        if self.pending.is_empty() {
            return None;
        }
        let raw = std::mem::take(&mut self.pending);
        if overflowed || trim_stray_line_end(&raw, self.framing.terminator).is_empty() {
            return None;
        }
        // Bytes that hold a control character never ended because the scanner sends another
        // terminator than the one configured: say so, it is the fix the operator needs.
        let kind = match raw.iter().find(|&&b| b < 0x20 || b == 0x7F) {
            Some(&c) => NoiseKind::ControlCharacter(c),
            None => NoiseKind::Partial,
        };
        Some(Noise { kind, raw })
    }

    fn decode(&self, frame: &[u8]) -> Frame {
        let noise = |kind| {
            Err(Noise {
                kind,
                raw: frame.to_vec(),
            })
        };
        // The cutter lets a frame reach `max_len` plus the terminator's length before it calls
        // it a runaway (room for a stray half of CR LF); what is left must still fit.
        if frame.len() > self.framing.max_len {
            return noise(NoiseKind::TooLong(self.framing.max_len));
        }
        if frame.is_empty() {
            return noise(NoiseKind::Empty);
        }
        if let Some(&c) = frame.iter().find(|&&b| b < 0x20 || b == 0x7F) {
            // GS (0x1D) is the GS1 field separator; we print no GS1 codes, so it is noise too.
            return noise(NoiseKind::ControlCharacter(c));
        }
        let Ok(text) = std::str::from_utf8(frame) else {
            return noise(NoiseKind::NotText);
        };
        // The C1 controls (U+0080 to U+009F, NEL among them) come as two UTF-8 bytes, each
        // above 0x7F: they are control characters all the same.
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return noise(NoiseKind::ControlCharacter(
                u8::try_from(u32::from(c)).unwrap_or(0x7F),
            ));
        }
        let Some(text) = text.strip_prefix(self.framing.prefix.as_str()) else {
            return noise(NoiseKind::MissingPrefix(self.framing.prefix.clone()));
        };
        let Some(text) = text.strip_suffix(self.framing.suffix.as_str()) else {
            return noise(NoiseKind::MissingSuffix(self.framing.suffix.clone()));
        };
        let (symbology, text) = if self.framing.aim {
            let mut chars = text.chars();
            match (chars.next(), chars.next(), chars.next()) {
                (Some(']'), Some(code), Some(_modifier)) => {
                    (Some(Symbology::from_aim(code)), chars.as_str())
                }
                _ => return noise(NoiseKind::MissingAim),
            }
        } else {
            (None, text)
        };
        if text.is_empty() {
            return noise(NoiseKind::Empty);
        }
        Ok(Code {
            text: text.to_string(),
            symbology,
        })
    }
}

/// Drops the other half of a CR LF pair left by a single-byte terminator setting.
fn trim_stray_line_end(frame: &[u8], terminator: Terminator) -> &[u8] {
    match terminator {
        Terminator::Cr => frame.strip_prefix(b"\n").unwrap_or(frame),
        Terminator::Lf => frame.strip_suffix(b"\r").unwrap_or(frame),
        Terminator::CrLf | Terminator::Tab => frame,
    }
}

#[cfg(test)]
mod tests;
