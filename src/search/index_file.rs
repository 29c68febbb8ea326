//! The multi-index as one flat file the bank owns, memory-mapped at open instead of read:
//! an open costs a header check whatever the bank's size, and memory holds only the
//! pages queries touch.
//!
//! Layout (little-endian): 8 bytes of magic, the header's length (u64) and its BLAKE3
//! (32 bytes), the header (JSON) padded to [`HEADER_AREA`]; then the sections, each at a
//! 4 KiB boundary: the hashes (32 bytes an entry), qualities (1), runs (24 bytes each,
//! see `runs::Run`), then for each table its offsets and its entry numbers (4 bytes each),
//! its bitmap (u64 words) and the bitmap's counts (4 bytes each), the last two empty for
//! a dense table (see `search::table`). The sections are written first and the header
//! last, over the area kept for it.
//!
//! The file is a cache of the `search` column family: the header names the bank state it
//! was built from ([`FileStamp`]), and a file that does not match, or fails a check, is
//! not used (the bank rebuilds from the column family). It is written under a temporary
//! name, synced, renamed into place and the folder synced, so a crash leaves the old file
//! or the new one whole.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::layout::{offsets, CHUNK_COUNTS};
use super::mapped::{bytes_of, Map, Slab};
use super::runs::Run;
use super::table::{bitmap_words, is_sparse, rank_entries, Table};
use super::{HammingIndex, Layout, MultiIndex};

const MAGIC: &[u8; 8] = b"CPSIDX\x00\x01";
/// Magic, header length and header checksum, then the header, within this many bytes.
const HEADER_AREA: usize = 16 << 10;
const PREAMBLE: usize = 8 + 8 + 32;
const ALIGN: u64 = 4096;
/// 3 keeps sparse tables as a bitmap, its counts and offsets for the non-empty buckets
/// only (`search::table`); 2 (one development commit) kept a bitmap beside every
/// table's full offsets. A file of another format is not used: the bank rebuilds its
/// tables at open until its next save.
const FORMAT: u32 = 3;
/// Buckets checked per table at open (entries found under their own chunk value). Each
/// load of a cold mapped file reads a 2 MiB huge page ([`super::mapped::Map`]), so the
/// sample is small: 8 buckets of 11 tables, two entries each, read about 0.7 GB at 100M
/// (32 buckets of 16 entries made a cold open take 5.6 s).
const SAMPLED_BUCKETS: usize = 8;

/// The bank state an index file describes. The generation alone would do while the bank
/// only moves forward; the asset counter and last asset also catch a bank put back to an
/// older state with the same generation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileStamp {
    pub generation: u64,
    pub next_asset: u64,
    pub last_asset: Option<u64>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Header {
    format: u32,
    stamp: FileStamp,
    entries: u64,
    runs: u64,
    widths: Vec<u32>,
    /// Byte offset and length of every section, in the order of the module's layout.
    sections: Vec<(u64, u64)>,
    file_bytes: u64,
}

/// The file for a bank state in `dir`.
pub fn file_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("g{generation:016x}.cpsi"))
}

/// Tables built at once while a file is written from an index without tables.
const TABLES_BUILT_TOGETHER: usize = 2;

