//! Recording one value in the admin's plan file (`kiro.console.profile_created: true`) as a
//! minimal edit: the value's own characters change, or one line is added, and every other byte of
//! the file stays as the admin wrote it: comments, alignment, quoting, blank lines.
//!
//! The edit is text surgery guided by the located YAML tree, then proven: the edited text is
//! parsed again and must mean exactly the old plan with that one value set. Anything the edit
//! cannot do safely (an alias, a block scalar, a value that is not a scalar) is refused with what to
//! set by hand, never guessed.

use std::fmt;

use serde_json::Value;

use super::tree::{Node, NodeKind, Path, Segment};

/// A plan line to record, as the console templates write it: `PATH: VALUE`, where VALUE is YAML
/// (`true`) or a placeholder in angle brackets for a value only the admin has (`"<the token…>"`).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordLine {
    pub path: Path,
    pub value: RecordValue,
    /// `PATH: [..., VALUE]`: VALUE is added to the list at PATH (a person unsubscribed), not set.
    pub append: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecordValue {
    Known(Value),
    /// What the admin must supply, e.g. "the token Kiro shows".
    Placeholder(String),
}

impl RecordLine {
    pub fn parse(line: &str) -> Result<RecordLine, String> {
        let (path, value) = line.split_once(": ").ok_or_else(|| format!("`{line}` is not `PATH: VALUE`"))?;
        let path = parse_path(path.trim())?;
        let value = value.trim();
        let (value, append) = match value.strip_prefix("[...,").and_then(|v| v.strip_suffix(']')) {
            Some(item) => (item.trim(), true),
            None => (value, false),
        };
        let unquoted = value.trim_matches('"');
        let value = if unquoted.starts_with('<') && unquoted.ends_with('>') {
            RecordValue::Placeholder(unquoted.trim_matches(['<', '>']).to_owned())
        } else {
            let parsed: Value = serde_saphyr::from_str(value).map_err(|e| format!("`{value}`: {e}"))?;
            RecordValue::Known(parsed)
        };
        Ok(RecordLine { path, value, append })
    }

    /// What recording `value` writes, as the admin reads it: `path: value`, or for a list
    /// `path: [..., value]`.
    pub fn describe(&self, value: &Value) -> String {
        if self.append {
            format!("{}: [..., {}]", self.path, yaml_scalar(value))
        } else {
            format!("{}: {}", self.path, yaml_scalar(value))
        }
    }
}

/// `kiro.console.subscribe[0].done` → its segments.
pub fn parse_path(text: &str) -> Result<Path, String> {
    let mut segments = Vec::new();
    for part in text.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() {
            return Err(format!("`{text}` is not a plan path"));
        }
        segments.push(Segment::Key(name.into()));
        while let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']').ok_or_else(|| format!("`{text}` is not a plan path"))?;
            let index = inner[..end].parse().map_err(|_| format!("`{text}` is not a plan path"))?;
            segments.push(Segment::Index(index));
            rest = &inner[end + 1..];
        }
        if !rest.is_empty() {
            return Err(format!("`{text}` is not a plan path"));
        }
    }
    Ok(Path(segments))
}

/// Why a value could not be recorded automatically; the admin can always set it by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRefused(pub String);

impl fmt::Display for RecordRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The plan text before and after recording one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub before: String,
    pub after: String,
}

impl Edit {
    /// The changed lines as a unified diff (`---`/`+++`, one hunk with line numbers), for the
    /// admin to review before the file is written.
    pub fn diff(&self, file: &str) -> String {
        let old: Vec<&str> = self.before.lines().collect();
        let new: Vec<&str> = self.after.lines().collect();
        let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
        let suffix = old[prefix..].iter().rev().zip(new[prefix..].iter().rev()).take_while(|(a, b)| a == b).count();
        let (removed, added) = (&old[prefix..old.len() - suffix], &new[prefix..new.len() - suffix]);
        let context_before = prefix.saturating_sub(2);
        let context_after = (old.len() - suffix + 2).min(old.len());
        let mut out = format!("--- {file}\n+++ {file}\n");
        out.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            context_before + 1,
            context_after - context_before,
            context_before + 1,
            context_after - context_before - removed.len() + added.len()
        ));
        for line in &old[context_before..prefix] {
            out.push_str(&format!(" {line}\n"));
        }
        for line in removed {
            out.push_str(&format!("-{line}\n"));
        }
        for line in added {
            out.push_str(&format!("+{line}\n"));
        }
        for line in &old[old.len() - suffix..context_after] {
            out.push_str(&format!(" {line}\n"));
        }
        out
    }
}

