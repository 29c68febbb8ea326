//! Who is running this process, and where: recorded with each scan and each statement
//! of provenance, for the chain of custody.

use celprint::audit::Custody;

pub fn custody() -> Custody {
    Custody {
        user: user(),
        host: host(),
        cwd: std::env::current_dir()
            .map(|d| celprint::media::pathtext::to_text(&d))
            .unwrap_or_else(|e| format!("(unknown: {e})")),
    }
}

/// The account's name from the password database, which a job scheduler's
/// environment may not carry; `$USER`, then the numeric id, otherwise.
fn user() -> String {
    // SAFETY: getpwuid returns a pointer into static storage or null; the name is
    // copied out at once, on this thread, before any other call could reuse it.
    let from_passwd = unsafe {
        let entry = libc::getpwuid(libc::geteuid());
        (!entry.is_null() && !(*entry).pw_name.is_null()).then(|| {
            std::ffi::CStr::from_ptr((*entry).pw_name)
                .to_string_lossy()
                .into_owned()
        })
    };
    from_passwd
        .or_else(|| std::env::var("USER").ok())
        // SAFETY: geteuid cannot fail.
        .unwrap_or_else(|| format!("uid {}", unsafe { libc::geteuid() }))
}

fn host() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok && end > 0 {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "(unknown host)".to_string()
    }
}
