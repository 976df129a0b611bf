//! Reading a plan file: bytes → YAML tree → structural check → typed plan → semantic check.

use std::path::Path as FsPath;

use super::diagnostic::{Diagnostic, Diagnostics};
use super::model::Plan;
use super::tree::{Node, NodeKind, Path, Pos};
use super::{schema, structure::StructureCheck, validate};
use crate::error::Error;

/// Plans larger than this are refused before parsing: a real plan of 50,000 users is about 6 MiB.
pub const MAX_PLAN_BYTES: usize = 32 * 1024 * 1024;
/// The YAML values (mappings, sequences, scalars) one plan may hold: a user takes about ten, so
/// this reads plans of several hundred thousand users while keeping the parsed tree's memory
/// bounded even for a 32 MiB file of nothing but tiny values.
pub const MAX_PLAN_NODES: usize = 6_000_000;

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
    let bytes = read_plan_bytes(path, &file)?;
    let source = decode(&file, bytes)?;
    parse(&file, source)
}

/// The file's bytes, at most one more than a plan may have (so `decode` can refuse it by size
/// without reading, say, /dev/zero for ever).
pub fn read_plan_bytes(path: &FsPath, file: &str) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PLAN_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(|source| Error::PlanRead { path: file.to_owned(), source })?;
    Ok(bytes)
}

pub fn decode(file: &str, bytes: Vec<u8>) -> Result<String, Error> {
    if bytes.len() > MAX_PLAN_BYTES {
        return Err(Error::PlanInvalid(Diagnostics {
            file: file.to_owned(),
            source: String::new(),
            secrets: Vec::new(),
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
            secrets: Vec::new(),
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
        Error::PlanInvalid(Diagnostics { file: file.to_owned(), source: source.to_owned(), items, secrets: Vec::new() })
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

    let mut tree = parse_tree(&source).map_err(|d| {
        Error::PlanInvalid(Diagnostics {
            file: file.to_owned(),
            source: source.clone(),
            items: vec![d],
            secrets: secrets_by_key_name(&source),
        })
    })?;
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

    let mut problems = repeated_keys(&mut tree);
    let repeats = problems.len();
    let schema = schema::plan_schema();
    let checker = StructureCheck::new(schema);
    let repaired = checker.check(schema, &tree, &Path::root(), &mut problems);
    let structural = checker.repaired_paths();
    // A repeated secret key's line may hold the secret itself (`scim_token: …` written twice).
    for d in &mut problems[..repeats] {
        d.sensitive = checker.is_secret_path(&d.path);
    }

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
                return Ok(LoadedPlan { plan: plan.normalised(), file: file.to_owned(), source });
            }
        }
        Err(e) if problems.is_empty() => {
            problems.push(Diagnostic::new("", tree.pos, format!("the plan could not be read: {e}")))
        }
        Err(_) => {}
    }
    problems.sort_by_key(|d| (d.line, d.column));
    let mut secrets = Vec::new();
    secret_values(&tree, &Path::root(), &|path| checker.is_secret_path(path), &mut secrets);
    Err(Error::PlanInvalid(Diagnostics { file: file.to_owned(), source, items: problems, secrets }))
}

/// Where every scalar written at or under a secret reference's key stands: any of them may be
/// a secret pasted where its reference belongs.
fn secret_values(node: &Node, path: &Path, is_secret: &dyn Fn(&str) -> bool, out: &mut Vec<Pos>) {
    match &node.kind {
        NodeKind::Map(entries) => {
            for (key, value) in entries {
                secret_values(value, &path.key(&key.name), is_secret, out);
            }
        }
        NodeKind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                secret_values(item, &path.index(i), is_secret, out);
            }
        }
        _ if !path.is_root() && is_secret(&path.to_string()) => out.push(node.pos),
        _ => {}
    }
}