/// Sets `path` to `value` in the plan text. `Ok(None)`: the file already says so.
pub fn set(source: &str, path: &Path, value: &Value) -> Result<Option<Edit>, RecordRefused> {
    let by_hand = |why: &str| RecordRefused(format!("{why}; set `{path}: {}` in the plan by hand", yaml_scalar(value)));
    let tree =
        super::load::parse_tree(source).map_err(|d| by_hand(&format!("the plan is not valid YAML ({})", d.message)))?;
    let text = Text::new(source);

    let after = match tree.find(path) {
        Some(found) => {
            if found.node.to_json() == *value {
                return Ok(None);
            }
            replace_scalar(&text, found.node, value).ok_or_else(|| by_hand("the value there is not a plain value"))?
        }
        None => insert_missing(&tree, &text, path, value).map_err(by_hand)?,
    };

    proven(source, &tree, after, (path, value.clone()), "this value", &by_hand)
}

/// Proof, not hope: the edited text must mean the old plan (`tree`) with exactly `path` set to
/// `value` (`what` names it in the refusal), else the edit is refused.
fn proven(
    source: &str,
    tree: &Node,
    after: String,
    (path, value): (&Path, Value),
    what: &str,
    by_hand: &dyn Fn(&str) -> RecordRefused,
) -> Result<Option<Edit>, RecordRefused> {
    let reparsed = super::load::parse_tree(&after).map_err(|_| by_hand("the edit would not be valid YAML"))?;
    let mut expected = tree.to_json();
    set_json(&mut expected, &path.0, value);
    if reparsed.to_json() != expected {
        return Err(by_hand(&format!("the edit would change more than {what}")));
    }
    Ok(Some(Edit { before: source.to_owned(), after }))
}

/// Adds `item` to the list at `path` in the plan text (the list is created when the key is
/// missing). `Ok(None)`: the list holds it already.
pub fn append(source: &str, path: &Path, item: &Value) -> Result<Option<Edit>, RecordRefused> {
    let by_hand =
        |why: &str| RecordRefused(format!("{why}; add {} to `{path}` in the plan by hand", yaml_scalar(item)));
    let tree =
        super::load::parse_tree(source).map_err(|d| by_hand(&format!("the plan is not valid YAML ({})", d.message)))?;
    let text = Text::new(source);
    let (after, list) = match tree.find(path) {
        Some(found) => {
            let NodeKind::Seq(items) = &found.node.kind else { return Err(by_hand("the value there is not a list")) };
            let mut list: Vec<Value> = items.iter().map(Node::to_json).collect();
            if list.contains(item) {
                return Ok(None);
            }
            list.push(item.clone());
            let after =
                append_to_seq(&text, found.node, items, item).ok_or_else(|| by_hand("the list is not a plain list"))?;
            (after, list)
        }
        None => {
            let list = vec![item.clone()];
            (insert_missing(&tree, &text, path, &Value::Array(list.clone())).map_err(by_hand)?, list)
        }
    };
    proven(source, &tree, after, (path, Value::Array(list)), "this list", &by_hand)
}

/// Lists a recorded value leaves when it is added to another: a person recorded in
/// `kiro.console.unsubscribed` is no longer one to unsubscribe (validate refuses a name in both).
const MOVES: &[(&str, &str)] = &[("kiro.console.unsubscribed", "kiro.console.unsubscribe")];

/// Adds `item` to the list at `path`, first taking it out of the list it moves from (MOVES).
pub fn record_in_list(source: &str, path: &Path, item: &Value) -> Result<Option<Edit>, RecordRefused> {
    let from = MOVES.iter().find(|(to, _)| path.to_string() == *to).map(|(_, from)| parse_path(from));
    let removed = match from {
        Some(Ok(from)) => remove(source, &from, item)?,
        _ => None,
    };
    let text = removed.as_ref().map_or(source, |e| e.after.as_str());
    match (append(text, path, item)?, removed) {
        (Some(added), _) => Ok(Some(Edit { before: source.to_owned(), after: added.after })),
        (None, Some(removed)) => Ok(Some(removed)),
        (None, None) => Ok(None),
    }
}

