//! The walls between the parts (docs/architecture.md), checked on the source so that a line that
//! crosses one fails here and not in a review months later.

use std::path::{Path, PathBuf};

/// Each part and the parts it must not name.
const WALLS: &[(&str, &[&str])] = &[
    // The plan file is validated offline and knows nothing of how it is carried out.
    ("src/plan", &["clients", "engine", "steps", "commands", "cli", "output", "printer"]),
    // The engine knows steps, changes and findings, and no remote system and no plan.
    ("src/engine", &["clients", "plan", "steps", "commands", "cli", "printer"]),
    // A client speaks one remote API and nothing of plans.
    ("src/clients", &["plan", "engine", "steps", "commands", "cli", "printer"]),
    // A step is run by the engine; its results are data the commands print.
    ("src/steps", &["commands", "cli", "printer"]),
    // What the parts share uses none of them.
    ("src/shared", &["plan", "engine", "clients", "steps", "commands", "cli", "output", "printer", "requirements"]),
    // Kiro's requirements are data: plan, steps and clients read them, they read nothing.
    ("src/requirements.rs", &["plan", "engine", "clients", "steps", "commands", "cli", "output", "printer"]),
    // Writing to the terminal knows nothing of what is written.
    ("src/output.rs", &["plan", "engine", "clients", "steps", "commands", "cli", "printer", "requirements"]),
    // The one error type carries the plan's located problems, nothing else of another part.
    ("src/error.rs", &["engine", "clients", "steps", "commands", "cli", "output", "printer"]),
    // Safe file writing and reading, for every part.
    ("src/files.rs", &["plan", "engine", "clients", "steps", "commands", "cli", "output", "printer", "shared"]),
];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    if dir.is_file() {
        found.push(dir.to_path_buf());
        return;
    }
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

/// The longest a function in `src/` may be (tests aside): past this, a function does more than
/// one thing and the next change to it hurts (docs/architecture.md, "Functions").
const LONGEST_FUNCTION: usize = 120;

/// `line` without its string and char literals and its `//` comment, so that their braces do not
/// count. Raw strings spanning lines are rare in `src/` and would only make a count longer.
fn code_of(line: &str) -> String {
    let mut code = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(inner) = chars.next() {
                    match inner {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            // A char literal ('{', '\'') and not a lifetime ('a): a quote two or three chars on.
            '\'' if matches!(chars.clone().nth(1), Some('\'')) || chars.peek() == Some(&'\\') => {
                for inner in chars.by_ref() {
                    if inner == '\'' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => break,
            _ => code.push(c),
        }
    }
    code
}

/// The functions of `text` (outside its `#[cfg(test)]` module) longer than `limit` lines: name,
/// first line, length.
fn long_functions(text: &str, limit: usize) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().take_while(|line| line.trim() != "#[cfg(test)]").collect();
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let code = code_of(line);
        let Some(at) = code.find("fn ").filter(|at| code[..*at].split_whitespace().all(is_fn_qualifier)) else {
            continue;
        };
        let name: String = code[at + 3..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let mut depth = 0i32;
        let mut opened = false;
        for (offset, body_line) in lines[start..].iter().enumerate() {
            let body = code_of(body_line);
            if !opened && body.trim_end().ends_with(';') && !body.contains('{') {
                break; // a declaration without a body (a trait method)
            }
            for c in body.chars() {
                match c {
                    '{' => (depth, opened) = (depth + 1, true),
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if opened && depth <= 0 {
                if offset + 1 > limit {
                    found.push((name.clone(), start + 1, offset + 1));
                }
                break;
            }
        }
    }
    found
}

fn is_fn_qualifier(word: &str) -> bool {
    matches!(word, "pub" | "async" | "const" | "unsafe" | "extern") || word.starts_with("pub(")
}

#[test]
fn no_function_in_src_is_longer_than_the_limit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut long = Vec::new();
    for file in files.iter().filter(|file| !file.ends_with("walls.rs") && !file.ends_with("fuzz.rs")) {
        let text = std::fs::read_to_string(file).unwrap();
        let shown = file.strip_prefix(root).unwrap_or(file).display();
        for (name, line, length) in long_functions(&text, LONGEST_FUNCTION) {
            long.push(format!("{shown}:{line}: fn {name} is {length} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "functions over {LONGEST_FUNCTION} lines (split them, one function per object):\n{}",
        long.join("\n")
    );
}

#[test]
fn function_lengths_count_braces_in_code_only() {
    let text = "fn short() {\n    let s = \"}}}\"; let c = '{'; // }\n}\nfn long<'a>(x: &'a str) {\n\n\n}\n";
    assert!(long_functions(text, 4).is_empty());
    assert_eq!(long_functions(text, 3), [("long".to_string(), 4, 4)]);
    assert!(long_functions("trait T {\n    fn f(&self);\n}\n", 0).iter().all(|(name, ..)| name != "f"));
}