/// Where values under keys that hold secrets or credentials start, found line by line: for a
/// file that is not YAML, so has no tree, the line shown with its syntax error may still hold a
/// pasted secret. A key's own line is hidden after the key, its indented block entirely.
fn secrets_by_key_name(source: &str) -> Vec<Pos> {
    const SECRET_KEYS: &[&str] = &["scim_token", "client_secret", "private_key", "credentials", "client_credentials"];
    let mut found = Vec::new();
    let mut block: Option<usize> = None;
    for (number, line) in source.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim_start().trim_start_matches("- ");
        if text.is_empty() {
            continue;
        }
        let pos = |column: usize| Pos { line: number as u64 + 1, column: column as u64 + 1, len: 1 };
        if block.is_some_and(|key_indent| indent > key_indent) {
            found.push(pos(indent));
            continue;
        }
        block = None;
        for key in SECRET_KEYS {
            if let Some(at) = line.find(&format!("{key}:")) {
                found.push(pos(at + key.len() + 1));
                if line[at + key.len() + 1..].trim().is_empty() {
                    block = Some(indent);
                }
            }
        }
    }
    found
}

/// Stops before anything runs when the plan names a program to read a secret with (`command:`)
/// and commands were not allowed from outside the plan: a plan from a pull request could name
/// any program. Every such reference is reported with its line and column.
pub fn refuse_commands(loaded: &LoadedPlan) -> Result<(), Error> {
    if crate::shared::secret::commands_allowed() {
        return Ok(());
    }
    let tree = parse_tree(&loaded.source).map_err(|d| {
        Error::PlanInvalid(Diagnostics {
            file: loaded.file.clone(),
            source: loaded.source.clone(),
            items: vec![d],
            secrets: Vec::new(),
        })
    })?;
    let mut items = Vec::new();
    command_references(&tree, &Path::root(), &mut items);
    if items.is_empty() {
        return Ok(());
    }
    Err(Error::PlanInvalid(Diagnostics {
        file: loaded.file.clone(),
        source: loaded.source.clone(),
        items,
        secrets: Vec::new(),
    }))
}

/// Every `{ command: [...] }` secret reference under `node`.
fn command_references(node: &Node, path: &Path, out: &mut Vec<Diagnostic>) {
    match &node.kind {
        NodeKind::Map(entries) => {
            if let [(key, value)] = entries.as_slice()
                && key.name == "command"
                && let NodeKind::Seq(items) = &value.kind
            {
                let program = match items.first().map(|n| &n.kind) {
                    Some(NodeKind::Str(program)) => program.escape_debug().to_string(),
                    _ => String::new(),
                };
                out.push(
                    Diagnostic::new(
                        path.key("command"),
                        key.pos,
                        format!("`{path}` runs the program `{program}` to read a secret; it was not run"),
                    )
                    .with_hint(crate::shared::secret::how_to_allow_commands()),
                );
                return;
            }
            for (key, value) in entries {
                command_references(value, &path.key(&key.name), out);
            }
        }
        NodeKind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                command_references(item, &path.index(i), out);
            }
        }
        _ => {}
    }
}

/// A key written twice in one mapping is a problem; the first value is kept and checked, so the
/// rest of the file is still checked in the same pass.
fn repeated_keys(tree: &mut Node) -> Vec<Diagnostic> {
    let mut repeats = Vec::new();
    tree.remove_repeated_keys(&Path::root(), &mut repeats);
    repeats
        .into_iter()
        .map(|(path, key)| {
            Diagnostic::new(
                path,
                Pos { len: 1, ..key.pos },
                format!("the key `{}` appears twice in the same mapping", key.name),
            )
            .with_hint(
                "keep one of them: YAML does not merge repeated keys, and guessing which one you meant is not safe",
            )
        })
        .collect()
}

pub(super) fn parse_tree(source: &str) -> Result<Node, Diagnostic> {
    parse_tree_within(source, MAX_PLAN_NODES)
}