/// Takes `item` out of the list at `path`. `Ok(None)`: the list does not hold it.
pub fn remove(source: &str, path: &Path, item: &Value) -> Result<Option<Edit>, RecordRefused> {
    let by_hand =
        |why: &str| RecordRefused(format!("{why}; remove {} from `{path}` in the plan by hand", yaml_scalar(item)));
    let tree =
        super::load::parse_tree(source).map_err(|d| by_hand(&format!("the plan is not valid YAML ({})", d.message)))?;
    let Some(found) = tree.find(path) else { return Ok(None) };
    let NodeKind::Seq(items) = &found.node.kind else { return Ok(None) };
    let Some(index) = items.iter().position(|n| n.to_json() == *item) else { return Ok(None) };
    let text = Text::new(source);
    let after = remove_from_seq(&text, found.node, found.key, items, index)
        .ok_or_else(|| by_hand("the list is not a plain list"))?;
    let mut list: Vec<Value> = items.iter().map(Node::to_json).collect();
    list.remove(index);
    proven(source, &tree, after, (path, Value::Array(list)), "this list", &by_hand)
}

fn remove_from_seq(
    text: &Text,
    seq: &Node,
    key: Option<&super::tree::Key>,
    items: &[Node],
    index: usize,
) -> Option<String> {
    let source = text.source;
    let item = &items[index];
    let start = text.offset(item.pos.line, item.pos.column)?;
    if text.is_flow_at(text.offset(seq.pos.line, seq.pos.column)?) {
        let end = scalar_end(source, start, true)?;
        let rest = &source[end..];
        let (cut_from, cut_to) = if rest.trim_start().starts_with(',') {
            let comma = end + rest.find(',')? + 1;
            (start, comma + (source[comma..].len() - source[comma..].trim_start_matches(' ').len()))
        } else {
            match source[..start].trim_end().strip_suffix(',') {
                Some(before) => (before.len(), end),
                None => (start, end),
            }
        };
        return Some(format!("{}{}", &source[..cut_from], &source[cut_to..]));
    }
    // A block sequence: the item's line goes; the last item leaves `key: []` behind.
    let line = usize::try_from(item.pos.line).ok()?.checked_sub(1)?;
    if !text.line(line)?.trim_start().starts_with("- ") {
        return None;
    }
    let line_start = text.line_starts[line];
    let line_end = text.line_starts.get(line + 1).copied().unwrap_or(source.len());
    let without = format!("{}{}", &source[..line_start], &source[line_end..]);
    if items.len() > 1 {
        return Some(without);
    }
    let key = key?;
    let key_start = text.offset(key.pos.line, key.pos.column)?;
    let colon = key_start + source[key_start..].find(':')? + 1;
    (colon < line_start).then(|| format!("{} []{}", &without[..colon], &without[colon..]))
}

/// The text with `item` added at the end of a flow (`[a, b]`) or block (`- a`) sequence.
fn append_to_seq(text: &Text, seq: &Node, items: &[Node], item: &Value) -> Option<String> {
    let start = text.offset(seq.pos.line, seq.pos.column)?;
    if text.is_flow_at(start) {
        let close = closing_bracket(text.source, start)?;
        let body_end = text.source[..close].trim_end().len();
        let separator = if body_end == start + 1 { "" } else { ", " };
        let (before, after) = (&text.source[..body_end], &text.source[body_end..]);
        return Some(format!("{before}{separator}{}{after}", yaml_scalar(item)));
    }
    // A block sequence: a new `- item` line at the dashes' indentation, after the last item.
    let first_line = text.line(usize::try_from(items.first()?.pos.line).ok()?.checked_sub(1)?)?;
    let trimmed = first_line.trim_start();
    if !trimmed.starts_with("- ") {
        return None;
    }
    let indent = first_line.len() - trimmed.len();
    let mut insert_after = usize::try_from(items.last()?.pos.line).ok()?.checked_sub(1)?;
    let mut index = insert_after + 1;
    while let Some(line) = text.line(index) {
        let rest = line.trim_start();
        if !rest.is_empty() && !rest.starts_with('#') && line.len() - rest.len() > indent {
            insert_after = index;
        } else if !rest.is_empty() && !rest.starts_with('#') {
            break;
        }
        index += 1;
    }
    let line = format!("{}- {}\n", " ".repeat(indent), yaml_scalar(item));
    Some(match text.line_starts.get(insert_after + 1).copied() {
        Some(at) => format!("{}{line}{}", &text.source[..at], &text.source[at..]),
        None => format!("{}\n{}", text.source, line.trim_end_matches('\n')),
    })
}

