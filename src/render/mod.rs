//! The scan report laid out for people and their tools: a self-contained HTML review
//! page and CSV for spreadsheets. `report` holds the data; this layer only writes it.

mod csv;
pub mod html;

pub use csv::{write_csv, CsvOptions};
