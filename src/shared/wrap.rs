//! Prose wrapped at a width: at spaces, continuation lines indented two more than the line they
//! continue, a word longer than the width (a URL, an ARN) kept whole on its own line. Colour codes
//! take no width.

/// `text`, every line no wider than `width` where its words allow.
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        wrap_line(line, width, &mut out);
    }
    out
}

fn wrap_line(line: &str, width: usize, out: &mut String) {
    if visible_len(line) <= width {
        out.push_str(line);
        return;
    }
    let indent = line.len() - line.trim_start_matches(' ').len();
    let hanging = " ".repeat((indent + 2).min(width / 2));
    out.push_str(&line[..indent]);
    let mut used = indent;
    let mut rest = &line[indent..];
    let mut first = true;
    while !rest.is_empty() {
        // The gap before the word is kept as written (aligned columns stay aligned) unless the
        // word goes to a new line.
        let gap = rest.len() - rest.trim_start_matches(' ').len();
        rest = &rest[gap..];
        let end = rest.find(' ').unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        rest = after;
        if word.is_empty() {
            break;
        }
        let len = visible_len(word);
        if !first && used + gap + len > width {
            out.push('\n');
            out.push_str(&hanging);
            used = hanging.len();
        } else {
            out.push_str(&" ".repeat(gap));
            used += gap;
        }
        out.push_str(word);
        used += len;
        first = false;
    }
}

/// Characters a terminal shows: ANSI escape sequences (`ESC [ … letter`) take none.
fn visible_len(text: &str) -> usize {
    let mut len = 0;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            len += 1;
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn long_lines_wrap_at_spaces_with_a_hanging_indent_and_urls_stay_whole() {
        let text = "  wait: New members of a subscribed group can take 24 hours to get their seat in Kiro.";
        let wrapped = wrap(text, 40);
        assert!(wrapped.lines().all(|l| l.chars().count() <= 40), "{wrapped}");
        assert_eq!(wrapped.lines().nth(1).map(|l| l.starts_with("    ") && !l.starts_with("     ")), Some(true));
        assert_eq!(wrapped.split_whitespace().collect::<Vec<_>>(), text.split_whitespace().collect::<Vec<_>>());
        let url = "open https://example.com/a/very/long/path/that/cannot/be/broken/anywhere now";
        assert!(
            wrap(url, 20).lines().any(|l| l == "  https://example.com/a/very/long/path/that/cannot/be/broken/anywhere")
        );
        assert_eq!(wrap("short\n\nlines", 10), "short\n\nlines");
        assert_eq!(wrap("\u{1b}[1mhint\u{1b}[0m: abc", 9), "\u{1b}[1mhint\u{1b}[0m: abc");
    }
}
