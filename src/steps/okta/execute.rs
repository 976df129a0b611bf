//! Makes the planned Okta changes in dependency order: the app (for its client id), the scopes,
//! the policy (naming the client), its rule, then the group assignments, and the SCIM
//! provisioning app's group assignments and Push Groups mappings.

use serde::Serialize;
use serde_json::{Value, json};

use super::diff::{Op, Planned};
use crate::clients::okta::Okta;
use crate::clients::okta_model::{Include, Policy, PolicyConditions, parse};
use crate::engine::{Outcome, Session, Status};
use crate::steps::set_path;

pub struct Target<'a> {
    pub server_id: &'a str,
    pub app_id: Option<String>,
    pub client_id: Option<String>,
    pub policy_id: Option<String>,
}

pub async fn run(
    okta: &Okta,
    planned: &[Planned],
    mut target: Target<'_>,
    session: &Session,
) -> (Vec<Outcome>, Option<String>) {
    let mut outcomes = Vec::new();
    let mut blocked: Option<String> = None;
    let base = super::read::server_path(target.server_id);
    for item in planned {
        if session.is_interrupted() {
            outcomes.push(Outcome::new(&item.change, Status::NotAttempted("interrupted".into())));
            continue;
        }
        let needs_app =
            matches!(item.op, Op::CreatePolicy(_) | Op::UpdatePolicy(_) | Op::AssignGroup(_) | Op::UnassignGroup(_));
        let needs_policy = matches!(item.op, Op::CreateRule(_) | Op::UpdateRule(_));
        if let Some(reason) = &blocked
            && (needs_app || needs_policy)
        {
            outcomes.push(Outcome::new(&item.change, Status::NotAttempted(reason.clone())));
            continue;
        }
        let result: Result<(), String> = async {
            match &item.op {
                Op::CreateApp(body) => {
                    let app = super::app_election::create(okta, body).await?;
                    target.client_id = app.client_id();
                    target.app_id = Some(app.id).filter(|id| !id.is_empty());
                }
                Op::UpdateApp(app) => {
                    let id = &app.id;
                    okta.put(&format!("/api/v1/apps/{id}"), &to_body(app)?).await.map_err(|e| e.message())?;
                    if app.status.as_deref() == Some("INACTIVE") {
                        okta.post(&format!("/api/v1/apps/{id}/lifecycle/activate"), &json!({}))
                            .await
                            .map_err(|e| e.message())?;
                    }
                }
                Op::DeleteApp(id) => super::app_election::delete(okta, id).await?,
                Op::CreateScope(body) => {
                    okta.post(&format!("{base}/scopes"), body).await.map_err(|e| e.message())?;
                }
                Op::CreatePolicy(body) => {
                    let client = target.client_id.clone().ok_or("the Kiro app's client id is not known")?;
                    let mut body = body.clone();
                    set_path(&mut body, &["conditions", "clients", "include"], json!([client]));
                    let policy = okta.post(&format!("{base}/policies"), &body).await.map_err(|e| e.message())?;
                    let policy: Policy = parse(policy, "the new policy").map_err(|e| e.message())?;
                    target.policy_id = Some(policy.id).filter(|id| !id.is_empty());
                }
                Op::UpdatePolicy(policy) => {
                    let client = target.client_id.clone().ok_or("the Kiro app's client id is not known")?;
                    let mut body = policy.clone();
                    let conditions = body.conditions.get_or_insert_with(PolicyConditions::default);
                    let include = &mut conditions.clients.get_or_insert_with(Include::default).include;
                    if !include.iter().any(|c| *c == client || c == "ALL_CLIENTS") {
                        include.push(client);
                    }
                    body.rest.remove("_links");
                    let id = &policy.id;
                    okta.put(&format!("{base}/policies/{id}"), &to_body(&body)?).await.map_err(|e| e.message())?;
                }
                Op::CreateRule(body) => {
                    let pid = target.policy_id.clone().ok_or("the Kiro policy's id is not known")?;
                    okta.post(&format!("{base}/policies/{pid}/rules"), &to_body(body)?)
                        .await
                        .map_err(|e| e.message())?;
                }
                Op::UpdateRule(rule) => {
                    let pid = target.policy_id.clone().ok_or("the Kiro policy's id is not known")?;
                    let id = &rule.id;
                    okta.put(&format!("{base}/policies/{pid}/rules/{id}"), &to_body(rule)?)
                        .await
                        .map_err(|e| e.message())?;
                }
                Op::AssignGroup(gid) => {
                    let app = target.app_id.clone().ok_or("the Kiro app's id is not known")?;
                    okta.put(&format!("/api/v1/apps/{app}/groups/{gid}"), &json!({})).await.map_err(|e| e.message())?;
                }
                Op::Activate(path) => {
                    okta.post(&format!("{base}{path}/lifecycle/activate"), &json!({}))
                        .await
                        .map_err(|e| e.message())?;
                }
                Op::AssignProvisioningGroup { app_id, group_id } => {
                    okta.put(&format!("/api/v1/apps/{app_id}/groups/{group_id}"), &json!({}))
                        .await
                        .map_err(|e| e.message())?;
                }
                Op::CreatePushMapping { app_id, body } => {
                    okta.post(&format!("/api/v1/apps/{app_id}/group-push/mappings"), body)
                        .await
                        .map_err(|e| e.message())?;
                }
                Op::UnassignGroup(gid) => {
                    let app = target.app_id.clone().ok_or("the Kiro app's id is not known")?;
                    okta.delete(&format!("/api/v1/apps/{app}/groups/{gid}")).await.map_err(|e| e.message())?;
                }
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => outcomes.push(Outcome::new(&item.change, Status::Applied)),
            Err(message) => {
                match item.op {
                    Op::CreateApp(_) => blocked = Some(format!("{} was not created", item.change.address)),
                    Op::CreatePolicy(_) => blocked = Some(format!("{} was not created", item.change.address)),
                    _ => {}
                }
                outcomes.push(Outcome::new(&item.change, Status::Failed(message)));
            }
        }
    }
    (outcomes, target.client_id)
}

/// An object as the JSON body Okta takes.
fn to_body(object: &impl Serialize) -> Result<Value, String> {
    serde_json::to_value(object).map_err(|e| format!("internal error: the request body could not be written: {e}"))
}
