//! Inputs that crashed a fuzz target (fuzz/, docs/fuzzing.md), kept in
//! tests/fixtures/fuzz/ and fed to the code the target called: each must now give an
//! answer or an error, never a panic.

use celprint::media::{decode_still, psd, sequence, DecodeLimits, StillScale};

fn fixture(name: &str) -> Vec<u8> {
    let path = super::common::repo().join("tests/fixtures/fuzz").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn psd_of_zero_width_is_damaged_not_a_panic() {
    // The composite's rows were cut into chunks of the row's size, 0 bytes here.
    let bytes = fixture("psd-zero-width.psd");
    let err = psd::header(&bytes).expect_err("a 0-pixel-wide document is refused");
    assert!(err.to_string().contains("0×22"), "{err}");
    let Err(err) = decode_still(&bytes, DecodeLimits::default(), StillScale::Full) else {
        panic!("a 0-pixel-wide document decoded");
    };
    assert!(err.to_string().contains("damaged Photoshop"), "{err}");
}

#[test]
fn sequence_names_with_a_letter_of_several_bytes_before_the_number() {
    // `comp_v\u{34f}05.exr`-like names: the number's start was taken one byte after a
    // multi-byte letter, inside it.
    let bytes = fixture("sequence_names-multibyte-letter.txt");
    let text = String::from_utf8_lossy(&bytes);
    let names: Vec<&str> = text.lines().collect();
    let runs = sequence::find_runs(&names);
    assert!(runs.iter().all(|r| r.members.len() >= sequence::MIN_FRAMES));
}
