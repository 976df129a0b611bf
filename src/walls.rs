//! The walls between the parts (docs/architecture.md), checked on the source so that a line that
//! crosses one fails here and not in a review months later.

use std::path::{Path, PathBuf};

/// Each part and the parts it must not name.
const WALLS: &[(&str, &[&str])] = &[
    // The plan file is validated offline and knows nothing of how it is carried out.
    ("src/plan", &["clients", "engine", "steps", "commands", "cli"]),
    // The engine knows steps, changes and findings, and no remote system.
    ("src/engine", &["clients", "plan", "steps", "commands", "cli"]),
    // A client speaks one remote API and nothing of plans.
    ("src/clients", &["plan", "engine", "steps", "commands", "cli"]),
    // A step is run by the engine and prints nothing itself.
    ("src/steps", &["commands", "cli"]),
    // What the parts share uses none of them.
    ("src/shared", &["plan", "engine", "clients", "steps", "commands", "cli", "output"]),
];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The top-level modules a line names through `crate::`, grouped imports (`crate::{a, b::c}`)
/// included.
fn crate_modules(line: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (at, _) in line.match_indices("crate::") {
        let rest = &line[at + "crate::".len()..];
        let group = match rest.strip_prefix('{') {
            Some(inner) => inner.split('}').next().unwrap_or_default().split(',').collect::<Vec<_>>(),
            None => vec![rest],
        };
        for path in group {
            let name: String = path.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            names.push(name);
        }
    }
    names
}

#[test]
fn no_part_names_a_part_beyond_its_wall() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut crossings = Vec::new();
    for (part, forbidden) in WALLS {
        let mut files = Vec::new();
        rust_files(&root.join(part), &mut files);
        assert!(!files.is_empty(), "{part} has no source files");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (number, line) in text.lines().enumerate() {
                for name in crate_modules(line) {
                    if forbidden.contains(&name.as_str()) {
                        let shown = file.strip_prefix(root).unwrap_or(&file).display();
                        crossings.push(format!("{shown}:{}: uses crate::{name}: {}", number + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(crossings.is_empty(), "lines that cross a wall (see docs/architecture.md):\n{}", crossings.join("\n"));
}

#[test]
fn grouped_and_nested_paths_are_seen() {
    assert_eq!(crate_modules("use crate::{plan::model, error::Error};"), ["plan", "error"]);
    assert_eq!(crate_modules("let x = crate::clients::dns::parse_server(r);"), ["clients"]);
    assert!(crate_modules("use super::calls::CallCounter;").is_empty());
}
