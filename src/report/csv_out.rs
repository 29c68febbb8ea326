//! CSV: one row per match, for spreadsheets and scripts.

use std::io::Write;

use super::ScanReport;

/// New columns go at the end, so that scripts reading columns by position keep working.
const HEADER: [&str; 18] = [
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
];

pub fn write_csv<W: Write>(report: &ScanReport, out: W) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    let time = |t: Option<f64>| t.map(|v| format!("{v:.3}")).unwrap_or_default();
    for m in &report.matches {
        w.write_record([
            m.query.path.as_str(),
            &time(m.query.start_s),
            &time(m.query.end_s),
            &m.bank_asset.path,
            m.bank_asset.label.name(),
            m.bank_asset.source.as_deref().unwrap_or(""),
            m.bank_asset.note.as_deref().unwrap_or(""),
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
        ])?;
    }
    w.flush()?;
    Ok(())
}