/// Writes `index` as the file for `stamp` in `dir`, then removes every other index file
/// there. Returns the file's path.
///
/// Tables the index has built over every entry are written as they are. Otherwise (the
/// usual case after an `index` run, which leaves entries past the last rebuild) the
/// tables are built here with the layout the cost model picks for every entry,
/// [`TABLES_BUILT_TOGETHER`] at a time, each pair written and dropped before the next
/// is built: the writer then holds the hashes and two tables' work (about 7 GB at 100M
/// segments) instead of every table (12.8 GB). Callers drop the index's own partial
/// tables first ([`MultiIndex::drop_tables`]) and map the file afterwards.
pub fn write(dir: &Path, index: &MultiIndex, stamp: &FileStamp) -> std::io::Result<PathBuf> {
    let built = index.layout.is_some() && index.tail_len() == 0;
    let layout = if built {
        index.layout.clone()
    } else {
        index.layout_for_entries()
    };
    let widths = layout.as_ref().map_or(Vec::new(), |l| l.widths.clone());
    std::fs::create_dir_all(dir)?;
    let final_path = file_path(dir, stamp.generation);
    let tmp = dir.join(format!(
        ".tmp-{}-{:016x}",
        std::process::id(),
        stamp.generation
    ));
    let written = (|| {
        // The sections first, each placed where the last ended (a sparse table's
        // offsets are counted only as it is built), then the header that places them.
        let mut out = Sections {
            file: std::io::BufWriter::with_capacity(1 << 20, File::create(&tmp)?),
            pos: 0,
            placed: Vec::new(),
        };
        out.pad_to(HEADER_AREA as u64)?;
        out.section(bytes_of(&index.hashes))?;
        out.section(bytes_of(&index.qualities))?;
        out.section(bytes_of(&index.runs))?;
        if built {
            for t in &index.tables {
                out.table(t)?;
            }
        } else if let Some(layout) = &layout {
            let offsets = offsets(layout);
            let chunks: Vec<(u32, u32)> = offsets.into_iter().zip(layout.widths.clone()).collect();
            for group in chunks.chunks(TABLES_BUILT_TOGETHER) {
                let tables: Vec<Table> = group
                    .par_iter()
                    .map(|&(o, w)| Table::build(&index.hashes, o, w))
                    .collect();
                for t in &tables {
                    out.table(t)?;
                }
            }
        }
        let file_bytes = out.pos.next_multiple_of(ALIGN);
        out.pad_to(file_bytes)?;
        let header = Header {
            format: FORMAT,
            stamp: stamp.clone(),
            entries: index.len() as u64,
            runs: index.runs.len() as u64,
            widths: widths.clone(),
            sections: out.placed,
            file_bytes,
        };
        let json = serde_json::to_vec(&header).expect("header serialises");
        if PREAMBLE + json.len() > HEADER_AREA {
            return Err(std::io::Error::other("index header too large"));
        }
        let mut f = out.file.into_inner().map_err(|e| e.into_error())?;
        let mut head = Vec::with_capacity(PREAMBLE + json.len());
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&(json.len() as u64).to_le_bytes());
        head.extend_from_slice(blake3::hash(&json).as_bytes());
        head.extend_from_slice(&json);
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&head)?;
        f.sync_all()?;
        drop_from_cache(&f);
        std::fs::rename(&tmp, &final_path)?;
        File::open(dir)?.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    remove_others(dir, Some(&final_path));
    Ok(final_path)
}

/// Asks the kernel to drop a written and synced file's pages from its cache. Writing
/// leaves many of them in small folios, and a mapping over those gets no huge pages
/// ([`super::mapped::Map::new`]): the next open (a scan, the service) would probe much
/// of the tables with 4 KiB pages (at 1M entries, 64 MiB of 120 mapped huge), until
/// the cache let them go.
/// Dropped, the file is read in again as 2 MiB folios as queries touch it. Advice only:
/// where it is not followed (tmpfs), the file maps as before.
fn drop_from_cache(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: advice on an open descriptor of ours; it touches no memory of the program.
    unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
}

/// A file being written section by section, each at the next 4 KiB boundary, with
/// where each went.
struct Sections<W: Write> {
    file: W,
    pos: u64,
    placed: Vec<(u64, u64)>,
}

impl<W: Write> Sections<W> {
    fn pad_to(&mut self, at: u64) -> std::io::Result<()> {
        self.file.write_all(&vec![0u8; (at - self.pos) as usize])?;
        self.pos = at;
        Ok(())
    }