fn parse_tree_within(source: &str, max_nodes: usize) -> Result<Node, Diagnostic> {
    let mut options = serde_saphyr::options! {
        with_snippet: false,
        // Repeated keys reach the tree, which reports each and keeps the first
        // (`repeated_keys`), instead of ending the parse at the first one.
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
    };
    // Size is bounded by what a plan may hold (MAX_PLAN_NODES), never by the alias guard, so an
    // honest plan of any size up to that is read; aliases are bounded by what they expand to.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = max_nodes;
    budget.max_events = 2 * max_nodes + 16;
    budget.max_aliases = 1_000;
    // A plan nests a handful of levels; deep nesting is only ever an attack on the stack.
    budget.max_depth = 32;
    budget.flow_nesting_limit = 32;
    options.budget = Some(budget);
    // Anchors and aliases are fine for sharing a few values; replaying more than this is a bomb.
    options.alias_limits.max_total_replayed_events = 200_000;
    options.alias_limits.max_alias_expansions_per_anchor = 1_000;
    serde_saphyr::from_str_with_options::<serde_saphyr::Spanned<NodeKind>>(source, options)
        .map(Node::from)
        .map_err(|e| {
            let pos = e.location().map(|l| Pos { line: l.line(), column: l.column(), len: 1 }).unwrap_or_default();
            if is_size_breach(&e) {
                return Diagnostic::new("", pos, format!("the plan holds more than {max_nodes} YAML values, more than kiro-onboard reads in one plan"))
                    .with_hint("a user takes about 10 values, so this is several hundred thousand users; split the people across several plans, one per Kiro profile");
            }
            let message = yaml_message(&e);
            if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
                let key = key.split(',').next().unwrap_or(key).trim();
                return Diagnostic::new("", pos, format!("the key `{key}` appears twice in the same mapping"))
                    .with_hint("keep one of them: YAML does not merge repeated keys, and guessing which one you meant is not safe");
            }
            if message.contains("recursion limit") || message.contains("depth") || message.contains("nesting") {
                return Diagnostic::new("", pos, "the plan nests deeper than any plan can (more than 32 levels)")
                    .with_hint("a kiro-onboard plan is a few levels deep; this file looks generated or damaged");
            }
            if message.contains("alias") || message.contains("budget") {
                return Diagnostic::new("", pos, "the plan's anchors and aliases expand to far more than a plan can hold")
                    .with_hint("use YAML aliases to share a few values only; this looks like an alias bomb, not a plan");
            }
            Diagnostic::new("", pos, format!("this is not valid YAML: {message}"))
                .with_hint("check indentation (spaces, not tabs), and quote values that contain `: ` or start with a special character")
        })
}

