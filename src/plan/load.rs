//! Reading a plan file: bytes → YAML tree → structural check → typed plan → semantic check.

use std::path::Path as FsPath;

use super::diagnostic::{Diagnostic, Diagnostics};
use super::model::Plan;
use super::tree::{Node, NodeKind, Path, Pos};
use super::{schema, structure::StructureCheck, validate};
use crate::error::Error;

/// Plans larger than this are refused before parsing: a real plan of 50,000 users is about 6 MiB.
pub const MAX_PLAN_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct LoadedPlan {
    pub plan: Plan,
    /// The file name as the admin wrote it, used in every message.
    pub file: String,
    /// The file's text, kept so that a saved plan can carry exactly what was reviewed.
    pub source: String,
}

pub fn load(path: &FsPath) -> Result<LoadedPlan, Error> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| Error::PlanRead { path: file.clone(), source })?;
    let source = decode(&file, bytes)?;
    parse(&file, source)
}

pub fn decode(file: &str, bytes: Vec<u8>) -> Result<String, Error> {
    if bytes.len() > MAX_PLAN_BYTES {
        return Err(Error::PlanInvalid(Diagnostics {
            file: file.to_owned(),
            source: String::new(),
            items: vec![
                Diagnostic::new(
                    "",
                    Pos::default(),
                    format!(
                        "the plan is {} bytes; plans larger than {} MiB are refused",
                        bytes.len(),
                        MAX_PLAN_BYTES / 1024 / 1024
                    ),
                )
                .with_hint("split the organisation into several plans"),
            ],
        }));
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let valid = &e.as_bytes()[..offset];
        let line = valid.iter().filter(|b| **b == b'\n').count() as u64 + 1;
        let column = valid.iter().rev().take_while(|b| **b != b'\n').count() as u64 + 1;
        Error::PlanInvalid(Diagnostics {
            file: file.to_owned(),
            source: String::new(),
            items: vec![
                Diagnostic::new(
                    "",
                    Pos { line, column, len: 1 },
                    format!("the plan is not UTF-8 text (invalid byte at offset {offset})"),
                )
                .with_hint("save the file as UTF-8"),
            ],
        })
    })
}

pub fn parse(file: &str, source: String) -> Result<LoadedPlan, Error> {
    let fail = |items: Vec<Diagnostic>, source: &str| {
        Error::PlanInvalid(Diagnostics { file: file.to_owned(), source: source.to_owned(), items })
    };

    if source.trim().is_empty() || source.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Err(fail(
            vec![
                Diagnostic::new("", Pos::default(), "the plan file is empty")
                    .with_hint("start from `kiro-onboard init --idp identity-center`"),
            ],
            &source,
        ));
    }

    let tree = parse_tree(&source).map_err(|d| fail(vec![d], &source))?;
    if !matches!(tree.kind, NodeKind::Map(_)) {
        return Err(fail(
            vec![
                Diagnostic::new(
                    "",
                    tree.pos,
                    format!("the plan must be a mapping of keys (version, kiro, …), found {}", tree.kind.describe()),
                )
                .with_hint("start from `kiro-onboard init --idp identity-center`"),
            ],
            &source,
        ));
    }

    let schema = schema::plan_schema();
    let mut problems = Vec::new();
    let checker = StructureCheck::new(schema);
    let repaired = checker.check(schema, &tree, &Path::root(), &mut problems);
    let structural = checker.repaired_paths();

    match serde_json::from_value::<Plan>(repaired) {
        Ok(plan) => {
            // A problem already reported at a path (or above it) is not reported again in other words.
            let covered = |path: &str| {
                structural
                    .iter()
                    .any(|s| path == s || path.starts_with(&format!("{s}.")) || path.starts_with(&format!("{s}[")))
            };
            problems.extend(validate::check(&plan, &tree).into_iter().filter(|d| !covered(&d.path)));
            if problems.is_empty() {
                return Ok(LoadedPlan { plan, file: file.to_owned(), source });
            }
        }
        Err(e) if problems.is_empty() => {
            problems.push(Diagnostic::new("", tree.pos, format!("the plan could not be read: {e}")))
        }
        Err(_) => {}
    }
    problems.sort_by_key(|d| (d.line, d.column));
    Err(fail(problems, &source))
}

fn parse_tree(source: &str) -> Result<Node, Diagnostic> {
    let mut options = serde_saphyr::options! {
        with_snippet: false,
    };
    // Big enough for a 50,000-user plan, small enough that alias bombs stop early.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = 2_000_000;
    budget.max_events = 4_000_000;
    budget.max_aliases = 1_000;
    budget.max_depth = 64;
    options.budget = Some(budget);
    serde_saphyr::from_str_with_options::<serde_saphyr::Spanned<NodeKind>>(source, options)
        .map(Node::from)
        .map_err(|e| {
            let pos = e.location().map(|l| Pos { line: l.line(), column: l.column(), len: 1 }).unwrap_or_default();
            let message = yaml_message(&e);
            if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
                let key = key.split(',').next().unwrap_or(key).trim();
                return Diagnostic::new("", pos, format!("the key `{key}` appears twice in the same mapping"))
                    .with_hint("keep one of them: YAML does not merge repeated keys, and guessing which one you meant is not safe");
            }
            Diagnostic::new("", pos, format!("this is not valid YAML: {message}"))
                .with_hint("check indentation (spaces, not tabs), and quote values that contain `: ` or start with a special character")
        })
}

/// serde-saphyr's own text repeats the location we print already; keep only what went wrong.
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let mut text = text.lines().next().unwrap_or("").trim().to_owned();
    if let Some((prefix, rest)) = text.split_once(": ")
        && (prefix.starts_with("line ") || prefix.starts_with("error: line"))
    {
        text = rest.to_owned();
    }
    if let Some(at) = text.rfind(" at line ")
        && text[at..].contains(", column ")
    {
        text.truncate(at);
    }
    text
}
