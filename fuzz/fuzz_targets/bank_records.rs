#![no_main]
//! The bank's record decoders: segments, search entries and keypoint samples (binary),
//! asset and path records (JSON).
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    celprint::fuzzing::bank_binary_records(data);
    celprint::fuzzing::bank_json_records(data);
});
