//! The library's layers import only downward (ARCHITECTURE.md): each module may name
//! modules of a lower layer, never one of its own layer or above. A `crate::` path in
//! code or in a doc link counts; comments that are not doc links do not.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::repo;

/// Bottom to top. Modules of one layer do not import each other.
const LAYERS: &[&[&str]] = &[
    &["model", "heap"],
    &["media"],
    &["fingerprint"],
    &["search"],
    &["bank"],
    &["matching"],
    &["report"],
    &["render", "audit"],
    &["engine"],
    &["serve", "fuzzing"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every `crate::NAME` in `text`, with code and doc comments kept and plain `//`
/// comments dropped.
fn crate_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("//") && !t.starts_with("///") && !t.starts_with("//!") {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn library_modules_import_only_lower_layers() {
    let src = repo().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seen = 0;
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = top.trim_end_matches(".rs").to_string();
        if matches!(module.as_str(), "lib" | "main" | "cli") {
            continue; // the crate root and the binary sit above every layer
        }
        let Some(own) = layer_of(&module) else {
            panic!("{module} (src/{top}) is in no layer: add it to LAYERS and ARCHITECTURE.md");
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for dep in crate_paths(&text) {
            seen += 1;
            if dep == module {
                continue;
            }
            match layer_of(&dep) {
                Some(l) if l < own => {}
                _ => wrong
                    .entry(rel.display().to_string())
                    .or_default()
                    .push(format!("crate::{dep}")),
            }
        }
    }
    assert!(
        seen > 100,
        "found only {seen} crate paths: is the scan broken?"
    );
    assert!(
        wrong.is_empty(),
        "imports that run sideways or up: {wrong:#?}"
    );
}

#[test]
fn the_layer_check_sees_an_upward_import() {
    let paths = crate_paths(
        "use crate::engine::x;\n// crate::report in a comment\n/// see [`crate::bank::Bank`]\n",
    );
    assert_eq!(paths, ["engine", "bank"]);
    assert!(layer_of("engine") > layer_of("media"));
}