/// The offset of the `]` or `}` that closes the flow collection opening at `start`.
fn closing_bracket(source: &str, start: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quote = None;
    for (i, c) in source[start..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '{' | '[') => depth += 1,
            (None, '}' | ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(start + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A value as YAML writes it on one line: booleans and numbers bare, strings in double quotes
/// (JSON's escapes are YAML's), except a lowercase word such as `email_otp`, which the plan's
/// enums are and admins write bare; YAML 1.1's booleans and null stay quoted.
pub fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::String(s)
            if s.starts_with(|c: char| c.is_ascii_lowercase())
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && !matches!(s.as_str(), "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n") =>
        {
            s.clone()
        }
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        // A flow list of scalars: `[rroe, "Zoë Smith"]`.
        Value::Array(items) => format!("[{}]", items.iter().map(yaml_scalar).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// The text with the keys of `path` that the plan lacks added, the last one set to `value`; else
/// why not.
fn insert_missing(tree: &Node, text: &Text, path: &Path, value: &Value) -> Result<String, &'static str> {
    let (ancestor, missing) = deepest_existing(tree, path);
    let keys: Option<Vec<&str>> = missing
        .iter()
        .map(|s| match s {
            Segment::Key(k) => Some(&**k),
            Segment::Index(_) => None,
        })
        .collect();
    let keys = keys.ok_or("the list item it belongs to is not in the plan")?;
    insert_keys(text, ancestor, &keys, value).ok_or("the mapping it belongs to is empty or not a mapping")
}

fn deepest_existing<'a>(tree: &'a Node, path: &'a Path) -> (&'a Node, &'a [Segment]) {
    for keep in (0..path.0.len()).rev() {
        if let Some(found) = tree.find(&Path(path.0[..keep].to_vec())) {
            return (found.node, &path.0[keep..]);
        }
    }
    (tree, &path.0[..])
}

fn set_json(target: &mut Value, path: &[Segment], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        *target = value;
        return;
    };
    let slot = match (first, target) {
        (Segment::Key(k), Value::Object(map)) => {
            map.entry(k.to_string()).or_insert_with(|| Value::Object(Default::default()))
        }
        (Segment::Index(i), Value::Array(items)) => match items.get_mut(*i) {
            Some(item) => item,
            None => return,
        },
        _ => return,
    };
    set_json(slot, rest, value);
}

/// The source with a way to turn the tree's line:column into byte offsets.
struct Text<'a> {
    source: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Text<'a> {
    fn new(source: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        Text { source, line_starts }
    }

    /// Byte offset of a 1-based line and (character) column.
    fn offset(&self, line: u64, column: u64) -> Option<usize> {
        let start = *self.line_starts.get(usize::try_from(line).ok()?.checked_sub(1)?)?;
        let line_text = &self.source[start..];
        let skip = usize::try_from(column).ok()?.checked_sub(1)?;
        match line_text.char_indices().nth(skip) {
            Some((i, _)) => Some(start + i),
            None if line_text.chars().count() == skip => Some(start + line_text.len()),
            None => None,
        }
    }

    fn line(&self, index: usize) -> Option<&'a str> {
        let start = *self.line_starts.get(index)?;
        let end = self.line_starts.get(index + 1).map_or(self.source.len(), |next| next - 1);
        Some(self.source[start..end].trim_end_matches('\r'))
    }

    /// Whether the collection starting at `offset` is written in flow style (`{ … }` / `[ … ]`).
    fn is_flow_at(&self, offset: usize) -> bool {
        matches!(self.source[offset..].chars().next(), Some('{' | '['))
    }
}

