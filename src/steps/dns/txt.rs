//! TXT values as Route 53 writes them: each value is one or more `"…"` character-strings of at most
//! 255 bytes, inside one `Value`, with `"` and `\` escaped and other special bytes as `\ooo`
//! (three octal digits). What a TXT verification compares is the strings joined together.

/// The longest character-string a TXT record can hold.
pub const MAX_STRING: usize = 255;

/// `value` in Route 53's presentation format: quoted, split into 255-byte strings.
pub fn encode(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return "\"\"".into();
    }
    bytes
        .chunks(MAX_STRING)
        .map(|chunk| {
            let mut out = String::with_capacity(chunk.len() + 2);
            out.push('"');
            for &b in chunk {
                match b {
                    b'"' => out.push_str("\\\""),
                    b'\\' => out.push_str("\\\\"),
                    0x20..=0x7e => out.push(b as char),
                    _ => out.push_str(&format!("\\{b:03o}")),
                }
            }
            out.push('"');
            out
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text a value means: its character-strings unquoted, unescaped and joined. A value that is
/// not quoted (some tools write them that way) is read as one string.
pub fn decode(value: &str) -> String {
    let trimmed = value.trim();
    if !trimmed.starts_with('"') {
        return trimmed.to_owned();
    }
    let mut out: Vec<u8> = Vec::with_capacity(trimmed.len());
    let bytes = trimmed.as_bytes();
    let mut i = 0;
    let mut inside = false;
    while i < bytes.len() {
        let b = bytes[i];
        if !inside {
            if b == b'"' {
                inside = true;
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                inside = false;
                i += 1;
            }
            b'\\' if is_octal_escape(&bytes[i + 1..]) => {
                let digits = &bytes[i + 1..i + 4];
                let code = digits.iter().fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(code.min(255) as u8);
                i += 4;
            }
            b'\\' if i + 1 < bytes.len() => {
                out.push(bytes[i + 1]);
                i += 2;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_octal_escape(rest: &[u8]) -> bool {
    rest.len() >= 3 && rest[..3].iter().all(|d| (b'0'..=b'7').contains(d))
}

/// A zone-file line for the record, for any DNS provider.
pub fn zone_file_line(fqdn: &str, ttl: i64, value: &str) -> String {
    format!("{fqdn}. {ttl} IN TXT {}", encode(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_txt_values_never_panic_and_round_trip() {
        let seeds = vec![encode(&"k".repeat(600)).into_bytes(), br#""v=spf1 " "include:x -all" "a\011b\""#.to_vec()];
        let pieces = &["\"", "\\", "\\0", "\\777", "\\9", " ", "\u{ff}"];
        crate::fuzz::run("txt", &seeds, pieces, 5_000, |input| {
            let text = String::from_utf8_lossy(input);
            let _ = decode(&text);
            // Whatever a value holds, writing it and reading it back gives it again.
            assert_eq!(decode(&encode(&text)), text);
        });
    }

    #[test]
    fn short_values_are_quoted() {
        assert_eq!(encode("kiro=abc"), "\"kiro=abc\"");
        assert_eq!(decode("\"kiro=abc\""), "kiro=abc");
        assert_eq!(encode("say \"hi\" \\o/"), r#""say \"hi\" \\o/""#);
        assert_eq!(decode(r#""say \"hi\" \\o/""#), "say \"hi\" \\o/");
    }

    #[test]
    fn long_values_are_split_into_255_byte_strings() {
        let long = "k".repeat(600);
        let encoded = encode(&long);
        let parts: Vec<&str> = encoded.split(' ').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].len(), 257);
        assert_eq!(parts[2].len(), 600 - 510 + 2);
        assert_eq!(decode(&encoded), long);
    }

    #[test]
    fn special_bytes_use_octal_escapes() {
        assert_eq!(encode("a\tb"), "\"a\\011b\"");
        assert_eq!(decode("\"a\\011b\""), "a\tb");
        assert_eq!(decode(&encode("café")), "café");
    }

    #[test]
    fn unquoted_and_multi_string_values() {
        assert_eq!(decode("v=spf1 -all"), "v=spf1 -all");
        assert_eq!(decode("\"v=spf1 \" \"include:x -all\""), "v=spf1 include:x -all");
        assert_eq!(zone_file_line("kiro-app-1.example.com", 300, "t"), "kiro-app-1.example.com. 300 IN TXT \"t\"");
    }
}
