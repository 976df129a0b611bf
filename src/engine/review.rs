//! A saved plan for a reviewer (`show`): secrets masked once more, and the GitHub-flavoured
//! Markdown of a pull request comment or change ticket. A plan of hundreds of changes stays
//! readable: changes are grouped by object kind, each group collapsed in `<details>` when the plan
//! is long, and the counts come first.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::change::{Action, Change, KNOWN_AFTER_APPLY};
use super::runner::summarize;
use super::saved::SavedPlan;

/// Plans with more changes than this show every group collapsed.
pub const OPEN_GROUPS_UP_TO: usize = 20;
/// What a masked value reads as (the steps write the same for the SCIM token).
pub const MASK: &str = "(sensitive)";

/// Whether a field holds a secret by its name (`scim_token`, `client_secret`, `api_token`,
/// `private_key`, `password`), whatever a step put in it: steps redact them already, and a
/// saved file, which anyone may have edited, is not trusted to.
fn is_secret_field(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "password", "private_key", "_token", "assertion"].iter().any(|word| key.ends_with(word))
        || key == "token"
}

fn mask_fields(fields: &mut Option<Map<String, Value>>) {
    for (key, value) in fields.iter_mut().flatten() {
        if is_secret_field(key) && !value.is_null() {
            *value = Value::String(MASK.to_owned());
        }
    }
}

/// `change` with every secret-named field masked.
pub fn masked(change: &Change) -> Change {
    let mut change = change.clone();
    mask_fields(&mut change.before);
    mask_fields(&mut change.after);
    change
}

/// Seconds since the epoch as `2026-12-04 10:42 UTC`.
pub fn utc(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let (hour, minute) = ((seconds % 86_400) / 3600, (seconds % 3600) / 60);
    // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

/// How a `planned_against` key reads.
pub fn label(key: &str) -> String {
    match key {
        "kiro_profile_region" => "Kiro profile Region".into(),
        "aws_region" => "AWS Region (IAM Identity Center)".into(),
        "aws_account" => "AWS account".into(),
        "aws_profile" => "AWS profile".into(),
        "entra_tenant" => "Microsoft Entra tenant".into(),
        "entra_tenant_id" => "Microsoft Entra tenant ID".into(),
        "okta_org" => "Okta org".into(),
        other => other.replace('_', " "),
    }
}

/// Text safe in a Markdown table cell: no HTML, no cell break, no line break; a plan from a pull
/// request decides these values.
fn cell(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace('`', "'")
        .replace(['\r', '\n'], " ")
}

fn shown(value: &Value) -> String {
    value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())
}

/// The object kind of an address: `entra.app["Kiro"]` → `entra.app`.
fn kind(change: &Change) -> &str {
    let address = change.address.as_str();
    address.split_once('[').map(|(kind, _)| kind).unwrap_or(address)
}

fn action_word(action: Action) -> &'static str {
    match action {
        Action::Create => "➕ create",
        Action::Update => "✏️ update",
        Action::Delete => "➖ delete",
        Action::Manual => "👤 manual",
        Action::Verify => "🔎 verify",
    }
}

/// `key: before → after` for each field, one per line of the cell.
fn before_after(change: &Change) -> String {
    let empty = Map::new();
    let before = change.before.as_ref().unwrap_or(&empty);
    let after = change.after.as_ref().unwrap_or(&empty);
    let keys = change.field_names();
    let lines: Vec<String> = keys
        .into_iter()
        .map(|key| {
            let old = before.get(key).map(shown);
            let new = after.get(key).map(shown);
            let new = new.unwrap_or_else(|| {
                if change.action == Action::Delete { "(deleted)".into() } else { KNOWN_AFTER_APPLY.into() }
            });
            match old {
                Some(old) if change.action != Action::Create => {
                    format!("{}: {} → {}", cell(key), cell(&old), cell(&new))
                }
                _ => format!("{}: {}", cell(key), cell(&new)),
            }
        })
        .collect();
    lines.join("<br>")
}

