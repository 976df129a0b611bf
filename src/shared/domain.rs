//! Domain names as Kiro's verification needs them: normalised (lower case, no trailing dot, IDNs
//! as punycode), well formed, and under a public suffix, because Kiro verifies with a public DNS
//! lookup and a private name (`.local`, `.internal`, `.corp`, …) stays "Pending" forever.

use std::fmt;

/// Special-use and commonly squatted private names that public DNS will never resolve (RFC 6761,
/// RFC 6762, RFC 8375, RFC 7686, ICANN's `.internal`, and names that intranets use by habit).
/// Some of these (`home.arpa`, `onion`) are in the Public Suffix List, so the list alone is not
/// enough.
const SPECIAL_USE: &[&str] = &[
    "local",
    "localhost",
    "localdomain",
    "test",
    "example",
    "invalid",
    "internal",
    "intranet",
    "private",
    "corp",
    "home",
    "lan",
    "alt",
    "onion",
    "home.arpa",
];

/// Why a name cannot be used, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameError {
    pub message: String,
    pub hint: String,
}

impl NameError {
    fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        NameError { message: message.into(), hint: hint.into() }
    }
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The two workarounds Kiro's Entra guide gives (docs/vendor-behaviour.md §1.4), for a name public
/// DNS cannot resolve.
pub const PRIVATE_NAME_HINT: &str = "Kiro verifies with a public DNS lookup, so a private name stays \"Pending\" forever. \
Verify a publicly resolvable domain or subdomain you control instead, \
or register the public domain your users sign in with (their email domain)";

/// `name` in the form DNS and the tool use: lower case, no trailing dot, IDNs as punycode.
/// Checks the shape only (labels, lengths, characters), not whether the name is public.
pub fn normalize(name: &str) -> Result<String, NameError> {
    let trimmed = name.trim();
    if trimmed != name {
        return Err(NameError::new(
            format!("`{name}` has spaces around it"),
            "write the name without spaces, e.g. example.com",
        ));
    }
    let without_dot = name.strip_suffix('.').unwrap_or(name);
    if without_dot.is_empty() {
        return Err(NameError::new("the domain name is empty", "write a domain name such as example.com"));
    }
    if without_dot.contains("://") || without_dot.contains('/') || without_dot.contains('@') {
        return Err(NameError::new(
            format!("`{name}` is not a domain name"),
            "write only the domain, such as example.com (no scheme, path or email address)",
        ));
    }
    check_ascii_shape(name, without_dot, false)?;
    let ascii = if without_dot.is_ascii() {
        without_dot.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii_strict(without_dot).map_err(|_| {
            NameError::new(
                format!("`{name}` is not a valid internationalised domain name"),
                "check the spelling; names with non-ASCII letters are written to DNS as punycode (xn--…)",
            )
        })?
    };
    check_ascii_shape(name, &ascii, true)?;
    if !ascii.contains('.') {
        return Err(NameError::new(
            format!("`{name}` is a single label, not a domain"),
            "write the full domain, such as example.com",
        ));
    }
    Ok(ascii)
}

