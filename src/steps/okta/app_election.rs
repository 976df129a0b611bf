//! Which of the Okta apps labelled as the plan says is Kiro's, with no state kept on any machine.
//!
//! Okta has no create-if-absent for apps and does not refuse a second app with the same label
//! (docs/vendor-behaviour.md §3.2.2), so two applies at once (two runners, or a runner and a
//! laptop) can each create one. Okta documents its group `search` as eventually consistent and says
//! nothing of the kind for the apps listing, so a run that has created the app lists the label
//! again right away and every run applies one rule: the oldest app (`created`, then id) is
//! Kiro's. The run whose app lost deletes it; an app a killed run left behind carries
//! kiro-onboard's mark (`profile.created_by`, set in the create itself), so the next plan shows
//! it as a duplicate and apply deletes it. An unmarked app of that label is someone else's: the
//! plan stops as before.

use serde_json::{Value, json};

use super::read::list_labelled;
use crate::clients::okta::Okta;
use crate::clients::okta_model::{App, parse};
use crate::error::Error;

/// The mark in the app's `profile` (a free-form object on OAuth 2.0 client apps).
pub const MARK: &str = "kiro-onboard";

pub fn mark(body: &mut Value) {
    body["profile"] = json!({"created_by": MARK});
}

pub fn marked(app: &App) -> bool {
    app.rest.get("profile").and_then(|p| p.get("created_by")).and_then(Value::as_str) == Some(MARK)
}

fn created(app: &App) -> &str {
    app.rest.get("created").and_then(Value::as_str).unwrap_or_default()
}

#[derive(Debug, Default)]
pub struct Elected {
    pub app: Option<App>,
    /// Other apps of that label kiro-onboard created: to delete.
    pub duplicates: Vec<App>,
}

/// The rule above, over the apps labelled exactly `label`.
pub fn elect(mut apps: Vec<App>, label: &str) -> Result<Elected, Error> {
    apps.sort_by(|a, b| (created(a), a.id.as_str()).cmp(&(created(b), b.id.as_str())));
    if apps.is_empty() {
        return Ok(Elected::default());
    }
    let app = apps.remove(0);
    if apps.iter().any(|a| !marked(a)) {
        return Err(Error::Precondition {
            message: format!(
                "{} Okta apps are labelled \"{label}\" exactly; kiro-onboard cannot tell which is Kiro's",
                apps.len() + 1
            ),
            hint: "rename or deactivate the extra apps in Okta, or set okta.app_label to a unique label".into(),
        });
    }
    Ok(Elected { app: Some(app), duplicates: apps })
}

/// Creates the Kiro app (marked), then lists the label again: when another apply created one
/// first, that one is Kiro's and this run's own is deleted.
pub async fn create(okta: &Okta, body: &Value) -> Result<App, String> {
    let mut body = body.clone();
    mark(&mut body);
    let own = okta.post("/api/v1/apps?activate=true", &body).await.map_err(|e| e.message())?;
    let own: App = parse(own, "the new app").map_err(|e| e.message())?;
    let label = own.label.clone().unwrap_or_default();
    let listed = list_labelled(okta, &label).await.map_err(|e| e.to_string())?;
    let listed = if listed.iter().any(|a| a.id == own.id) { listed } else { [listed, vec![own.clone()]].concat() };
    let elected = elect(listed, &label).map_err(|e| e.to_string())?;
    match elected.app {
        Some(app) if app.id != own.id => {
            tracing::info!("another apply created the Okta app \"{label}\" first ({}): deleting this run's", app.id);
            delete(okta, &own.id).await?;
            Ok(app)
        }
        _ => Ok(own),
    }
}

/// Deactivates and deletes an app (Okta deletes only inactive apps); gone already is done.
pub async fn delete(okta: &Okta, id: &str) -> Result<(), String> {
    match okta.post(&format!("/api/v1/apps/{id}/lifecycle/deactivate"), &json!({})).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.message()),
    }
    match okta.delete(&format!("/api/v1/apps/{id}")).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.message()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(id: &str, created: &str, marked: bool) -> App {
        let mut v = json!({"id": id, "label": "Kiro", "created": created});
        if marked {
            mark(&mut v);
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_oldest_is_kept_and_younger_marked_ones_are_duplicates_whatever_the_order() {
        let old = app("0oa2", "2026-01-01T00:00:00.000Z", false);
        let young = app("0oa1", "2026-01-01T00:00:01.000Z", true);
        let e = elect(vec![young.clone(), old.clone()], "Kiro").unwrap();
        assert_eq!(e.app.unwrap().id, "0oa2");
        assert_eq!(e.duplicates.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["0oa1"]);
        let unmarked_young = app("0oa3", "2026-01-02T00:00:00.000Z", false);
        assert!(elect(vec![old, unmarked_young], "Kiro").is_err(), "someone else's app is never deleted");
    }
}
