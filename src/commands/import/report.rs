//! The `import --json` document: the plan (as the YAML written, and as data), what was adopted,
//! and what the check of the imported plan still reports, in the `format_version` 1 style of
//! every `--json` document (docs/automation.md).

use serde_json::{Value, json};

use crate::engine::Finding;
use crate::engine::json::FORMAT_VERSION;
use crate::plan::model::Plan;

/// What `plan` on the imported plan would still do: the writes it proposes (normally none) and
/// its findings (what breaks Kiro's requirements when `fix_settings` is false, among others).
pub struct Trial {
    pub writes: Vec<String>,
    pub findings: Vec<Finding>,
}

pub struct Imported<'a> {
    pub idp: &'static str,
    /// The file written with `--out`, if any.
    pub out: Option<String>,
    pub yaml: &'a str,
    pub plan: &'a Plan,
    /// The app adopted, as the IdP names it (null for Identity Center).
    pub app: Value,
    pub trial: &'a Trial,
    pub hints: Vec<String>,
}

pub fn document(imported: &Imported) -> Value {
    let plan = imported.plan;
    json!({
        "format_version": FORMAT_VERSION,
        "command": "import",
        "idp": imported.idp,
        "out": imported.out,
        "plan": imported.out.is_none().then_some(imported.yaml),
        "plan_data": serde_json::to_value(plan).unwrap_or_default(),
        "adopted": adopted(plan, &imported.app),
        "fix_settings": fix_settings(plan),
        "findings": imported.trial.findings,
        "remaining_writes": imported.trial.writes,
        "hints": imported.hints,
    })
}

/// `entra.app.fix_settings` or `okta.fix_settings` as written; null for Identity Center.
fn fix_settings(plan: &Plan) -> Option<bool> {
    plan.entra.as_ref().map(|e| e.app.fix_settings).or(plan.okta.as_ref().map(|o| o.fix_settings))
}

fn adopted(plan: &Plan, app: &Value) -> Value {
    let domains = serde_json::to_value(&plan.domains).unwrap_or_default();
    if let Some(idc) = &plan.identity_center {
        return json!({
            "instance_arn": idc.instance_arn,
            "groups": idc.groups.iter().map(|g| &g.name).collect::<Vec<_>>(),
            "users": idc.users.iter().map(|u| &u.user_name).collect::<Vec<_>>(),
            "kms": plan.kms.as_ref().map(|k| serde_json::to_value(k).unwrap_or_default()),
            "domains": domains,
        });
    }
    if let Some(entra) = &plan.entra {
        return json!({
            "app": app,
            "groups": entra.assign_groups,
            "provisioning": entra.provisioning.as_ref().map(|p| json!({"scim_endpoint": p.scim_endpoint, "start": p.start})),
            "domains": domains,
        });
    }
    let okta = plan.okta.as_ref();
    json!({
        "app": app,
        "authorization_server": okta.map(|o| &o.authorization_server),
        "groups": okta.map(|o| &o.assign_groups),
        "provisioning": okta.and_then(|o| o.provisioning.as_ref()).map(|p| json!({
            "app_label": p.app_label, "scim_endpoint": p.scim_endpoint, "done": p.done, "push_groups": p.push_groups,
        })),
        "domains": domains,
    })
}
