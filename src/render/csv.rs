//! CSV: one row per match, for spreadsheets and scripts; then one row per file that
//! was not fully checked, and one per reason the whole scan was not, so that a CSV alone
//! never reads as clean when the scan was not (`status` says which kind a row is).
//!
//! Paths, notes and sources come from outside (a delivery's file names, whoever banked
//! the material), and a spreadsheet runs a cell that begins with `=`, `+`, `-` or `@` as
//! a formula. Text cells are therefore escaped as OWASP advises (a leading `'`) and every
//! non-numeric cell is quoted. A UTF-8 byte-order mark comes first unless turned off,
//! because Excel reads a CSV without one in the legacy code page and garbles non-ASCII
//! names.

use std::borrow::Cow;
use std::io::Write;

use crate::model::PanelBox;
use crate::report::{FileStatus, ScanReport};

/// New columns go at the end, so that scripts reading columns by position keep working.
const HEADER: [&str; 24] = [
    "query_path",
    "query_start_s",
    "query_end_s",
    "bank_path",
    "bank_label",
    "bank_source",
    "bank_note",
    "bank_digest",
    "bank_start_s",
    "bank_end_s",
    "score",
    "distance",
    "transform",
    "specificity",
    "bank_crop",
    "query_inset",
    "faint_only",
    "local_keypoints",
    "status",
    "reason",
    "query_page",
    "query_panel",
    "bank_page",
    "bank_panel",
];
/// Where a row that is not a match says what it is, and why.
const STATUS: usize = 18;
const REASON: usize = 19;

const BYTE_ORDER_MARK: &[u8] = "\u{feff}".as_bytes();

/// How the CSV is written.
#[derive(Debug, Clone, Copy)]
pub struct CsvOptions {
    /// Begin with a UTF-8 byte-order mark (EF BB BF), so that spreadsheets read the file
    /// as UTF-8. Default: on. Scripts that read the header by name may want it off.
    pub byte_order_mark: bool,
}

impl Default for CsvOptions {
    fn default() -> CsvOptions {
        CsvOptions {
            byte_order_mark: true,
        }
    }
}

/// A cell a spreadsheet would run as a formula (or, after a tab or carriage return,
/// may), prefixed with `'` so that it is shown as text. Only text from outside goes
/// through here: the numeric columns are numbers, and a `-` there is a minus sign.
fn text_cell(s: &str) -> Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

pub fn write_csv<W: Write>(
    report: &ScanReport,
    mut out: W,
    options: &CsvOptions,
) -> Result<(), csv::Error> {
    if options.byte_order_mark {
        out.write_all(BYTE_ORDER_MARK)?;
    }
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::NonNumeric)
        .from_writer(out);
    w.write_record(HEADER)?;
    let time = |t: Option<f64>| t.map(|v| format!("{v:.3}")).unwrap_or_default();
    for m in &report.matches {
        w.write_record([
            &*text_cell(&m.query.path),
            &time(m.query.start_s),
            &time(m.query.end_s),
            &text_cell(&m.bank_asset.path),
            m.bank_asset.label.name(),
            &text_cell(m.bank_asset.source.as_deref().unwrap_or("")),
            &text_cell(m.bank_asset.note.as_deref().unwrap_or("")),
            &m.bank_asset.digest,
            &time(m.bank_asset.start_s),
            &time(m.bank_asset.end_s),
            &format!("{:.4}", m.score),
            &m.distance.to_string(),
            m.transform.name(),
            &format!("{:.4}", m.specificity),
            &m.bank_crop.map(|k| k.to_string()).unwrap_or_default(),
            &m.query_inset.map(|r| r.to_string()).unwrap_or_default(),
            if m.faint_only { "true" } else { "false" },
            &m.local
                .as_ref()
                .map(|l| l.keypoints.to_string())
                .unwrap_or_default(),
            "match",
            "",
            &page(m.query.page),
            &panel(m.query.panel),
            &page(m.bank_asset.page),
            &panel(m.bank_asset.panel),
        ])?;
    }
    let unchecked = report
        .scanned
        .iter()
        .filter(|f| !matches!(f.status, FileStatus::Ok | FileStatus::Text))
        .map(|f| (text_cell(&f.path), f.status.name(), f.error.as_deref()));
    let whole = report
        .summary
        .not_checked_because
        .iter()
        .map(|why| (Cow::Borrowed(""), "not_checked", Some(why.as_str())));
    for (path, status, reason) in unchecked.chain(whole) {
        let mut row = vec![""; HEADER.len()];
        row[0] = &path;
        row[STATUS] = status;
        let reason = text_cell(reason.unwrap_or(""));
        row[REASON] = &reason;
        w.write_record(row)?;
    }
    w.flush()?;
    Ok(())
}

fn page(page: Option<u32>) -> String {
    page.map(|p| p.to_string()).unwrap_or_default()
}

/// A panel as X11 geometry, `WxH+X+Y`, as `query_inset` is written.
fn panel(panel: Option<PanelBox>) -> String {
    panel
        .map(|b| format!("{}x{}+{}+{}", b.w, b.h, b.x, b.y))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::text_cell;

    #[test]
    fn formula_starts_are_escaped_and_nothing_else_is() {
        for s in ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(text_cell(s), format!("'{s}"));
        }
        for s in ["", "a=b", "/abs/=x.png", " =x", "'quoted", "été"] {
            assert_eq!(text_cell(s), s);
        }
    }
}
