#![no_main]
//! The image-sequence name parser: one display path a line, grouped into runs of
//! numbered frames.
use celprint::media::sequence::find_runs;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let names: Vec<&str> = text.lines().collect();
    for run in find_runs(&names) {
        let _ = run;
    }
});
