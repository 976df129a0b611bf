//! Which of the apps named as the plan names Kiro's is Kiro's, with no state kept on any machine.
//!
//! Graph has no create-if-absent for a template instance (`instantiate` takes only a display name,
//! docs/vendor-behaviour.md §2.2.4) and leaves a new app out of listings for a while (§2.2.3), so
//! an apply killed after the create and run again elsewhere, or two applies at once, can each
//! create one. Every run applies the same rule to what it lists, so all of them agree on the app
//! to keep and the others are removed once listings show them:
//! - the oldest app that has been configured (`identifierUris` set: kiro-onboard sets
//!   `api://{appId}` in its first PATCH, the Custom template sets none) is Kiro's; when none is
//!   configured yet, the oldest (`createdDateTime`, then object id);
//! - another app is a duplicate to delete when nothing was configured on it yet, or when it
//!   carries kiro-onboard's marker tag (set right after the create): nothing anyone relies on is
//!   lost by deleting it;
//! - another configured app without the marker is someone else's: it is not touched, and the plan
//!   stops as before.

use crate::clients::graph_model::Application;
use crate::error::Error;

/// The tag kiro-onboard puts on every app it creates, right after creating it.
pub const MARKER_TAG: &str = "kiro-onboard";

#[derive(Debug, Default)]
pub struct Elected {
    pub app: Option<Application>,
    /// The other apps of that name, to delete.
    pub duplicates: Vec<Application>,
}

fn configured(app: &Application) -> bool {
    !app.identifier_uris.is_empty()
}

pub fn marked(app: &Application) -> bool {
    app.tags().contains(&MARKER_TAG)
}

/// The rule above, over every app of the Custom template named `name`.
pub fn elect(mut apps: Vec<Application>, name: &str) -> Result<Elected, Error> {
    apps.sort_by(|a, b| (a.created(), a.id.as_str()).cmp(&(b.created(), b.id.as_str())));
    let keep = apps.iter().position(configured).unwrap_or(0);
    if apps.is_empty() {
        return Ok(Elected::default());
    }
    let app = apps.remove(keep);
    let foreign: Vec<&Application> = apps.iter().filter(|a| configured(a) && !marked(a)).collect();
    if !foreign.is_empty() {
        let ids: Vec<&str> = std::iter::once(&app).chain(foreign).map(|a| a.app_id.as_str()).collect();
        return Err(Error::Precondition {
            message: format!("{} configured enterprise apps are named `{name}` ({})", ids.len(), ids.join(", ")),
            hint: "rename or delete the ones that are not Kiro's, or give `entra.app.display_name` a unique name"
                .into(),
        });
    }
    Ok(Elected { app: Some(app), duplicates: apps })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app(id: &str, created: &str, uris: &[&str], tags: &[&str]) -> Application {
        serde_json::from_value(json!({"id": id, "appId": format!("app-{id}"), "createdDateTime": created,
            "identifierUris": uris, "tags": tags}))
        .unwrap()
    }

    #[test]
    fn the_oldest_configured_app_is_kept_and_pristine_or_marked_ones_are_duplicates() {
        let pristine_old = app("a", "2026-01-01T00:00:00Z", &[], &[]);
        let configured = app("b", "2026-01-01T00:00:05Z", &["api://app-b"], &[MARKER_TAG]);
        let marked_young = app("c", "2026-01-01T00:00:09Z", &["api://app-c"], &[MARKER_TAG]);
        let elected = elect(vec![marked_young, pristine_old, configured], "Kiro").unwrap();
        assert_eq!(elected.app.unwrap().id, "b");
        let mut gone: Vec<String> = elected.duplicates.into_iter().map(|a| a.id).collect();
        gone.sort();
        assert_eq!(gone, ["a", "c"]);
    }

    #[test]
    fn without_a_configured_app_the_oldest_wins_whatever_order_the_listing_has() {
        let first = app("z", "2026-01-01T00:00:00Z", &[], &[]);
        let second = app("a", "2026-01-01T00:00:00Z", &[], &[MARKER_TAG]);
        let one = elect(vec![first.clone(), second.clone()], "Kiro").unwrap().app.unwrap().id;
        let other = elect(vec![second, first], "Kiro").unwrap().app.unwrap().id;
        assert_eq!(one, other, "every run agrees");
    }

    #[test]
    fn a_configured_app_without_the_marker_is_never_a_duplicate() {
        let kiro = app("a", "2026-01-01T00:00:00Z", &["api://app-a"], &[MARKER_TAG]);
        let someone_elses = app("b", "2026-01-02T00:00:00Z", &["api://other"], &[]);
        let e = elect(vec![kiro, someone_elses], "Kiro").unwrap_err();
        assert!(e.to_string().contains("2 configured enterprise apps are named `Kiro`"), "{e}");
    }
}
