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
        let idc = loaded.plan.identity_center.as_ref();
        let users = idc.map_or(0, |i| i.users.len());
        let groups = idc.map_or(0, |i| i.groups.len());
        printer.status(&format!(
            "{} is valid: {users} user(s), {groups} group(s), {} domain(s); checked against Kiro's requirements {}; nothing remote was contacted",
            loaded.file,
            loaded.plan.domains.len(),
            requirements.name
        ));
    });
    Ok(ExitStatus::Success)
}
