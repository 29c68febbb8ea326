#![no_main]
//! The archive reader (zip, tar, tar.gz, tar.zst, and archives inside them) on
//! arbitrary bytes, under each of the names that select a format.
use celprint::media::archive::{expand, ArchiveLimits};
use celprint::media::{InputFile, MediaKind};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 5] = ["a.zip", "a.tar", "a.tar.gz", "a.tar.zst", "a.bin"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(NAMES[usize::from(pick) % NAMES.len()]);
    std::fs::write(&path, bytes).expect("write input");
    let input = InputFile {
        display: path.to_string_lossy().into_owned(),
        path,
        kind: MediaKind::Still,
        size: bytes.len() as u64,
        modified_ns: None,
        kind_from_name: true,
        sequence: None,
    };
    let limits = ArchiveLimits {
        max_entry_bytes: 1 << 20,
        max_total_bytes: 4 << 20,
        max_ratio: 100,
    };
    if let Ok(expanded) = expand(&input, &limits) {
        for f in &expanded.files {
            assert!(
                f.path.starts_with(expanded.dir.path()),
                "entry outside its folder"
            );
        }
    }
});
