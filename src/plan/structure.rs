//! Structural checks of the YAML tree against the plan's own JSON Schema.
//!
//! The schema that `kiro-onboard schema` prints is the one `validate` enforces, so editors and the
//! tool can never disagree. Every problem is collected; nothing stops at the first.

use serde_json::{Map, Value};

use super::diagnostic::{Diagnostic, did_you_mean};
use super::tree::{Node, NodeKind, Path};

pub struct StructureCheck<'s> {
    defs: &'s Map<String, Value>,
    /// Paths whose value was replaced by a neutral one: semantic checks say nothing about them.
    repaired: std::cell::RefCell<Vec<String>>,
    /// Paths where a secret reference is expected: what is written there may be the secret.
    secrets: std::cell::RefCell<Vec<String>>,
}

impl<'s> StructureCheck<'s> {
    pub fn new(schema: &'s Value) -> Self {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        let defs = schema.get("$defs").and_then(Value::as_object).unwrap_or_else(|| EMPTY.get_or_init(Map::new));
        StructureCheck { defs, repaired: std::cell::RefCell::default(), secrets: std::cell::RefCell::default() }
    }

    /// Checks `node` against `schema`, reporting every problem, and returns the node's value with
    /// each problem replaced by a neutral value of the right shape, so that the semantic checks
    /// can still run and report their own problems in the same pass.
    pub fn check(&self, schema: &'s Value, node: &Node, path: &Path, out: &mut Vec<Diagnostic>) -> Value {
        let reference = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/"));
        if reference.is_some_and(|name| name == "SecretRef" || name.ends_with("Credentials")) {
            return self.check_secret_reference(schema, node, path, out);
        }
        let schema = self.resolve(schema);
        if let Some(branches) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
            return self.check_alternatives(schema, branches, node, path, out);
        }
        if !self.type_matches(schema, node) {
            out.push(type_mismatch(schema, node, path));
            return self.replace(schema, path);
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(&node.to_json())
        {
            let names: Vec<String> = allowed.iter().map(display_value).collect();
            let mut d = Diagnostic::new(
                path,
                node.pos,
                format!("`{}` is not a valid value for `{path}`", display_value(&node.to_json())),
            );
            let suggestion = match &node.kind {
                NodeKind::Str(s) => did_you_mean(s, allowed.iter().filter_map(Value::as_str)),
                _ => None,
            };
            d = d.with_hint(match suggestion {
                Some(s) => format!("did you mean `{s}`? Valid values: {}", names.join(", ")),
                None => format!("use one of: {}", names.join(", ")),
            });
            out.push(d);
            return self.replace(schema, path);
        }
        match &node.kind {
            NodeKind::Map(entries) => return self.check_object(schema, entries, node, path, out),
            NodeKind::Seq(items) => {
                if let Some(item_schema) = schema.get("items") {
                    let repaired = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| self.check(item_schema, item, &path.index(i), out))
                        .collect();
                    return Value::Array(repaired);
                }
                if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
                    && items.len() as u64 > max
                {
                    out.push(Diagnostic::new(
                        path,
                        node.pos,
                        format!("`{path}` has {} entries; at most {max} are allowed", items.len()),
                    ));
                }
            }
            NodeKind::Number(n) => {
                if let (Some(min), Some(v)) = (schema.get("minimum").and_then(Value::as_f64), n.as_f64())
                    && v < min
                {
                    out.push(Diagnostic::new(path, node.pos, format!("`{path}` must be at least {min}")));
                    // Left out, as a mistyped value is: the typed plan could not hold it.
                    return self.replace(schema, path);
                }
                let max = schema.get("maximum").and_then(Value::as_f64).or_else(|| {
                    (schema.get("format").and_then(Value::as_str) == Some("uint32")).then_some(f64::from(u32::MAX))
                });
                if let (Some(max), Some(v)) = (max, n.as_f64())
                    && v > max
                {
                    out.push(Diagnostic::new(path, node.pos, format!("`{path}` must be at most {max}")));
                    return self.replace(schema, path);
                }
            }
            NodeKind::Str(s) => {
                if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                    && (s.chars().count() as u64) < min
                {
                    out.push(
                        Diagnostic::new(path, node.pos, format!("`{path}` must not be empty"))
                            .with_hint("write a value, or remove the entry"),
                    );
                    self.repaired.borrow_mut().push(path.to_string());
                }
            }
            _ => {}
        }
        node.to_json()
    }

    /// Every path whose value was replaced because of a problem already reported.
    pub fn repaired_paths(&self) -> Vec<String> {
        self.repaired.borrow().clone()
    }

    /// Whether `path` is, or is inside, a place where a secret reference is expected.
    pub fn is_secret_path(&self, path: &str) -> bool {
        self.secrets.borrow().iter().any(|s| path == s || path.starts_with(&format!("{s}.")))
    }

    /// Where a secret reference is expected, anything written may be the secret itself: its
    /// problems never show the value, and a plain value gets a message of its own.
    fn check_secret_reference(&self, schema: &'s Value, node: &Node, path: &Path, out: &mut Vec<Diagnostic>) -> Value {
        self.secrets.borrow_mut().push(path.to_string());
        if matches!(node.kind, NodeKind::Str(_) | NodeKind::Number(_) | NodeKind::Bool(_)) {
            let mut d = Diagnostic::new(path, node.pos, format!("`{path}` must say where to read the secret, not hold the secret itself"))
                .with_hint("write where to read it instead, such as `{ env: NAME }` or `{ file: PATH }` (docs/plan-reference.md shows this key's shape); plans are reviewed and committed, so they never hold secrets. If this was a real secret, rotate it");
            d.sensitive = true;
            out.push(d);
            return self.replace(self.resolve(schema), path);
        }
        let first = out.len();
        let value = self.check(self.resolve(schema), node, path, out);
        for d in &mut out[first..] {
            d.sensitive = true;
        }
        value
    }

    fn replace(&self, schema: &'s Value, path: &Path) -> Value {
        self.repaired.borrow_mut().push(path.to_string());
        self.neutral(schema)
    }

    /// A value of the shape `schema` wants that carries no meaning: what a problem is replaced with.
    fn neutral(&self, schema: &'s Value) -> Value {
        let schema = self.resolve(schema);
        if let Some(branches) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
            if branches.iter().any(|b| self.resolve(b).get("type").and_then(Value::as_str) == Some("null")) {
                return Value::Null;
            }
            return branches.first().map(|b| self.neutral(b)).unwrap_or(Value::Null);
        }
        if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
            return first.clone();
        }
        let kind = match schema.get("type") {
            Some(Value::String(s)) => s.as_str(),
            Some(Value::Array(items)) if items.iter().any(|t| t == "null") => "null",
            Some(Value::Array(items)) => items.first().and_then(Value::as_str).unwrap_or("null"),
            _ => "null",
        };
        match kind {
            "string" => Value::String(String::new()),
            "integer" | "number" => Value::from(0),
            "boolean" => Value::Bool(false),
            "array" => Value::Array(Vec::new()),
            "object" => {
                let properties = schema.get("properties").and_then(Value::as_object);
                let required =
                    schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
                Value::Object(
                    required
                        .map(|k| {
                            (
                                k.to_owned(),
                                properties.and_then(|p| p.get(k)).map(|p| self.neutral(p)).unwrap_or(Value::Null),
                            )
                        })
                        .collect(),
                )
            }
            _ => Value::Null,
        }
    }

    fn resolve(&self, mut schema: &'s Value) -> &'s Value {
        // Depth bound: a reference cycle in our own schema is a bug, not a reason to hang.
        for _ in 0..32 {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                return schema;
            };
            match reference.strip_prefix("#/$defs/").and_then(|name| self.defs.get(name)) {
                Some(target) => schema = target,
                None => return schema,
            }
        }
        schema
    }

    fn check_alternatives(
        &self,
        schema: &'s Value,
        branches: &'s [Value],
        node: &Node,
        path: &Path,
        out: &mut Vec<Diagnostic>,
    ) -> Value {
        let mut attempts = Vec::new();
        for branch in branches {
            let mut found = Vec::new();
            // What a branch that does not fit would repair is not repaired: only the branch
            // chosen below keeps its repairs, so a problem deep in an optional section does
            // not hide the semantic checks of the whole section.
            let before = self.repaired.borrow().len();
            let value = self.check(branch, node, path, &mut found);
            let repaired = self.repaired.borrow_mut().split_off(before);
            if found.is_empty() {
                self.repaired.borrow_mut().extend(repaired);
                return value;
            }
            attempts.push(Attempt { branch: self.resolve(branch), found, value, repaired });
        }
        // A `null` branch only means "optional": report against the real shape.
        let meaningful: Vec<_> = attempts
            .into_iter()
            .filter(|attempt| attempt.branch.get("type").and_then(Value::as_str) != Some("null"))
            .collect();
        if meaningful.len() == 1 {
            let attempt = meaningful.into_iter().next().expect("one element");
            return self.keep(attempt, out);
        }
        // Several shapes (such as secret references): if the mapping clearly aims at one of them
        // (it names that shape's required key), report that shape's problems.
        if let NodeKind::Map(entries) = &node.kind {
            let aimed_at = meaningful.iter().position(|attempt| {
                let required = attempt.branch.get("required").and_then(Value::as_array);
                required.is_some_and(|r| {
                    r.iter().filter_map(Value::as_str).any(|k| entries.iter().any(|(key, _)| key.name == k))
                })
            });
            if let Some(index) = aimed_at {
                let attempt = meaningful.into_iter().nth(index).expect("found above");
                return self.keep(attempt, out);
            }
        }
        let fallback = self.replace(schema, path);
        let shapes: Vec<String> = meaningful.iter().map(|attempt| shape_name(attempt.branch)).collect();
        let description = schema.get("description").and_then(Value::as_str).map(first_sentence);
        let mut d =
            Diagnostic::new(path, node.pos, format!("`{path}` has the wrong shape: found {}", node.kind.describe()));
        d = d.with_hint(match description {
            Some(text) => format!("{text}; expected one of: {}", shapes.join(", ")),
            None => format!("expected one of: {}", shapes.join(", ")),
        });
        out.push(d);
        fallback
    }

    /// The branch an alternative is read as: its problems are reported, its repairs kept.
    fn keep(&self, attempt: Attempt<'s>, out: &mut Vec<Diagnostic>) -> Value {
        out.extend(attempt.found);
        self.repaired.borrow_mut().extend(attempt.repaired);
        attempt.value
    }

    fn check_object(
        &self,
        schema: &'s Value,
        entries: &[(super::tree::Key, Node)],
        node: &Node,
        path: &Path,
        out: &mut Vec<Diagnostic>,
    ) -> Value {
        let properties = schema.get("properties").and_then(Value::as_object);
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        let mut repaired = serde_json::Map::new();
        // A misspelt key reads as "unknown `emial`"; "missing `email`" would only repeat it.
        let mut explained_missing = Vec::new();
        for (key, value) in entries {
            match properties.and_then(|p| p.get(&key.name)) {
                Some(property) => {
                    repaired.insert(key.name.clone(), self.check(property, value, &path.key(&key.name), out));
                }
                None if closed => {
                    let known: Vec<&str> =
                        properties.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                    let place = if path.is_root() { "the plan".to_owned() } else { format!("`{path}`") };
                    let mut d =
                        Diagnostic::new(path.key(&key.name), key.pos, format!("unknown key `{}` in {place}", key.name));
                    d = d.with_hint(match did_you_mean(&key.name, known.iter().copied()) {
                        Some(s) => {
                            explained_missing.push(s.to_owned());
                            format!("did you mean `{s}`?")
                        }
                        None => format!("valid keys here: {}", known.join(", ")),
                    });
                    out.push(d);
                }
                None => {
                    match schema.get("additionalProperties").filter(|v| v.is_object()) {
                        Some(extra) => {
                            repaired.insert(key.name.clone(), self.check(extra, value, &path.key(&key.name), out))
                        }
                        None => repaired.insert(key.name.clone(), value.to_json()),
                    };
                }
            }
        }
        for required in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
        {
            if !entries.iter().any(|(k, _)| k.name == required) {
                let neutral = properties
                    .and_then(|p| p.get(required))
                    .map(|p| self.replace(p, &path.key(required)))
                    .unwrap_or(Value::Null);
                repaired.insert(required.to_owned(), neutral);
                if explained_missing.iter().any(|k| k == required) {
                    continue;
                }
                let place = if path.is_root() { "the plan".to_owned() } else { format!("`{path}`") };
                let mut d = Diagnostic::new(
                    path.key(required),
                    node.pos,
                    format!("missing required key `{required}` in {place}"),
                );
                if let Some(text) = properties
                    .and_then(|p| p.get(required))
                    .and_then(|p| self.resolve(p).get("description").or(p.get("description")))
                    .and_then(Value::as_str)
                {
                    d = d.with_hint(format!("add `{required}`: {}", first_sentence(text)));
                }
                out.push(d);
                repaired.insert(
                    required.to_owned(),
                    properties.and_then(|p| p.get(required)).map(|p| self.neutral(p)).unwrap_or(Value::Null),
                );
            }
        }
        Value::Object(repaired)
    }

    fn type_matches(&self, schema: &Value, node: &Node) -> bool {
        let Some(expected) = schema.get("type") else {
            return true;
        };
        // Checked for every value of the plan: no allocation here.
        let names: &[Value] = match expected {
            Value::String(_) => std::slice::from_ref(expected),
            Value::Array(items) => items,
            _ => return true,
        };
        names.iter().filter_map(Value::as_str).any(|name| match (name, &node.kind) {
            ("null", NodeKind::Null)
            | ("boolean", NodeKind::Bool(_))
            | ("string", NodeKind::Str(_))
            | ("array", NodeKind::Seq(_))
            | ("object", NodeKind::Map(_)) => true,
            ("number", NodeKind::Number(_)) => true,
            ("integer", NodeKind::Number(n)) => n.is_i64() || n.is_u64(),
            _ => false,
        })
    }
}

