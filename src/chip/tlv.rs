//! BER-TLV for the data groups.
//!
//! Tags are checked and encoded by `iso7816-tlv`; lengths are ours. At exactly 127 bytes that
//! crate writes a value's length in the long form (`81 7F`) while computing its parent's
//! length from the short form, one byte short (dependencies.md; the test below writes one).
//! We write the shortest definite form everywhere, which every reader accepts. Parsing card
//! data is ours too: bounded depth and size, no recursion on attacker-chosen nesting beyond
//! [`MAX_DEPTH`], which the crate's parser does not guarantee.

use iso7816_tlv::ber::Tag;

/// Deeper nesting than any file of our profile (DG1 is three levels deep).
pub const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvError {
    #[error("tag {0:#X} is not a valid BER-TLV tag")]
    BadTag(u32),
    #[error("tag {0:#X} is {1}, but given a {2} value")]
    Inconsistent(u32, &'static str, &'static str),
    #[error("value of {0} bytes is longer than this profile allows (65,535)")]
    TooLong(usize),
    #[error("at byte {at}: {what}")]
    Malformed { at: usize, what: &'static str },
    #[error("nesting deeper than {MAX_DEPTH} levels at byte {0}")]
    TooDeep(usize),
}

fn tag(t: u32) -> Result<Tag, TlvError> {
    let tag = Tag::try_from(t).map_err(|_| TlvError::BadTag(t))?;
    // The crate takes `0800` for a two-byte tag, but a first byte whose low five bits are not
    // all set is a whole tag: a reader would see tag 08 and a length of 00.
    match tag.to_bytes() {
        [first, _, ..] if first & 0x1F != 0x1F => Err(TlvError::BadTag(t)),
        _ => Ok(tag),
    }
}

/// The definite length in its shortest form.
pub fn length(n: usize) -> Result<Vec<u8>, TlvError> {
    Ok(match n {
        0..=0x7F => vec![n as u8],
        0x80..=0xFF => vec![0x81, n as u8],
        0x100..=0xFFFF => vec![0x82, (n >> 8) as u8, n as u8],
        _ => return Err(TlvError::TooLong(n)),
    })
}

/// A primitive object.
pub fn primitive(t: u32, value: &[u8]) -> Result<Vec<u8>, TlvError> {
    if value.len() > 0xFFFF {
        return Err(TlvError::TooLong(value.len()));
    }
    let tag = tag(t)?;
    if tag.is_constructed() {
        return Err(TlvError::Inconsistent(t, "constructed", "primitive"));
    }
    let mut out = tag.to_bytes().to_vec();
    out.extend(length(value.len())?);
    out.extend(value);
    Ok(out)
}

/// Tags that hold nested objects although their tag says "primitive": ISO/IEC 18013-2 wraps
/// the holder's data of DG1 in `5F02` this way, and readers expect it so.
pub const WRAPPERS: [u32; 1] = [0x5F02];

/// A wrapper object (see [`WRAPPERS`]) around already encoded children.
pub fn wrapper(t: u32, children: &[Vec<u8>]) -> Result<Vec<u8>, TlvError> {
    primitive(t, &children.concat())
}

/// A constructed object holding `children` (each already encoded).
pub fn constructed(t: u32, children: &[Vec<u8>]) -> Result<Vec<u8>, TlvError> {
    let tag = tag(t)?;
    if !tag.is_constructed() {
        return Err(TlvError::Inconsistent(t, "primitive", "constructed"));
    }
    let body: usize = children.iter().map(Vec::len).sum();
    let mut out = tag.to_bytes().to_vec();
    out.extend(length(body)?);
    for c in children {
        out.extend(c);
    }
    Ok(out)
}

/// A parsed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub tag: u32,
    pub value: Vec<u8>,
    pub children: Vec<Node>,
}

impl Node {
    /// The first descendant (depth first) with this tag, constructed or not.
    pub fn find(&self, tag: u32) -> Option<&Node> {
        self.children
            .iter()
            .find_map(|c| if c.tag == tag { Some(c) } else { c.find(tag) })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.value).into_owned()
    }
}

/// Parses one object filling `bytes` exactly (a whole file).
pub fn parse(bytes: &[u8]) -> Result<Node, TlvError> {
    let (node, used) = parse_at(bytes, 0, 0)?;
    if used != bytes.len() {
        return Err(TlvError::Malformed {
            at: used,
            what: "bytes after the object",
        });
    }
    Ok(node)
}

/// The header of one object: its tag and where its value lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub tag: u32,
    pub constructed: bool,
    /// Offset of the value's first byte.
    pub value_at: usize,
    pub value_len: usize,
}

impl Header {
    /// Offset just past the value.
    pub fn end(&self) -> usize {
        self.value_at + self.value_len
    }
}

