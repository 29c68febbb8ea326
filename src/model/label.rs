//! Why an asset is banked: its label, and each statement of provenance that gave it.

use serde::{Deserialize, Serialize};

/// Why an asset is in the bank. The order is severity, most severe first, which is
/// how reports sort matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Label {
    /// Known leaked material.
    Leaked,
    /// Material under suspicion, e.g. from an unvetted subcontractor.
    Suspicious,
    /// The studio's own production, banked to find it when it leaks.
    Own,
    /// Material the studio has licensed.
    Licensed,
    /// A negative bank: stock footage or cleared material that must never raise a match.
    Ignore,
}

impl Label {
    pub const ALL: [Label; 5] = [
        Label::Leaked,
        Label::Suspicious,
        Label::Own,
        Label::Licensed,
        Label::Ignore,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Label::Leaked => "leaked",
            Label::Suspicious => "suspicious",
            Label::Own => "own",
            Label::Licensed => "licensed",
            Label::Ignore => "ignore",
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Label {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Label::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                format!("unknown label {s:?} (leaked, suspicious, own, licensed, ignore)")
            })
    }
}

/// Who said what about an asset, and when: one entry of its chain of custody.
///
/// The label that decides is the most severe of those `index` gave (leaked >
/// suspicious > own > licensed > ignore), so that banking known bytes again as leaked
/// can never be shadowed by an earlier `ignore`; `celprint label` sets it outright, in
/// either direction, and is recorded like the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    pub label: Label,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// How the statement was made.
    pub action: ProvenanceAction,
    /// The path the bytes were indexed from; `None` for `label`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// RFC 3339, UTC.
    pub at: String,
    /// Who ran it, where (`user@host`), as the caller said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvenanceAction {
    /// `celprint index` banked the bytes, or met them again with other words.
    Index,
    /// `celprint label` set the label.
    Relabel,
}

impl Provenance {
    /// Whether this says the same as `other` about the asset (same label, source and
    /// note), whoever said it and when.
    pub fn same_words(&self, other: &Provenance) -> bool {
        self.label == other.label && self.source == other.source && self.note == other.note
    }

    /// The label, source and note as one string, for comparing statements cheaply.
    pub fn words(&self) -> String {
        Provenance::words_of(self.label, self.source.as_deref(), self.note.as_deref())
    }

    /// [`Provenance::words`] of a statement not yet made.
    pub fn words_of(label: Label, source: Option<&str>, note: Option<&str>) -> String {
        serde_json::to_string(&(label, source, note)).expect("words serialise")
    }
}
