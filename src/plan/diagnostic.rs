//! Problems found in a plan file, and how they are shown: `file:line:column`, what is wrong, the
//! offending line with a marker under it, and a `hint:` saying how to fix it.

use std::fmt::Write as _;

use serde::Serialize;

use super::tree::Pos;

#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    /// Where in the plan, as a path such as `identity_center.users[3].email`.
    pub path: String,
    pub line: u64,
    pub column: u64,
    #[serde(skip)]
    pub len: u64,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The value may be a secret: the rendered snippet must not show it.
    #[serde(skip)]
    pub sensitive: bool,
}

impl Diagnostic {
    pub fn new(path: impl ToString, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_string(),
            line: pos.line,
            column: pos.column,
            len: pos.len,
            message: message.into(),
            hint: None,
            sensitive: false,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Every problem in one plan file, in file order.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    pub file: String,
    pub source: String,
    pub items: Vec<Diagnostic>,
    /// Where values that may be secrets start (inline values where a secret reference belongs):
    /// a line shown for any problem is cut before the first of them on it.
    pub secrets: Vec<Pos>,
}

/// A shown line is cut to about this many characters: a one-line plan of megabytes is not echoed.
const MAX_SHOWN_CHARS: usize = 200;
/// A message is cut to this many characters (it may quote a value from the plan).
const MAX_MESSAGE_CHARS: usize = 1000;

/// `text` with control characters shown escaped (`\u{1b}`), so that a plan or a server cannot
/// drive the terminal, and cut to `max` characters.
pub fn printable(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == max {
            out.push('…');
            break;
        }
        push_printable(&mut out, c);
    }
    out
}

/// `c`, or its escape when it is a control character.
fn push_printable(out: &mut String, c: char) {
    if c.is_control() {
        out.extend(c.escape_default());
    } else {
        out.push(c);
    }
}

/// One line of the plan as shown under a problem: secrets from `hide_from` (a 0-based character
/// column) on replaced, control characters escaped, and cut to a window around `start`. Returns
/// the text and the display column of `start`.
fn shown_line(text: &str, start: usize, hide_from: Option<usize>) -> (String, usize) {
    let chars: Vec<char> = text.trim_end().chars().collect();
    let visible = hide_from.map_or(chars.len(), |h| h.min(chars.len()));
    let offset = if start > MAX_SHOWN_CHARS * 3 / 4 { start - MAX_SHOWN_CHARS / 4 } else { 0 }.min(visible);
    let mut out = String::new();
    let mut caret = 0;
    if offset > 0 {
        out.push('…');
    }
    for (i, c) in chars[offset..visible].iter().enumerate() {
        if offset + i == start {
            caret = out.chars().count();
        }
        if i == MAX_SHOWN_CHARS {
            out.push('…');
            break;
        }
        push_printable(&mut out, *c);
    }
    if start >= visible || (start >= offset && caret == 0 && start != offset) {
        caret = out.chars().count();
    }
    if hide_from.is_some() {
        out.push_str("(value not shown)");
    }
    (out, caret)
}

impl Diagnostics {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let lines: Vec<&str> = self.source.lines().collect();
        for d in &self.items {
            let message = printable(&d.message, MAX_MESSAGE_CHARS);
            if d.line == 0 {
                let _ = writeln!(out, "{}: error: {message}", self.file);
            } else {
                let _ = writeln!(out, "{}:{}:{}: error: {message}", self.file, d.line, d.column);
                if let Some(text) = lines.get((d.line - 1) as usize) {
                    let number = d.line.to_string();
                    let gutter = " ".repeat(number.len());
                    let start = (d.column.saturating_sub(1)) as usize;
                    // Up to the first value on the line that may be a secret, then a placeholder:
                    // a pasted secret never reaches a log, whichever problem shows its line.
                    let hide_from = self
                        .secrets
                        .iter()
                        .filter(|p| p.line == d.line)
                        .map(|p| p.column.saturating_sub(1) as usize)
                        .chain(d.sensitive.then_some(start))
                        .min();
                    let (shown, caret) = shown_line(text, start, hide_from);
                    let visible = shown.chars().count();
                    let width = (d.len as usize).clamp(1, visible.saturating_sub(caret).clamp(1, MAX_SHOWN_CHARS));
                    let _ = writeln!(out, "{gutter} |");
                    let _ = writeln!(out, "{number} | {shown}");
                    let _ = writeln!(out, "{gutter} | {}{}", " ".repeat(caret), "^".repeat(width));
                }
            }
            if let Some(hint) = &d.hint {
                let _ = writeln!(out, "  hint: {}", printable(hint, MAX_MESSAGE_CHARS));
            }
            out.push('\n');
        }
        let count = self.items.len();
        let _ = write!(
            out,
            "error: {} has {count} problem{}; nothing was contacted",
            self.file,
            if count == 1 { "" } else { "s" }
        );
        out
    }
}

pub use crate::shared::words::did_you_mean;

#[cfg(test)]
mod tests {
    use super::*;

    fn one(source: &str, d: Diagnostic, secrets: Vec<Pos>) -> String {
        Diagnostics { file: "p.yaml".into(), source: source.into(), items: vec![d], secrets }.render()
    }

    #[test]
    fn every_secret_on_a_shown_line_is_hidden_whichever_problem_shows_it() {
        let source = "entra: { scim_token: canary-inline-secret, bogus: 1 }\n";
        let unknown = Diagnostic::new("entra.bogus", Pos { line: 1, column: 45, len: 5 }, "unknown key `bogus`");
        let secret = Pos { line: 1, column: 22, len: 20 };
        let text = one(source, unknown, vec![secret]);
        assert!(!text.contains("canary"), "{text}");
        assert!(text.contains("(value not shown)"), "{text}");
    }

    #[test]
    fn long_lines_are_cut_and_control_characters_escaped() {
        let source = format!("okta: {{ org_url: \u{1b}[31mred, x: {} }}\n", "y".repeat(5_000_000));
        let d = Diagnostic::new("okta.x", Pos { line: 1, column: 5_000_020, len: 1 }, "a \u{1b}]0;title\u{7} problem");
        let text = one(&source, d, Vec::new());
        assert!(text.len() < 2_000, "{} bytes", text.len());
        assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{text:?}");
        let d = Diagnostic::new("okta.org_url", Pos { line: 1, column: 18, len: 3 }, "bad");
        let text = one(&source, d, Vec::new());
        assert!(text.contains("\\u{1b}[31mred"), "{text}");
        assert!(text.len() < 2_000, "{} bytes", text.len());
    }

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["users", "groups", "instance_arn"];
        assert_eq!(did_you_mean("usres", keys), Some("users"));
        assert_eq!(did_you_mean("Groups", keys), Some("groups"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }
}