/// Where a plain or quoted scalar that starts at `start` ends (exclusive), in block or flow context.
fn scalar_end(source: &str, start: usize, in_flow: bool) -> Option<usize> {
    let rest = &source[start..];
    let mut chars = rest.char_indices().peekable();
    match chars.peek()?.1 {
        '"' => {
            chars.next();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => return Some(start + i + 1),
                    '\n' => return None,
                    _ => {}
                }
            }
            None
        }
        '\'' => {
            chars.next();
            while let Some((i, c)) = chars.next() {
                if c == '\'' {
                    if chars.peek().map(|(_, c)| *c) == Some('\'') {
                        chars.next();
                        continue;
                    }
                    return Some(start + i + 1);
                }
                if c == '\n' {
                    return None;
                }
            }
            None
        }
        // Block scalars, aliases, anchors and tags are left to the admin.
        '|' | '>' | '*' | '&' | '!' => None,
        _ => {
            let line_end = rest.find('\n').unwrap_or(rest.len());
            let line = &rest[..line_end];
            let mut end = line.len();
            for (i, c) in line.char_indices() {
                let comment = c == '#' && i > 0 && line[..i].ends_with([' ', '\t']);
                let flow_end = in_flow && matches!(c, ',' | '}' | ']');
                if comment || flow_end {
                    end = i;
                    break;
                }
            }
            let value = line[..end].trim_end();
            (!value.is_empty()).then_some(start + value.len())
        }
    }
}

fn replace_scalar(text: &Text, node: &Node, value: &Value) -> Option<String> {
    if matches!(node.kind, NodeKind::Seq(_) | NodeKind::Map(_)) || matches!(value, Value::Object(_) | Value::Array(_)) {
        return None;
    }
    let start = text.offset(node.pos.line, node.pos.column)?;
    // A scalar inside `{ … }` ends at the next `,` or `}`: look at what precedes it on its line.
    let line_start = text.source[..start].rfind('\n').map_or(0, |i| i + 1);
    let in_flow = flow_depth(&text.source[line_start..start]) > 0;
    let end = scalar_end(text.source, start, in_flow)?;
    let old = &text.source[start..end];
    let new = yaml_scalar(value);

    // Keep an aligned trailing comment where it was: pad a shorter value, eat spaces for a longer one.
    let after = &text.source[end..];
    let spaces = after.len() - after.trim_start_matches(' ').len();
    let comment_follows = after[spaces..].starts_with('#') && spaces > 0;
    let mut replacement = new.clone();
    let mut consumed = end;
    if comment_follows {
        let old_len = old.chars().count();
        let new_len = new.chars().count();
        if new_len < old_len {
            replacement.push_str(&" ".repeat(old_len - new_len));
        } else if new_len > old_len {
            consumed += (new_len - old_len).min(spaces - 1);
        }
    }
    Some(format!("{}{replacement}{}", &text.source[..start], &text.source[consumed..]))
}

/// How many flow collections are open at the end of `prefix` (quotes respected).
fn flow_depth(prefix: &str) -> i32 {
    let mut depth = 0;
    let mut quote = None;
    for c in prefix.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '{' | '[') => depth += 1,
            (None, '}' | ']') => depth -= 1,
            (None, '#') => break,
            _ => {}
        }
    }
    depth
}

fn insert_keys(text: &Text, mapping: &Node, keys: &[&str], value: &Value) -> Option<String> {
    let NodeKind::Map(entries) = &mapping.kind else { return None };
    let (first_key, _) = entries.first()?;
    let start = text.offset(mapping.pos.line, mapping.pos.column)?;
    if text.is_flow_at(start) {
        return insert_in_flow(text, start, keys, value);
    }

    // A block mapping: a new line at the mapping's indentation, after its last entry (and after
    // every more-indented line that belongs to that entry's value).
    let indent = usize::try_from(first_key.pos.column).ok()?.checked_sub(1)?;
    let (last_key, _) = entries.last()?;
    let mut insert_after = usize::try_from(last_key.pos.line).ok()?.checked_sub(1)?;
    let mut index = insert_after + 1;
    while let Some(line) = text.line(index) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            index += 1;
            continue;
        }
        if line.len() - trimmed.len() > indent {
            insert_after = index;
            index += 1;
            continue;
        }
        break;
    }
    let mut lines = String::new();
    for (depth, key) in keys.iter().enumerate() {
        lines.push_str(&" ".repeat(indent + 2 * depth));
        lines.push_str(&yaml_key(key));
        lines.push(':');
        if depth + 1 == keys.len() {
            lines.push(' ');
            lines.push_str(&yaml_scalar(value));
        }
        lines.push('\n');
    }
    let at = text.line_starts.get(insert_after + 1).copied();
    Some(match at {
        Some(at) => format!("{}{lines}{}", &text.source[..at], &text.source[at..]),
        None => format!("{}\n{}", text.source, lines.trim_end_matches('\n')),
    })
}