/// The saved plan as GitHub-flavoured Markdown.
pub fn markdown(saved: &SavedPlan, changes: &[Change]) -> String {
    let summary = summarize(changes.iter());
    let mut out = format!("## kiro-onboard plan for `{}`\n\n", cell(&saved.plan_file));
    let _ = writeln!(
        out,
        "**{} to create, {} to update, {} to delete, {} manual, {} to verify**; {} finding(s). Planned {} by kiro-onboard {}.\n",
        summary.create,
        summary.update,
        summary.delete,
        summary.manual,
        summary.verify,
        saved.findings.len(),
        utc(saved.created_unix),
        cell(&saved.tool_version)
    );
    if !saved.planned_against.is_empty() {
        out.push_str("| Planned against | |\n|---|---|\n");
        for (key, value) in &saved.planned_against {
            let _ = writeln!(out, "| {} | `{}` |", label(key), cell(value));
        }
        out.push('\n');
    }
    changes_section(&mut out, changes);
    findings_section(&mut out, saved);
    manual_section(&mut out, changes);
    out
}

fn changes_section(out: &mut String, changes: &[Change]) {
    if changes.is_empty() {
        out.push_str("No changes: everything the plan names matched the live state.\n\n");
        return;
    }
    let mut groups: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for change in changes {
        let kind = kind(change);
        if !groups.contains_key(kind) {
            order.push(kind);
        }
        groups.entry(kind).or_default().push(change);
    }
    let open = if changes.len() <= OPEN_GROUPS_UP_TO { " open" } else { "" };
    out.push_str("### Changes\n\n");
    for kind in order {
        let group = &groups[kind];
        let counts = summarize(group.iter().copied());
        let parts: Vec<String> = [
            (counts.create, "create"),
            (counts.update, "update"),
            (counts.delete, "delete"),
            (counts.manual, "manual"),
            (counts.verify, "verify"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{n} {word}"))
        .collect();
        let _ = writeln!(out, "<details{open}><summary><code>{}</code>: {}</summary>\n", cell(kind), parts.join(", "));
        out.push_str("| Address | Action | Before → after |\n|---|---|---|\n");
        for change in group {
            let mut what = before_after(change);
            if let Some(reason) = &change.reason {
                what = format!("<i>{}</i><br>{what}", cell(reason));
            }
            let _ =
                writeln!(out, "| `{}` | {} | {} |", cell(change.address.as_str()), action_word(change.action), what);
        }
        out.push_str("\n</details>\n\n");
    }
}

fn findings_section(out: &mut String, saved: &SavedPlan) {
    if saved.findings.is_empty() {
        return;
    }
    out.push_str("### Findings\n\n");
    for finding in &saved.findings {
        let at = finding.address.as_ref().map(|a| format!(" at `{}`", cell(a.as_str()))).unwrap_or_default();
        let _ = writeln!(
            out,
            "- **{:?}** `{}`{at}: {}<br>Fix: {}",
            finding.severity,
            cell(&finding.code),
            cell(&finding.message),
            cell(&finding.fix)
        );
    }
    out.push('\n');
}

fn manual_section(out: &mut String, changes: &[Change]) {
    let manual: Vec<&Change> = changes.iter().filter(|c| c.manual.is_some()).collect();
    if manual.is_empty() {
        return;
    }
    out.push_str("### Manual steps\n\n");
    for change in manual {
        let Some(step) = &change.manual else { continue };
        let _ = writeln!(
            out,
            "- [ ] **{}** (`{}`), in {}",
            cell(&step.title),
            cell(change.address.as_str()),
            step.console.name()
        );
        let _ = writeln!(out, "  - Where: {}", cell(&step.location));
        for line in &step.instructions {
            let _ = writeln!(out, "  - {}", cell(line));
        }
        for (key, value) in change.after.iter().flatten() {
            let _ = writeln!(out, "  - {}: `{}`", cell(key), cell(&shown(value)));
        }
        let _ = writeln!(out, "  - Check: {}", cell(&step.verify));
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_796_381_000), "2026-12-04 10:43 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn secret_named_fields_are_masked_and_cells_hold_no_html() {
        let change = Change::create(
            super::super::Address::new("entra.app", "Kiro"),
            crate::engine::fields! {"scim_token" => "canary", "client_secret" => "canary", "token_endpoint_auth_method" => "none", "display_name" => "<b>a|b</b>"},
        );
        let masked = masked(&change);
        let after = masked.after.as_ref().unwrap();
        assert_eq!(after["scim_token"], MASK);
        assert_eq!(after["client_secret"], MASK);
        assert_eq!(after["token_endpoint_auth_method"], "none");
        let row = before_after(&masked);
        assert!(!row.contains("canary") && !row.contains("<b>") && row.contains("a\\|b"), "{row}");
    }
}