/// Reads the header of the object at `at`. The value need not be there yet: a reader uses this
/// on the first bytes of a file to learn its size.
pub fn header(bytes: &[u8], at: usize) -> Result<Header, TlvError> {
    let bad = |at, what| TlvError::Malformed { at, what };
    let first = *bytes.get(at).ok_or(bad(at, "missing tag"))?;
    let mut i = at + 1;
    let mut t = u32::from(first);
    if first & 0x1F == 0x1F {
        loop {
            let b = *bytes.get(i).ok_or(bad(i, "tag cut short"))?;
            i += 1;
            if i - at > 3 {
                return Err(bad(at, "tag longer than 3 bytes"));
            }
            t = (t << 8) | u32::from(b);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let l0 = *bytes.get(i).ok_or(bad(i, "missing length"))?;
    i += 1;
    let len = match l0 {
        0..=0x7F => usize::from(l0),
        0x81 => {
            let v = usize::from(*bytes.get(i).ok_or(bad(i, "length cut short"))?);
            i += 1;
            v
        }
        0x82 => {
            let hi = *bytes.get(i).ok_or(bad(i, "length cut short"))?;
            let lo = *bytes.get(i + 1).ok_or(bad(i, "length cut short"))?;
            i += 2;
            usize::from(u16::from_be_bytes([hi, lo]))
        }
        _ => return Err(bad(i - 1, "unsupported length form")),
    };
    Ok(Header {
        tag: t,
        constructed: first & 0x20 != 0,
        value_at: i,
        value_len: len,
    })
}

/// The value of the single object filling `bytes`, without parsing inside it (EF.SOD holds a
/// CMS structure nested deeper than [`MAX_DEPTH`]).
pub fn outer_value(bytes: &[u8], tag: u32) -> Result<&[u8], TlvError> {
    let h = header(bytes, 0)?;
    if h.tag != tag {
        return Err(TlvError::Malformed {
            at: 0,
            what: "unexpected tag",
        });
    }
    if h.end() != bytes.len() {
        return Err(TlvError::Malformed {
            at: h.end().min(bytes.len()),
            what: "length does not match the file",
        });
    }
    Ok(&bytes[h.value_at..])
}

fn parse_at(bytes: &[u8], at: usize, depth: usize) -> Result<(Node, usize), TlvError> {
    if depth > MAX_DEPTH {
        return Err(TlvError::TooDeep(at));
    }
    let h = header(bytes, at)?;
    let (t, i, len) = (h.tag, h.value_at, h.value_len);
    let end = i
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or(TlvError::Malformed {
            at: i,
            what: "value runs past the end",
        })?;
    let mut node = Node {
        tag: t,
        value: Vec::new(),
        children: Vec::new(),
    };
    if h.constructed || WRAPPERS.contains(&t) {
        let mut j = i;
        while j < end {
            let (child, next) = parse_at(&bytes[..end], j, depth + 1)?;
            node.children.push(child);
            j = next;
        }
    } else {
        node.value = bytes[i..end].to_vec();
    }
    Ok((node, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_127_byte_value_keeps_its_parent_length_right() {
        let child = primitive(0x5F43, &[0xAB; 127]).unwrap();
        assert_eq!(&child[..3], &[0x5F, 0x43, 0x7F], "short form");
        assert_eq!(child.len(), 130);
        let parent = constructed(0x67, std::slice::from_ref(&child)).unwrap();
        assert_eq!(
            &parent[..3],
            &[0x67, 0x81, 130],
            "130 = 2 tag + 1 length + 127"
        );
        let node = parse(&parent).unwrap();
        assert_eq!(node.children[0].value.len(), 127);
    }

    #[test]
    fn lengths_take_the_shortest_form() {
        assert_eq!(length(5).unwrap(), [5]);
        assert_eq!(length(128).unwrap(), [0x81, 0x80]);
        assert_eq!(length(300).unwrap(), [0x82, 0x01, 0x2C]);
        assert_eq!(length(70_000), Err(TlvError::TooLong(70_000)));
    }

    #[test]
    fn round_trip_and_find() {
        let dg = constructed(
            0x61,
            &[
                primitive(0x5F01, b"CQCFR01").unwrap(),
                constructed(
                    0x7F63,
                    &[
                        primitive(0x02, &[1]).unwrap(),
                        primitive(0x87, b"C").unwrap(),
                    ],
                )
                .unwrap(),
            ],
        )
        .unwrap();
        let n = parse(&dg).unwrap();
        assert_eq!(n.tag, 0x61);
        assert_eq!(n.find(0x5F01).unwrap().text(), "CQCFR01");
        assert_eq!(n.find(0x87).unwrap().text(), "C");
        assert_eq!(n.find(0x7F63).unwrap().children.len(), 2);
    }

    #[test]
    fn hostile_bytes_give_errors_not_panics_or_stack_overflows() {
        let nested: Vec<u8> = std::iter::repeat_n([0x61u8, 0x80], 8000)
            .flatten()
            .collect();
        assert!(parse(&nested).is_err());
        let mut deep = Vec::new();
        for _ in 0..20 {
            deep = constructed(0x61, &[deep]).unwrap_or_default();
        }
        assert!(matches!(parse(&deep), Err(TlvError::TooDeep(_))));
        assert!(matches!(parse(&[0x5F]), Err(TlvError::Malformed { .. })));
        assert!(matches!(
            parse(&[0x04, 0x05, 1]),
            Err(TlvError::Malformed { .. })
        ));
        assert!(matches!(
            parse(&[0x04, 0x01, 1, 9]),
            Err(TlvError::Malformed { .. })
        ));
        assert_eq!(
            primitive(0x61, b"x"),
            Err(TlvError::Inconsistent(0x61, "constructed", "primitive"))
        );
        assert_eq!(
            constructed(0x04, &[]),
            Err(TlvError::Inconsistent(0x04, "primitive", "constructed"))
        );
    }
}