fn insert_in_flow(text: &Text, start: usize, keys: &[&str], value: &Value) -> Option<String> {
    let close = closing_bracket(text.source, start)?;
    let mut entry = yaml_scalar(value);
    for (depth, key) in keys.iter().enumerate().rev() {
        entry = if depth + 1 == keys.len() {
            format!("{}: {entry}", yaml_key(key))
        } else {
            format!("{}: {{ {entry} }}", yaml_key(key))
        };
    }
    let body_end = text.source[..close].trim_end().len();
    let (before, after) = (&text.source[..body_end], &text.source[body_end..]);
    Some(format!("{before}, {entry}{after}"))
}

fn yaml_key(key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        key.to_owned()
    } else {
        serde_json::to_string(key).unwrap_or_default()
    }
}

/// A recording proposed for the plan file on disk: what the admin reviews, then `write`s.
#[derive(Debug)]
pub struct PlanFileEdit {
    pub path: std::path::PathBuf,
    pub file: String,
    pub edit: Edit,
}

impl PlanFileEdit {
    /// Reads the plan file and proposes setting `path` to `value`; `Ok(None)` when the file says so
    /// already. The edited plan must still pass every check, or nothing is proposed.
    pub fn propose(
        plan_file: &std::path::Path,
        path: &Path,
        value: &Value,
    ) -> Result<Option<PlanFileEdit>, crate::error::Error> {
        PlanFileEdit::propose_with(plan_file, |source| set(source, path, value))
    }

    /// Proposes what `line` records with `value`: sets it, or adds it to the list it names.
    pub fn record(
        plan_file: &std::path::Path,
        line: &RecordLine,
        value: &Value,
    ) -> Result<Option<PlanFileEdit>, crate::error::Error> {
        if line.append {
            PlanFileEdit::propose_with(plan_file, |source| record_in_list(source, &line.path, value))
        } else {
            PlanFileEdit::propose(plan_file, &line.path, value)
        }
    }

    fn propose_with(
        plan_file: &std::path::Path,
        edit: impl FnOnce(&str) -> Result<Option<Edit>, RecordRefused>,
    ) -> Result<Option<PlanFileEdit>, crate::error::Error> {
        let file = plan_file.display().to_string();
        let source = super::load::decode(&file, super::load::read_plan_bytes(plan_file, &file)?)?;
        let Some(edit) = edit(&source).map_err(|refused| crate::error::Error::Precondition {
            message: format!("could not record the step in {file}: {refused}"),
            hint: "edit the plan file by hand; kiro-onboard changes it only when the edit is provably that one value"
                .into(),
        })?
        else {
            return Ok(None);
        };
        super::load::parse(&file, edit.after.clone())?;
        Ok(Some(PlanFileEdit { path: plan_file.to_owned(), file, edit }))
    }

    /// Writes the edited plan in place of the old one (a new file renamed over it, same
    /// permissions), unless the file changed since it was read: then nothing is written.
    pub fn write(&self) -> Result<(), crate::error::Error> {
        let failed = |source: std::io::Error| crate::error::Error::Write { path: self.file.clone(), source };
        let now = std::fs::read(&self.path).map_err(failed)?;
        if now != self.edit.before.as_bytes() {
            return Err(crate::error::Error::Precondition {
                message: format!("{} changed while kiro-onboard was recording the step; it was not written", self.file),
                hint: "run the command again: it reads the file anew".into(),
            });
        }
        // The plan keeps its own mode; the new text goes through an exclusively created file.
        #[cfg(unix)]
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            std::fs::symlink_metadata(&self.path).map_err(failed)?.permissions().mode() & 0o777
        };
        #[cfg(not(unix))]
        let mode = 0o644;
        crate::files::write_atomically(&self.path, self.edit.after.as_bytes(), mode).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(source: &str, path: &str, value: Value) -> String {
        set(source, &parse_path(path).unwrap(), &value).unwrap().expect("an edit").after
    }

    #[test]
    fn a_value_is_replaced_and_its_comment_stays_in_its_column() {
        let source = "kiro:\n  console:\n    profile_created: false   # set to true\n";
        assert_eq!(
            record(source, "kiro.console.profile_created", json!(true)),
            "kiro:\n  console:\n    profile_created: true    # set to true\n"
        );
    }