fn check_ascii_shape(original: &str, name: &str, strict: bool) -> Result<(), NameError> {
    if name.len() > 253 {
        return Err(NameError::new(
            format!("`{original}` is longer than 253 characters"),
            "DNS names are at most 253 characters",
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(NameError::new(
                format!("`{original}` has an empty label (two dots in a row, or a leading dot)"),
                "write the name as labels separated by single dots, e.g. example.com",
            ));
        }
        if !strict && !label.is_ascii() {
            continue;
        }
        if label.len() > 63 {
            return Err(NameError::new(
                format!("`{original}`: the label `{label}` is longer than 63 characters"),
                "each part of a DNS name between dots is at most 63 characters",
            ));
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-')) {
            let what = if c == ' ' { "a space".to_owned() } else { format!("`{c}`") };
            return Err(NameError::new(
                format!("`{original}` contains {what}, which a domain name cannot contain"),
                "domain names use letters, digits and hyphens, with dots between labels",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(NameError::new(
                format!("`{original}`: the label `{label}` starts or ends with a hyphen"),
                "a label may contain hyphens, but not at its start or end",
            ));
        }
    }
    Ok(())
}

/// Checks that public DNS can resolve names under `ascii` (a name from `normalize`): it is not
/// special-use or private, it sits under a suffix of the Public Suffix List, and it is not itself a
/// public suffix (such as `com` or `co.uk`).
pub fn check_public(ascii: &str) -> Result<(), NameError> {
    for special in SPECIAL_USE {
        if ascii == *special || ascii.ends_with(&format!(".{special}")) {
            return Err(NameError::new(
                format!("`{ascii}` is under `.{special}`, which public DNS never resolves"),
                PRIVATE_NAME_HINT,
            ));
        }
    }
    // psl applies the implicit `*` rule to unknown TLDs, so a domain is always found: whether its
    // suffix is really listed is what matters.
    match psl::domain(ascii.as_bytes()) {
        None => Err(NameError::new(
            format!("`{ascii}` is a public suffix, not a domain anyone can own"),
            "write your own domain under it, such as example.com or example.co.uk",
        )),
        Some(domain) if !domain.suffix().is_known() => {
            let suffix = String::from_utf8_lossy(domain.suffix().as_bytes()).into_owned();
            Err(NameError::new(
                format!("`{ascii}` is under `.{suffix}`, which is not a public top-level domain"),
                PRIVATE_NAME_HINT,
            ))
        }
        Some(_) => Ok(()),
    }
}

/// The record prefix (`kiro-app-1`) in normal form: one or more labels of letters, digits,
/// hyphens and underscores, lower case.
pub fn normalize_record(record: &str) -> Result<String, NameError> {
    let without_dot = record.strip_suffix('.').unwrap_or(record);
    if without_dot.is_empty() {
        return Err(NameError::new(
            "the record name is empty",
            "write a prefix such as kiro-app-1, or leave `record` out for the default",
        ));
    }
    if !without_dot.is_ascii() {
        return Err(NameError::new(
            format!("the record name `{record}` contains non-ASCII characters"),
            "use a prefix of letters, digits and hyphens such as kiro-app-1",
        ));
    }
    for label in without_dot.split('.') {
        if label.is_empty() {
            return Err(NameError::new(
                format!("the record name `{record}` has an empty label"),
                "use a prefix such as kiro-app-1 (labels separated by single dots)",
            ));
        }
        if label.len() > 63 {
            return Err(NameError::new(
                format!("the record name `{record}` has a label longer than 63 characters"),
                "each part of a DNS name between dots is at most 63 characters",
            ));
        }
        if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
            let what = if c == ' ' { "a space".to_owned() } else { format!("`{c}`") };
            return Err(NameError::new(
                format!("the record name `{record}` contains {what}"),
                "use a prefix of letters, digits, hyphens and underscores such as kiro-app-1",
            ));
        }
    }
    Ok(without_dot.to_ascii_lowercase())
}

/// Where the zone holding `name` may start: `name` itself, then each parent, stopping before a
/// public suffix run by a registry (`com`, `co.uk`). Suffixes that companies run for their
/// customers (`github.io`) are zones like any other and stay in.
pub fn zone_candidates(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut candidate = name;
    loop {
        let registry_suffix = psl::suffix(candidate.as_bytes())
            .is_some_and(|s| s.as_bytes() == candidate.as_bytes() && s.typ() == Some(psl::Type::Icann));
        if registry_suffix || !candidate.contains('.') {
            break;
        }
        out.push(candidate.to_owned());
        match candidate.split_once('.') {
            Some((_, parent)) => candidate = parent,
            None => break,
        }
    }
    out
}

/// The full record name, `record.domain`, both in normal form.
pub fn fqdn(record: &str, domain: &str) -> String {
    format!("{record}.{domain}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_trailing_dot_and_idns() {
        assert_eq!(normalize("Example.COM.").unwrap(), "example.com");
        assert_eq!(normalize("bücher.de").unwrap(), "xn--bcher-kva.de");
        assert_eq!(normalize("xn--bcher-kva.de").unwrap(), "xn--bcher-kva.de");
        assert_eq!(normalize("sub.example.co.uk").unwrap(), "sub.example.co.uk");
    }

    #[test]
    fn rejects_malformed_names() {
        for bad in [
            "",
            ".",
            "example..com",
            ".example.com",
            "exa mple.com",
            "-example.com",
            "example-.com",
            "under_score.com",
            "https://example.com",
            "jdoe@example.com",
            "localhost",
            " example.com",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(normalize(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn private_names_are_rejected_with_the_workarounds() {
        for private in ["corp.internal", "host.local", "foo.corp", "app.home.arpa", "a.b.onion", "example.test", "x.zz"]
        {
            let error = check_public(&normalize(private).unwrap()).unwrap_err();
            assert_eq!(error.hint, PRIVATE_NAME_HINT, "{private}");
        }
        assert!(check_public("com").is_err());
        assert!(check_public("co.uk").is_err());
        assert!(check_public("example.com").is_ok());
        assert!(check_public("user.github.io").is_ok());
        assert!(check_public("xn--bcher-kva.de").is_ok());
    }

    #[test]
    fn zones_are_looked_for_below_registry_suffixes() {
        assert_eq!(zone_candidates("kiro-app-1.example.co.uk"), ["kiro-app-1.example.co.uk", "example.co.uk"]);
        assert_eq!(
            zone_candidates("kiro-app-1.user.github.io"),
            ["kiro-app-1.user.github.io", "user.github.io", "github.io"]
        );
        assert_eq!(zone_candidates("a.example.com"), ["a.example.com", "example.com"]);
    }

    #[test]
    fn record_prefixes() {
        assert_eq!(normalize_record("Kiro-App-1").unwrap(), "kiro-app-1");
        assert_eq!(normalize_record("_kiro.verify").unwrap(), "_kiro.verify");
        assert!(normalize_record("").is_err());
        assert!(normalize_record("a b").is_err());
        assert!(normalize_record("a..b").is_err());
    }
}
