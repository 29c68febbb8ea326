//! Paths as text that can be printed on one line and turned back into the same bytes.
//!
//! Unix file names are bytes: not always UTF-8, and free to hold a newline. Reports,
//! the bank's path records and one-line-per-match output all need text, and the HTML
//! report must find the file again from it. So a path is written as its UTF-8 text
//! with a backslash escape for what text cannot carry: `\\` for a backslash, `\n`,
//! `\r`, `\t`, and `\xNN` for other control characters and for each byte that is not
//! UTF-8. Every other path (nearly all) reads exactly as typed.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// The path as escaped text.
pub fn to_text(path: &Path) -> String {
    let mut out = String::new();
    let mut bytes = path.as_os_str().as_bytes();
    while !bytes.is_empty() {
        let (good, bad) = match std::str::from_utf8(bytes) {
            Ok(s) => (s, &[][..]),
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                let skip = e.error_len().unwrap_or(rest.len());
                (
                    std::str::from_utf8(valid).expect("checked valid"),
                    &rest[..skip],
                )
            }
        };
        for c in good.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    for b in c.to_string().bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in bad {
            out.push_str(&format!("\\x{b:02x}"));
        }
        bytes = &bytes[good.len() + bad.len()..];
    }
    out
}

/// The inverse of [`to_text`]. Text that is not such an escape (a report edited by
/// hand, a path from before escaping) is taken byte for byte where it cannot be read.
pub fn from_text(text: &str) -> PathBuf {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'\\')) => Some((b'\\', 2)),
            (b'\\', Some(b'n')) => Some((b'\n', 2)),
            (b'\\', Some(b'r')) => Some((b'\r', 2)),
            (b'\\', Some(b't')) => Some((b'\t', 2)),
            (b'\\', Some(b'x')) => text
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .map(|b| (b, 4)),
            _ => None,
        };
        match escaped {
            Some((b, n)) => {
                out.push(b);
                i += n;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// `path` made absolute against the working directory, with `.` and `..` resolved as
/// written (not through symlinks, so that the path names what the user named): the
/// same file indexed as `./x/ep1` and as `/abs/x/ep1` is one path.
pub fn absolute(path: &Path) -> PathBuf {
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_paths_read_as_typed() {
        let p = Path::new("/deliveries/ep 01/shot_010 (v2) é.png");
        assert_eq!(to_text(p), "/deliveries/ep 01/shot_010 (v2) é.png");
        assert_eq!(from_text(&to_text(p)), p);
    }

    #[test]
    fn odd_bytes_round_trip_on_one_line() {
        let raw = b"/d/caf\xe9\nnew\\line\x01\tend.png".to_vec();
        let p = PathBuf::from(OsString::from_vec(raw));
        let text = to_text(&p);
        assert_eq!(text, "/d/caf\\xe9\\nnew\\\\line\\x01\\tend.png");
        assert!(!text.contains('\n'));
        assert_eq!(from_text(&text), p);
    }

    #[test]
    fn dots_are_resolved_as_written() {
        assert_eq!(absolute(Path::new("/a/./b/../c")), Path::new("/a/c"));
        let here = std::env::current_dir().unwrap();
        assert_eq!(absolute(Path::new("./x/ep1")), here.join("x/ep1"));
    }
}