    #[test]
    fn a_value_in_a_flow_mapping_is_replaced_in_place() {
        let source = "kiro:\n  console:\n    subscribe:\n      - { group: devs, tier: pro, done: false }   # note\n";
        assert_eq!(
            record(source, "kiro.console.subscribe[0].done", json!(true)),
            "kiro:\n  console:\n    subscribe:\n      - { group: devs, tier: pro, done: true }   # note\n"
        );
    }

    #[test]
    fn a_missing_key_is_added_to_a_flow_mapping() {
        let source = "domains:\n  - { name: example.com, record: kiro-app-1 }  # ours\n";
        assert_eq!(
            record(source, "domains[0].token", json!("kiro-site-verification=abc")),
            "domains:\n  - { name: example.com, record: kiro-app-1, token: \"kiro-site-verification=abc\" }  # ours\n"
        );
    }

    #[test]
    fn a_missing_key_is_added_after_the_last_entry_of_a_block_mapping() {
        let source =
            "version: 1\nkiro:\n  profile_region: us-east-1  # here\n  # a comment\n\naws:\n  region: us-east-1\n";
        assert_eq!(
            record(source, "kiro.console.profile_created", json!(true)),
            "version: 1\nkiro:\n  profile_region: us-east-1  # here\n  console:\n    profile_created: true\n  # a comment\n\naws:\n  region: us-east-1\n"
        );
    }

    #[test]
    fn a_key_after_a_nested_block_lands_after_that_block() {
        let source = "okta:\n  provisioning:\n    app_label: AWS\n    scim_token:\n      env: T\n  app_label: Kiro\n";
        assert_eq!(
            record(source, "okta.provisioning.done", json!(true)),
            "okta:\n  provisioning:\n    app_label: AWS\n    scim_token:\n      env: T\n    done: true\n  app_label: Kiro\n"
        );
    }

    #[test]
    fn quoted_values_non_ascii_text_and_no_final_newline_are_handled() {
        let source = "kiro:\n  console:\n    subscribe:\n      - { group: \"Zoë's, team\", done: 'no' }";
        let after = record(source, "kiro.console.subscribe[0].done", json!(true));
        assert_eq!(after, "kiro:\n  console:\n    subscribe:\n      - { group: \"Zoë's, team\", done: true }");
        let source = "kiro:\n  profile_region: us-east-1";
        assert_eq!(
            record(source, "kiro.console.profile_created", json!(true)),
            "kiro:\n  profile_region: us-east-1\n  console:\n    profile_created: true"
        );
    }

    #[test]
    fn an_enum_value_is_written_bare_and_a_word_yaml_reads_otherwise_is_quoted() {
        let source = "identity_center:\n  users: []  # none yet\n";
        assert_eq!(
            record(source, "identity_center.first_sign_in", json!("email_otp")),
            "identity_center:\n  users: []  # none yet\n  first_sign_in: email_otp\n"
        );
        for (word, written) in [("yes", "\"yes\""), ("null", "\"null\""), ("Pro", "\"Pro\""), ("a b", "\"a b\"")] {
            assert_eq!(yaml_scalar(&json!(word)), written);
        }
    }

    #[test]
    fn a_value_already_set_is_no_edit() {
        let source = "kiro:\n  console:\n    profile_created: true\n";
        assert_eq!(set(source, &parse_path("kiro.console.profile_created").unwrap(), &json!(true)), Ok(None));
    }

    #[test]
    fn what_cannot_be_edited_safely_is_refused_with_the_line_to_set() {
        for (source, path) in [
            ("kiro:\n  console: &c\n    profile_created: false\nother: *c\n", "kiro.console.profile_created"),
            ("kiro:\n  console:\n", "kiro.console.profile_created"),
            ("kiro:\n  console:\n    subscribe: []\n", "kiro.console.subscribe[0].done"),
        ] {
            let refused = set(source, &parse_path(path).unwrap(), &json!(true)).unwrap_err();
            assert!(refused.0.contains(&format!("set `{path}: true` in the plan by hand")), "{refused}");
        }
    }