/// The plan is too big, as opposed to an alias bomb: the budget on values read from the file ran
/// out (alias replays are counted by the alias limits instead).
fn is_size_breach(e: &serde_saphyr::Error) -> bool {
    use serde_saphyr::budget::BudgetBreach;
    let mut e = e;
    while let serde_saphyr::Error::WithSnippet { error, .. } = e {
        e = error;
    }
    matches!(
        e,
        serde_saphyr::Error::Budget {
            breach: BudgetBreach::Nodes { .. } | BudgetBreach::Events { .. } | BudgetBreach::ScalarBytes { .. },
            ..
        }
    )
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn seeds() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seeds = vec![std::fs::read_to_string(root.join("playbooks/identity-center.yaml")).unwrap()];
        for entry in std::fs::read_dir(root.join("tests/plans/invalid")).unwrap().filter_map(Result::ok) {
            if entry.path().extension().is_some_and(|e| e == "yaml") {
                seeds.push(std::fs::read_to_string(entry.path()).unwrap());
            }
        }
        seeds
    }

    const YAML_PIECES: &[&str] = &[
        "&a ",
        "*a",
        "<<: ",
        "!!str ",
        "!custom ",
        "- ",
        ": ",
        "{",
        "}",
        "[",
        "]",
        "\t",
        "\"",
        "'",
        "#",
        "\n",
        "~",
        "null",
        "? ",
        "|",
        ">",
        "%YAML 1.2\n",
        "---\n",
        "...\n",
        "\u{feff}",
        "\0",
        "é",
        "0x1F",
        "1e309",
        ".nan",
    ];

    #[test]
    fn mutated_plans_never_panic_or_hang() {
        let seeds: Vec<Vec<u8>> = seeds().into_iter().map(String::into_bytes).collect();
        crate::fuzz::run("plan", &seeds, YAML_PIECES, 3_000, |input| {
            let input = String::from_utf8_lossy(input).into_owned();
            if let Err(Error::PlanInvalid(d)) = parse("fuzz.yaml", input) {
                assert!(!d.items.is_empty(), "an invalid plan must say why");
                let _ = d.render();
            }
        });
    }

    #[test]
    fn the_okta_org_url_is_used_in_its_normal_form() {
        let source = "version: 1\nkiro:\n  profile_region: us-east-1\nokta:\n  org_url: https://ACME.okta.com:443/\n  credentials: { api_token: { env: T } }\n";
        let loaded = parse("plan.yaml", source.to_owned()).unwrap();
        assert_eq!(loaded.plan.okta.unwrap().org_url, "https://acme.okta.com");
    }

    #[test]
    fn a_syntax_error_near_a_secret_does_not_show_it() {
        for source in [
            "version: 1\nentra: { provisioning: { scim_token: canary-pasted-1, [ } }\n",
            "version: 1\nokta:\n  credentials:\n    api_token: canary-pasted-2\n     bad: [\n",
        ] {
            match parse("broken.yaml", source.to_owned()) {
                Err(Error::PlanInvalid(d)) => assert!(!d.render().contains("canary"), "{}", d.render()),
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
    }

    #[test]
    fn hostile_documents_are_refused_with_a_reason() {
        let refused = |source: String, needle: &str| match parse("hostile.yaml", source) {
            Err(Error::PlanInvalid(d)) => {
                let text = d.render();
                assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        };
        // Nesting far beyond any plan: refused by depth, not by a stack overflow.
        refused(format!("version: {}1{}", "[".repeat(100_000), "]".repeat(100_000)), "nests deeper than any plan can");
        refused(format!("version: 1\nkiro: {}", "{a: ".repeat(50_000)), "nests deeper than any plan can");
        // Billion laughs: aliases that would expand to 10^9 nodes.
        let mut laughs =
            String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
            let previous = ["a", "b", "c", "d", "e", "f", "g", "h"][i];
            laughs.push_str(&format!("{name}: &{name} [{}]\n", vec![format!("*{previous}"); 10].join(",")));
        }
        let started = crate::fuzz::CpuClock::start();
        refused(laughs.clone(), "alias bomb");
        assert!(started.elapsed() < Duration::from_secs(5));
        // A plan too large to be real is refused before parsing.
        let huge = vec![b'#'; MAX_PLAN_BYTES + 1];
        match decode("huge.yaml", huge) {
            Err(Error::PlanInvalid(d)) => assert!(d.render().contains("plans larger than 32 MiB are refused")),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn size_is_refused_as_size_and_aliases_as_aliases() {
        // Many values and no alias: the plan is too big, and the message says that, not "alias bomb".
        let values = format!("version: 1\nnotes: [{}]\n", vec!["0"; 2_000].join(","));
        let text = parse_tree_within(&values, 1_000).unwrap_err().message;
        assert_eq!(text, "the plan holds more than 1000 YAML values, more than kiro-onboard reads in one plan");
        assert!(parse_tree_within(&values, 3_000).is_ok());
        // Few values read from the file, many materialised through aliases: an alias bomb, even
        // with room for far more values than the file holds.
        let mut bomb = String::from("a: &a [0,0,0,0,0,0,0,0,0,0]\n");
        for (name, previous) in [("b", "a"), ("c", "b"), ("d", "c"), ("e", "d"), ("f", "e")] {
            bomb.push_str(&format!("{name}: &{name} [{}]\n", vec![format!("*{previous}"); 10].join(",")));
        }
        let refused = parse_tree_within(&bomb, MAX_PLAN_NODES).unwrap_err();
        assert!(refused.hint.as_deref().is_some_and(|h| h.contains("alias bomb")), "{refused:?}");
    }

    #[test]
    fn a_few_aliases_in_an_honest_plan_are_read() {
        let shared = "version: 1\nx: &common { given_name: A, family_name: B }\nusers: [*common, *common, *common]\n";
        assert!(parse_tree_within(shared, 100).is_ok());
    }
}
