#![no_main]
//! Saved search-index tables, damaged, read back and installed (or refused and
//! rebuilt), then searched.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    celprint::fuzzing::saved_tables(data);
});