    #[test]
    fn record_lines_from_the_console_templates_parse() {
        let line = RecordLine::parse("kiro.console.subscribe[2].done: true").unwrap();
        assert_eq!(line.path.to_string(), "kiro.console.subscribe[2].done");
        assert_eq!(line.value, RecordValue::Known(json!(true)));
        let line = RecordLine::parse("domains[0].token: \"<the token Kiro shows>\"").unwrap();
        assert_eq!(line.value, RecordValue::Placeholder("the token Kiro shows".into()));
    }

    fn appended(source: &str, item: &str) -> String {
        append(source, &parse_path("kiro.console.unsubscribed").unwrap(), &json!(item)).unwrap().expect("an edit").after
    }

    #[test]
    fn a_name_is_added_to_a_list_of_either_style_or_the_list_is_created() {
        let source = "kiro:\n  console:\n    profile_created: true  # done\n";
        assert_eq!(
            appended(source, "rroe"),
            "kiro:\n  console:\n    profile_created: true  # done\n    unsubscribed: [rroe]\n"
        );
        let source = "kiro:\n  console:\n    unsubscribed: []   # who left\n";
        assert_eq!(appended(source, "rroe"), "kiro:\n  console:\n    unsubscribed: [rroe]   # who left\n");
        let source = "kiro:\n  console:\n    unsubscribed: [jdoe]\n";
        assert_eq!(appended(source, "Zoë Smith"), "kiro:\n  console:\n    unsubscribed: [jdoe, \"Zoë Smith\"]\n");
        let source = "kiro:\n  console:\n    unsubscribed:\n      - jdoe  # March\n    # later\naws: {}\n";
        assert_eq!(
            appended(source, "rroe"),
            "kiro:\n  console:\n    unsubscribed:\n      - jdoe  # March\n      - rroe\n    # later\naws: {}\n"
        );
        let source = "kiro:\n  console:\n    unsubscribed: [rroe]\n";
        assert_eq!(append(source, &parse_path("kiro.console.unsubscribed").unwrap(), &json!("rroe")), Ok(None));
        let line = RecordLine::parse("kiro.console.unsubscribed: [..., rroe]").unwrap();
        assert!(line.append);
        assert_eq!(line.value, RecordValue::Known(json!("rroe")));
        assert_eq!(line.describe(&json!("rroe")), "kiro.console.unsubscribed: [..., rroe]");
    }

    #[test]
    fn a_name_recorded_as_unsubscribed_leaves_the_list_to_unsubscribe() {
        let path = parse_path("kiro.console.unsubscribed").unwrap();
        let moved = |source: &str| record_in_list(source, &path, &json!("rroe")).unwrap().expect("an edit").after;
        assert_eq!(
            moved("kiro:\n  console:\n    unsubscribe: [jdoe, rroe]  # left\n    unsubscribed: [ann]\n"),
            "kiro:\n  console:\n    unsubscribe: [jdoe]  # left\n    unsubscribed: [ann, rroe]\n"
        );
        assert_eq!(
            moved("kiro:\n  console:\n    unsubscribe: [rroe, jdoe]\n"),
            "kiro:\n  console:\n    unsubscribe: [jdoe]\n    unsubscribed: [rroe]\n"
        );
        assert_eq!(
            moved("kiro:\n  console:\n    unsubscribe:\n      - rroe   # March\n"),
            "kiro:\n  console:\n    unsubscribe: []\n    unsubscribed: [rroe]\n"
        );
        assert_eq!(
            moved("kiro:\n  console:\n    unsubscribe:\n      - jdoe\n      - rroe\n    unsubscribed:\n      - ann\n"),
            "kiro:\n  console:\n    unsubscribe:\n      - jdoe\n    unsubscribed:\n      - ann\n      - rroe\n"
        );
        // Already moved: nothing to do.
        assert_eq!(record_in_list("kiro:\n  console:\n    unsubscribed: [rroe]\n", &path, &json!("rroe")), Ok(None));
    }

    #[test]
    fn the_diff_shows_only_the_changed_lines_with_context() {
        let edit = Edit { before: "a\nb\nc: false\nd\ne\nf\n".into(), after: "a\nb\nc: true\nd\ne\nf\n".into() };
        assert_eq!(
            edit.diff("p.yaml"),
            "--- p.yaml\n+++ p.yaml\n@@ -1,5 +1,5 @@\n a\n b\n-c: false\n+c: true\n d\n e\n"
        );
    }
}
