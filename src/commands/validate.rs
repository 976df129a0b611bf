use std::path::Path;

use serde_json::json;

use crate::engine::json::FORMAT_VERSION;
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::printer::Printer;

pub fn run(path: &Path, printer: &Printer) -> Result<ExitStatus, Error> {
    let loaded = super::load_plan(path)?;
    let requirements = crate::requirements::chosen(loaded.plan.kiro.requirements.as_deref());
    let document = || {
        json!({
            "format_version": FORMAT_VERSION,
            "command": "validate",
            "plan_file": loaded.file,
            "valid": true,
            "diagnostics": [],
            "requirements": {"edition": requirements.name, "source": requirements.source},
        })
    };
    printer.result(document, || {
        printer.status(&format!(
            "{} is valid: {}; checked against Kiro's requirements {}; nothing remote was contacted",
            loaded.file,
            summary(&loaded.plan),
            requirements.name
        ));
    });
    Ok(ExitStatus::Success)
}

/// "1 user", "2 groups".
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What the plan holds, in the words of each path it uses.
fn summary(plan: &crate::plan::Plan) -> String {
    let mut parts = Vec::new();
    if let Some(idc) = &plan.identity_center {
        parts.push(format!(
            "Identity Center with {} and {}",
            count(idc.users.len(), "user", "users"),
            count(idc.groups.len(), "group", "groups")
        ));
    }
    let provisioning = |on: bool| if on { "with provisioning" } else { "no provisioning yet" };
    if let Some(entra) = &plan.entra {
        parts.push(format!(
            "Entra ID app {} with {}, {}",
            entra.app.display_name,
            count(entra.assign_groups.len(), "assigned group", "assigned groups"),
            provisioning(entra.provisioning.is_some())
        ));
    }
    if let Some(okta) = &plan.okta {
        parts.push(format!(
            "Okta app {} with {}, {}",
            okta.app_label,
            count(okta.assign_groups.len(), "assigned group", "assigned groups"),
            provisioning(okta.provisioning.is_some())
        ));
    }
    let subscribe = plan.kiro.console.subscribe.len();
    if subscribe > 0 {
        parts.push(format!("{} to subscribe in Kiro", count(subscribe, "group", "groups")));
    }
    if !plan.domains.is_empty() {
        parts.push(format!("{} to verify", count(plan.domains.len(), "domain", "domains")));
    }
    if parts.is_empty() {
        parts.push("nothing to set up yet".to_owned());
    }
    parts.join("; ")
}
