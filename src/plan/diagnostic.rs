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
}

impl Diagnostics {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let lines: Vec<&str> = self.source.lines().collect();
        for d in &self.items {
            if d.line == 0 {
                let _ = writeln!(out, "{}: error: {}", self.file, d.message);
            } else {
                let _ = writeln!(out, "{}:{}:{}: error: {}", self.file, d.line, d.column, d.message);
                if let Some(text) = lines.get((d.line - 1) as usize) {
                    let number = d.line.to_string();
                    let gutter = " ".repeat(number.len());
                    let start = (d.column.saturating_sub(1)) as usize;
                    // Up to the value, then a placeholder: a pasted secret never reaches a log.
                    let hidden;
                    let text = if d.sensitive {
                        hidden = format!("{}(value not shown)", text.chars().take(start).collect::<String>());
                        hidden.as_str()
                    } else {
                        text.trim_end()
                    };
                    let visible = text.chars().count();
                    let width = (d.len as usize).clamp(1, visible.saturating_sub(start).max(1));
                    let _ = writeln!(out, "{gutter} |");
                    let _ = writeln!(out, "{number} | {text}");
                    let _ = writeln!(out, "{gutter} | {}{}", " ".repeat(start), "^".repeat(width));
                }
            }
            if let Some(hint) = &d.hint {
                let _ = writeln!(out, "  hint: {hint}");
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

/// The closest of `candidates` to `word`, when it is close enough to be what the admin meant.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_lower = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word_lower, &c.to_lowercase()), c))
        .filter(|(distance, c)| *distance <= c.chars().count().max(word.chars().count()).div_ceil(3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: like Levenshtein, but a swap of two neighbours (`usres`)
/// counts as one edit, which is how people mistype.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["users", "groups", "instance_arn"];
        assert_eq!(did_you_mean("usres", keys), Some("users"));
        assert_eq!(did_you_mean("Groups", keys), Some("groups"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }
}