    fn section(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.pad_to(self.pos.next_multiple_of(ALIGN))?;
        self.placed.push((self.pos, bytes.len() as u64));
        self.file.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn table(&mut self, t: &Table) -> std::io::Result<()> {
        let a = t.arrays();
        self.section(bytes_of(a.starts))?;
        self.section(bytes_of(a.ids))?;
        self.section(bytes_of(a.filled))?;
        self.section(bytes_of(a.ranks))
    }
}

/// Removes the index files in `dir` other than `keep`, and temporary files left by a
/// killed write. A reader that mapped one keeps its pages until it closes.
pub fn remove_others(dir: &Path, keep: Option<&Path>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        let ours = name.ends_with(".cpsi") || name.starts_with(".tmp-");
        if ours && Some(path.as_path()) != keep {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Whether `dir` holds a file for `stamp` whose header reads.
pub fn is_current(dir: &Path, stamp: &FileStamp) -> bool {
    File::open(file_path(dir, stamp.generation))
        .ok()
        .and_then(|mut f| read_header(&mut f).ok())
        .is_some_and(|h| &h.stamp == stamp)
}

fn read_header(f: &mut File) -> Result<Header, String> {
    let mut pre = [0u8; PREAMBLE];
    f.read_exact(&mut pre)
        .map_err(|e| format!("index file unreadable: {e}"))?;
    if &pre[..8] != MAGIC {
        return Err("not an index file of this version".into());
    }
    let len = u64::from_le_bytes(pre[8..16].try_into().expect("8 bytes")) as usize;
    if PREAMBLE + len > HEADER_AREA {
        return Err("index file header too long".into());
    }
    let mut json = vec![0u8; len];
    f.read_exact(&mut json)
        .map_err(|e| format!("index file unreadable: {e}"))?;
    if blake3::hash(&json).as_bytes() != &pre[16..48] {
        return Err("index file header fails its checksum".into());
    }
    let header: Header =
        serde_json::from_slice(&json).map_err(|e| format!("index file header: {e}"))?;
    if header.format != FORMAT {
        return Err(format!("index file format {}", header.format));
    }
    Ok(header)
}

/// Maps the file for `stamp` in `dir` as a searchable index, after checking its header,
/// size, shapes and a sample of buckets; otherwise says why not (no file, another bank
/// state, damage), and the caller rebuilds.
pub fn open(dir: &Path, stamp: &FileStamp) -> Result<MultiIndex, String> {
    let path = file_path(dir, stamp.generation);
    let mut f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("no index file for this bank state".into())
        }
        Err(e) => return Err(format!("index file unreadable: {e}")),
    };
    let h = read_header(&mut f)?;
    if &h.stamp != stamp {
        return Err("the index file describes another bank state".into());
    }
    let size = f.metadata().map_err(|e| e.to_string())?.len();
    if size != h.file_bytes {
        return Err(format!("index file is {size} bytes, not {}", h.file_bytes));
    }
    let m = h.widths.len();
    let layout = (m > 0).then(|| Layout {
        widths: h.widths.clone(),
    });
    if let Some(l) = &layout {
        if !CHUNK_COUNTS.contains(&m) || Layout::with_chunks(m) != *l {
            return Err(format!("index file has an unknown layout {:?}", l.widths));
        }
    }
    if h.sections.len() != 3 + 4 * m {
        return Err("index file has the wrong number of sections".into());
    }
    let map = Arc::new(Map::new(&f).map_err(|e| format!("cannot map the index file: {e}"))?);
    let n = usize::try_from(h.entries).map_err(|_| "too many entries")?;
    let runs = usize::try_from(h.runs).map_err(|_| "too many runs")?;
    let section = |i: usize, len: usize, size: usize| {
        let (start, bytes) = h.sections[i];
        (bytes == (len * size) as u64)
            .then_some(start as usize)
            .ok_or_else(|| format!("index file section {i} has the wrong size"))
    };
    let bad = |i: usize| format!("index file section {i} lies outside the file");
    let hashes = Slab::mapped(&map, section(0, n, 32)?, n).ok_or_else(|| bad(0))?;
    let qualities = Slab::mapped(&map, section(1, n, 1)?, n).ok_or_else(|| bad(1))?;
    let run_slab: Slab<Run> =
        Slab::mapped(&map, section(2, runs, 24)?, runs).ok_or_else(|| bad(2))?;
    let runs_ok = match (run_slab.first(), run_slab.last()) {
        (Some(first), Some(last)) => first.first_entry == 0 && last.first_entry < h.entries,
        (None, None) => n == 0,
        _ => false,
    };
    if !runs_ok {
        return Err("index file's segment runs do not fit its entries".into());
    }
    let mut tables = Vec::with_capacity(m);
    for (k, &w) in h.widths.iter().enumerate() {
        let [s, i, f, r] = [3, 4, 5, 6].map(|j| j + 4 * k);
        let (words, ranks) = if is_sparse(n, w) {
            (bitmap_words(w), rank_entries(w))
        } else {
            (0, 0)
        };
        let ranks: Slab<u32> =
            Slab::mapped(&map, section(r, ranks, 4)?, ranks).ok_or_else(|| bad(r))?;
        // A sparse table's offsets are one a non-empty bucket and one more: its ranks'
        // total; `check_tables` then checks the total against the bitmap's sampled blocks.
        let offsets = match ranks.last() {
            Some(&total) => total as usize + 1,
            None => (1usize << w) + 1,
        };
        tables.push(Table {
            starts: Slab::mapped(&map, section(s, offsets, 4)?, offsets).ok_or_else(|| bad(s))?,
            ids: Slab::mapped(&map, section(i, n, 4)?, n).ok_or_else(|| bad(i))?,
            filled: Slab::mapped(&map, section(f, words, 8)?, words).ok_or_else(|| bad(f))?,
            ranks,
        });
    }
    let index = MultiIndex {
        hashes,
        qualities,
        runs: run_slab,
        offsets: layout.as_ref().map_or(Vec::new(), offsets),
        layout,
        tables,
        // Without tables every entry is scanned, as the tail of one built in memory.
        built: if m > 0 { n } else { 0 },
        run_directory: Default::default(),
        table_costs: Default::default(),
        always_probe: false,
    };
    index.check_tables(SAMPLED_BUCKETS)?;
    Ok(index)
}
