use super::*;

fn framer(terminator: Terminator) -> Framer {
    Framer::new(Framing {
        terminator,
        ..Framing::default()
    })
}

fn codes(frames: Vec<Frame>) -> Vec<String> {
    frames
        .into_iter()
        .map(|f| match f {
            Ok(code) => code.text,
            Err(noise) => format!("NOISE: {}", noise.kind),
        })
        .collect()
}

#[test]
fn each_terminator_cuts_codes() {
    for (t, input) in [
        (Terminator::Cr, &b"EE471108151FR\rAB000717581FR\r"[..]),
        (Terminator::Lf, b"EE471108151FR\nAB000717581FR\n"),
        (Terminator::CrLf, b"EE471108151FR\r\nAB000717581FR\r\n"),
        (Terminator::Tab, b"EE471108151FR\tAB000717581FR\t"),
    ] {
        let mut f = framer(t);
        assert_eq!(
            codes(f.push(input)),
            ["EE471108151FR", "AB000717581FR"],
            "terminator {t}"
        );
        assert!(!f.has_partial(), "terminator {t}");
    }
}

#[test]
fn a_code_split_over_reads_is_joined() {
    let mut f = framer(Terminator::CrLf);
    assert!(f.push(b"EE4711").is_empty());
    assert!(
        f.push(b"08151FR\r").is_empty(),
        "CR alone does not end a CR LF frame"
    );
    assert_eq!(codes(f.push(b"\n")), ["EE471108151FR"]);
}

#[test]
fn crlf_from_a_scanner_set_for_cr_or_lf_still_reads() {
    let mut f = framer(Terminator::Cr);
    assert_eq!(
        codes(f.push(b"EE471108151FR\r\nAB000717581FR\r\n")),
        ["EE471108151FR", "AB000717581FR"]
    );
    assert_eq!(f.flush_partial(), None, "the last LF is not a partial code");

    let mut f = framer(Terminator::Lf);
    assert_eq!(
        codes(f.push(b"EE471108151FR\r\nAB000717581FR\r\n")),
        ["EE471108151FR", "AB000717581FR"]
    );
}

#[test]
fn a_wrong_terminator_is_noise_never_a_code() {
    // Scanner sends TAB, station expects CR: nothing ends until the line goes quiet.
    let mut f = framer(Terminator::Cr);
    assert!(f.push(b"EE471108151FR\t").is_empty());
    let noise = f
        .flush_partial()
        .expect("the unfinished bytes are reported");
    assert_eq!(noise.kind, NoiseKind::ControlCharacter(b'\t'));
    assert_eq!(noise.raw, b"EE471108151FR\t");
    assert!(!f.has_partial());

    // Two codes with a TAB between and a CR at the end: one frame with a control character.
    let mut f = framer(Terminator::Cr);
    let frames = f.push(b"EE471108151FR\tAB000717581FR\r");
    assert_eq!(frames.len(), 1);
    assert!(matches!(
        &frames[0],
        Err(Noise {
            kind: NoiseKind::ControlCharacter(b'\t'),
            ..
        })
    ));
}

#[test]
fn a_partial_code_is_flushed_as_noise_and_does_not_glue_to_the_next() {
    let mut f = framer(Terminator::Cr);
    assert!(f.push(b"EE47110").is_empty());
    let noise = f.flush_partial().expect("partial");
    assert_eq!(noise.kind, NoiseKind::Partial);
    assert_eq!(noise.raw_escaped(), "EE47110");
    assert_eq!(codes(f.push(b"AB000717581FR\r")), ["AB000717581FR"]);
    assert_eq!(f.flush_partial(), None);
}

#[test]
fn empty_frames_and_binary_garbage_are_noise() {
    let mut f = framer(Terminator::Cr);
    let frames = f.push(b"\r\xff\xfe\r\x07bell\r");
    assert_eq!(
        codes(frames),
        [
            "NOISE: empty frame",
            "NOISE: not UTF-8 text",
            "NOISE: a control character 0x07 inside the frame (wrong terminator or line noise)"
        ]
    );
}

#[test]
fn a_runaway_line_is_reported_once_and_resynchronises() {
    let mut f = Framer::new(Framing {
        max_len: 16,
        ..Framing::default()
    });
    let frames = f.push(&[b'9'; 100]);
    assert_eq!(frames.len(), 1);
    assert!(matches!(
        &frames[0],
        Err(Noise {
            kind: NoiseKind::TooLong(16),
            ..
        })
    ));
    // The rest of the runaway line, up to its terminator, is dropped silently...
    assert!(f.push(b"999\r").is_empty());
    // ...and the next code reads normally.
    assert_eq!(codes(f.push(b"EE471108151FR\r")), ["EE471108151FR"]);
}

#[test]
fn prefix_suffix_and_aim_are_stripped_and_required() {
    let mut f = Framer::new(Framing {
        terminator: Terminator::CrLf,
        prefix: "<".into(),
        suffix: ">".into(),
        aim: true,
        max_len: 64,
    });
    let frames =
        f.push(b"<]C0EE471108151FR>\r\n<]Q1CQC-RET-000123>\r\nEE471108151FR\r\n<]C0X\r\n<EE>\r\n");
    assert_eq!(frames.len(), 5);
    assert_eq!(
        frames[0],
        Ok(Code {
            text: "EE471108151FR".into(),
            symbology: Some(Symbology::Code128)
        })
    );
    assert_eq!(
        frames[1].as_ref().map(|c| c.symbology),
        Ok(Some(Symbology::Qr))
    );
    assert_eq!(
        frames[2].as_ref().map_err(|n| n.kind.clone()),
        Err(NoiseKind::MissingPrefix("<".into()))
    );
    assert_eq!(
        frames[3].as_ref().map_err(|n| n.kind.clone()),
        Err(NoiseKind::MissingSuffix(">".into()))
    );
    assert_eq!(
        frames[4].as_ref().map_err(|n| n.kind.clone()),
        Err(NoiseKind::MissingAim)
    );
}

#[test]
fn terminator_names_parse_and_unknown_ones_say_what_is_expected() {
    for t in [
        Terminator::Cr,
        Terminator::Lf,
        Terminator::CrLf,
        Terminator::Tab,
    ] {
        assert_eq!(t.as_str().parse::<Terminator>(), Ok(t));
    }
    let err = "semicolon".parse::<Terminator>().unwrap_err();
    assert!(err.contains("semicolon") && err.contains("crlf"), "{err}");
}

#[test]
fn any_byte_soup_never_panics_and_never_yields_a_code_with_control_characters() {
    // A deterministic sweep over short byte strings mixing code characters and terminators.
    let alphabet = b"E1F\r\n\t]C0<>\xff";
    for t in [
        Terminator::Cr,
        Terminator::Lf,
        Terminator::CrLf,
        Terminator::Tab,
    ] {
        let mut f = Framer::new(Framing {
            terminator: t,
            prefix: "<".into(),
            suffix: String::new(),
            aim: false,
            max_len: 8,
        });
        let mut n: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            n ^= n << 13;
            n ^= n >> 7;
            n ^= n << 17;
            let len = (n % 7) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|i| alphabet[((n >> (i * 5)) % alphabet.len() as u64) as usize])
                .collect();
            for code in f.push(&bytes).into_iter().flatten() {
                assert!(!code.text.is_empty());
                assert!(code.text.chars().all(|c| !c.is_control()), "{code:?}");
                assert!(code.text.len() <= 8);
            }
        }
    }
}
