//! A progress bar on stderr, shown only when stderr is a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use celprint::engine::Progress;

pub struct Bar {
    bar: Option<ProgressBar>,
    files_total: AtomicUsize,
    files_done: AtomicUsize,
}

impl Bar {
    pub fn for_stderr() -> Bar {
        Bar {
            bar: std::io::stderr().is_terminal().then(ProgressBar::hidden),
            files_total: AtomicUsize::new(0),
            files_done: AtomicUsize::new(0),
        }
    }
}

impl Progress for Bar {
    fn start(&self, files: usize, bytes: u64) {
        self.files_total.store(files, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.set_length(bytes);
            let style = ProgressStyle::with_template(
                "[{elapsed_precise}] {bar:30} {binary_bytes}/{binary_total_bytes} ETA {eta} {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
        }
    }

    fn file_done(&self, path: &str, bytes: u64) {
        let done = self.files_done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
            let total = self.files_total.load(Ordering::Relaxed);
            bar.set_message(format!("{done}/{total} files  {path}"));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