/// One branch of an `anyOf` tried against a value: what it found, and what it would repair.
struct Attempt<'s> {
    branch: &'s Value,
    found: Vec<Diagnostic>,
    value: Value,
    repaired: Vec<String>,
}

fn type_mismatch(schema: &Value, node: &Node, path: &Path) -> Diagnostic {
    let expected = match schema.get("type") {
        Some(Value::String(s)) => describe_type(s).to_owned(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .map(describe_type)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "another kind of value".to_owned(),
    };
    let mut d = Diagnostic::new(path, node.pos, format!("`{path}` must be {expected}, found {}", node.kind.describe()));
    let wants_string = matches!(schema.get("type"), Some(Value::String(s)) if s == "string");
    let wants = |t: &str| matches!(schema.get("type"), Some(Value::String(s)) if s == t);
    if wants_string && matches!(node.kind, NodeKind::Bool(_) | NodeKind::Number(_) | NodeKind::Null) {
        d = d.with_hint("YAML read this as a non-string; put it in quotes, e.g. \"…\"");
    } else if wants("boolean") {
        d = d.with_hint("write `true` or `false`");
    } else if wants("array") {
        d = d.with_hint("write a list: `[a, b]`, or one `- item` per line");
    } else if let Some(text) = schema.get("description").and_then(Value::as_str) {
        d = d.with_hint(first_sentence(text));
    }
    d
}

fn describe_type(name: &str) -> &str {
    match name {
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "true or false",
        "array" => "a list",
        "object" => "a mapping",
        "null" => "empty",
        other => other,
    }
}

fn shape_name(branch: &Value) -> String {
    match branch.get("required").and_then(Value::as_array) {
        Some(keys) if !keys.is_empty() => {
            let keys: Vec<&str> = keys.iter().filter_map(Value::as_str).collect();
            format!("{{ {}: … }}", keys.join(", "))
        }
        _ => branch.get("type").and_then(Value::as_str).map(describe_type).unwrap_or("a value").to_owned(),
    }
}

fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn first_sentence(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    line.trim_end_matches('.').to_owned()
}
