//! Writes a typed plan as block YAML with a comment beside the keys that need one. The plan is
//! serialised through serde (the same field names the loader reads), never by hand, so what is
//! written always loads back into the same plan.

use serde_json::Value;

/// A comment for the key at a dotted path (list items do not add to the path).
pub type Comments<'a> = &'a [(&'a str, &'a str)];

pub fn render(header: &str, value: &Value, comments: Comments) -> String {
    let mut out = String::from(header);
    if let Value::Object(map) = value {
        for (key, item) in map {
            out.push('\n');
            entry(&mut out, 0, key, key, item, comments);
        }
    }
    out
}

fn comment_for<'a>(path: &str, comments: Comments<'a>) -> Option<&'a str> {
    comments.iter().find(|(p, _)| *p == path).map(|(_, c)| *c)
}

fn line(out: &mut String, text: String, comment: Option<&str>) {
    out.push_str(&text);
    if let Some(comment) = comment {
        out.push_str("   # ");
        out.push_str(comment);
    }
    out.push('\n');
}

fn entry(out: &mut String, indent: usize, key: &str, path: &str, value: &Value, comments: Comments) {
    let pad = " ".repeat(indent);
    let comment = comment_for(path, comments);
    match value {
        Value::Object(map) if !map.is_empty() => {
            line(out, format!("{pad}{key}:"), comment);
            for (k, v) in map {
                entry(out, indent + 2, k, &format!("{path}.{k}"), v, comments);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            line(out, format!("{pad}{key}:"), comment);
            for item in items {
                list_item(out, indent + 2, path, item, comments);
            }
        }
        other => line(out, format!("{pad}{key}: {}", scalar(other)), comment),
    }
}

fn list_item(out: &mut String, indent: usize, path: &str, value: &Value, comments: Comments) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (i, (k, v)) in map.iter().enumerate() {
                let mut nested = String::new();
                entry(&mut nested, indent + 2, k, &format!("{path}.{k}"), v, comments);
                if i == 0 {
                    // The first key goes on the dash's line.
                    nested.replace_range(indent..indent + 2, "- ");
                }
                out.push_str(&nested);
            }
        }
        other => line(out, format!("{pad}- {}", scalar(other)), None),
    }
}

/// A scalar as YAML: plain when it cannot be read as anything else, else JSON-quoted (a JSON
/// string is a valid YAML double-quoted scalar).
fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) if plain(text) => text.clone(),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

fn plain(text: &str) -> bool {
    const RESERVED: &[&str] = &["true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"];
    let first_ok = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    first_ok
        && !RESERVED.contains(&text.to_ascii_lowercase().as_str())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "_-./@:=".contains(c))
        && !text.ends_with(':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_of_maps_quoting_and_comments() {
        let value = json!({"a": {"b": [{"name": "x", "members": ["u1", "true"]}], "c": "1.5", "d": true}, "e": []});
        let text = render("# head\n", &value, &[("a.c", "why")]);
        assert_eq!(
            text,
            "# head\n\na:\n  b:\n    - name: x\n      members:\n        - u1\n        - \"true\"\n  c: \"1.5\"   # why\n  d: true\n\ne: []\n"
        );
    }
}
