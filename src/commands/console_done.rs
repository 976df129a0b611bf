//! `kiro-onboard console done ADDRESS PLAN`: record a console step as done in the plan file, the
//! same minimal edit an interactive apply offers, without a prompt (for scripts). Offline.

use std::path::Path;

use serde_json::{Value, json};

use crate::engine::change::KNOWN_AFTER_APPLY;
use crate::engine::json::FORMAT_VERSION;
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::plan::record::{PlanFileEdit, RecordLine, RecordValue};
use crate::printer::Printer;
use crate::steps::kiro_console::retire::KiroConsoleRetireStep;
use crate::steps::kiro_console::{FIRST_SIGN_IN, KiroConsoleStep};

/// `value` is the value for a step that records one (a domain's verification token).
pub fn run(address: &str, path: &Path, value: Option<String>, printer: &Printer) -> Result<ExitStatus, Error> {
    let loaded = crate::plan::load(path)?;
    let requirements = crate::requirements::chosen(loaded.plan.kiro.requirements.as_deref());
    let wanted = comparable(address);
    let find = |changes: Vec<crate::engine::Change>| {
        changes.into_iter().find(|c| same_step(c.address.as_str(), &wanted)).map(|mut c| {
            if c.address == crate::engine::Address::new(FIRST_SIGN_IN, KNOWN_AFTER_APPLY) {
                c.address = crate::engine::Address::new(FIRST_SIGN_IN, identity_store_of(&wanted));
            }
            c
        })
    };

    // The steps of apply and those of retire (KiroConsoleRetireStep): one address names one step.
    let mut pending = KiroConsoleStep::pending(&loaded.plan, requirements);
    pending.extend(KiroConsoleRetireStep::pending(&loaded.plan));
    let Some(change) = find(pending) else {
        let mut every = KiroConsoleStep::possible(&loaded.plan, requirements);
        every.extend(KiroConsoleRetireStep::possible(&loaded.plan));
        if let Some(done) = find(every.clone())
            && done.manual.as_ref().is_some_and(|m| m.record.is_some())
        {
            return Ok(report(&loaded.file, done.address.as_str(), None, None, printer));
        }
        let known: Vec<String> = every.iter().map(|c| format!("'{}'", c.address)).collect();
        return Err(Error::Precondition {
            message: format!("{} has no console step {address}", loaded.file),
            hint: if known.is_empty() {
                "this plan has no console steps".into()
            } else {
                format!("its console steps are {}; `kiro-onboard plan` shows the ones still to do", known.join(", "))
            },
        });
    };
    let step = change.manual.as_ref().ok_or_else(|| Error::Usage(format!("{address} is not a console step")))?;
    let Some(record) = &step.record else {
        return Err(Error::Precondition {
            message: format!("{} is not recorded in the plan: {}", change.address, step.verify),
            hint: "nothing to record; run `kiro-onboard plan` after doing it and the step disappears once it holds"
                .into(),
        });
    };
    let line =
        RecordLine::parse(record).map_err(|e| Error::Usage(format!("the console template's record line {e}")))?;
    let value = match (&line.value, value.as_deref()) {
        (RecordValue::Known(value), None) => value.clone(),
        (RecordValue::Known(_), Some(_)) => {
            return Err(Error::Usage(format!("{} records `{record}` and takes no --value", change.address)));
        }
        (RecordValue::Placeholder(_), Some(given)) if !given.trim().is_empty() => {
            Value::String(given.trim().to_owned())
        }
        (RecordValue::Placeholder(what), _) => {
            return Err(Error::Precondition {
                message: format!("{} records {what} in the plan (`{record}`)", change.address),
                hint: format!("pass it: kiro-onboard console done '{}' {} --value VALUE", change.address, loaded.file),
            });
        }
    };

    let edit = PlanFileEdit::record(path, &line, &value)?;
    if let Some(edit) = &edit {
        edit.write()?;
    }
    let recorded = line.describe(&value);
    Ok(report(&loaded.file, change.address.as_str(), Some(&recorded), edit.as_ref(), printer))
}

/// Addresses as shells leave them: `kiro_console.profile[us-east-1]` is `kiro_console.profile["us-east-1"]`.
fn comparable(address: &str) -> String {
    address.trim().replace(['"', '\''], "")
}

/// Whether the console step at `candidate` is the one the admin named. Offline the identity
/// store is not known, so the first-sign-in step (keyed by it) is named by any key.
fn same_step(candidate: &str, wanted: &str) -> bool {
    let candidate = comparable(candidate);
    candidate == wanted
        || (candidate == comparable(crate::engine::Address::new(FIRST_SIGN_IN, KNOWN_AFTER_APPLY).as_str())
            && wanted.strip_prefix(FIRST_SIGN_IN).is_some_and(|key| key.starts_with('[') && key.ends_with(']')))
}

/// `identity_center.first_sign_in[d-123]` → `d-123`.
fn identity_store_of(wanted: &str) -> &str {
    wanted.strip_prefix(FIRST_SIGN_IN).unwrap_or_default().trim_start_matches('[').trim_end_matches(']')
}

fn report(
    file: &str,
    address: &str,
    recorded: Option<&str>,
    edit: Option<&PlanFileEdit>,
    printer: &Printer,
) -> ExitStatus {
    let diff = edit.map(|e| e.edit.diff(file));
    let document = || {
        json!({
            "format_version": FORMAT_VERSION,
            "command": "console done",
            "plan_file": file,
            "address": address,
            "recorded": recorded,
            "changed": edit.is_some(),
            "diff": diff,
        })
    };
    printer.result(document, || match (recorded, &diff) {
        (Some(recorded), Some(diff)) => {
            printer.data(diff.trim_end());
            printer.status(&format!("Recorded `{recorded}` in {file}; nothing else in it changed."));
        }
        _ => printer.status(&format!("{address} is recorded as done in {file} already; nothing changed.")),
    });
    ExitStatus::Success
}
