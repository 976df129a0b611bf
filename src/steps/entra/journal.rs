//! Apps this machine created in Entra, remembered for a day. Graph can leave a new app out of
//! listings for a while (replication); an apply killed in that window and run again would not
//! see the app it made and would create a second one. With this record it asks for the app by id
//! instead, waiting out the delay.
//!
//! It also remembers groups an apply could not provision on demand yet because Entra had not
//! replicated their assignment (minutes): the next `plan` shows them and `apply` provisions them.

use serde::{Deserialize, Serialize};

use crate::clients::entra_auth::{config_dir, write_private};

/// Graph's replication takes seconds to minutes; a day is far beyond it.
const REMEMBER_SECONDS: u64 = 24 * 60 * 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedApp {
    /// The tenant as the plan names it (domain or id), compared without case.
    pub tenant: String,
    pub display_name: String,
    pub object_id: String,
    pub app_id: String,
    /// Unix seconds.
    pub created_at: u64,
}

/// Groups of an app still to provision on demand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingOnDemand {
    pub tenant: String,
    pub display_name: String,
    pub groups: Vec<String>,
    /// Unix seconds.
    pub since: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Journal {
    #[serde(default)]
    apps: Vec<CreatedApp>,
    #[serde(default)]
    pending_on_demand: Vec<PendingOnDemand>,
}

fn path() -> std::path::PathBuf {
    config_dir().join("entra-created-apps.json")
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// An unreadable journal only loses a hint, so it reads as empty; one that is not a private
/// regular file of this user (a link, a FIFO, readable by others, over 1 MiB) is refused, and the
/// admin is told why.
fn load() -> Journal {
    let path = path();
    match crate::files::read_private(&path) {
        Ok(bytes) => bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default(),
        Err(e) => {
            crate::output::warning(&format!("ignoring {}: {e}", path.display()));
            Journal::default()
        }
    }
}

fn same(entry: &CreatedApp, tenant: &str, name: &str) -> bool {
    entry.tenant.eq_ignore_ascii_case(tenant) && entry.display_name == name
}

/// The app this machine created under that name in that tenant within the last day, if any.
pub fn recall(tenant: &str, name: &str) -> Option<CreatedApp> {
    let now = now();
    load().apps.into_iter().find(|e| same(e, tenant, name) && now.saturating_sub(e.created_at) < REMEMBER_SECONDS)
}

/// Records a created app (replacing an older record for the same name, dropping expired ones).
/// Failing to write is a warning: the app exists either way.
pub fn remember(tenant: &str, name: &str, object_id: &str, app_id: &str) {
    let created = CreatedApp {
        tenant: tenant.to_owned(),
        display_name: name.to_owned(),
        object_id: object_id.to_owned(),
        app_id: app_id.to_owned(),
        created_at: now(),
    };
    if let Err(e) = rewrite(tenant, name, Some(created)) {
        crate::output::warning(&format!(
            "could not record the app just created ({e}); if this apply is interrupted, wait a few minutes before running it again"
        ));
    }
}

/// Drops the record of an app that no longer exists. Best effort: a stale record costs one wait.
pub fn forget(tenant: &str, name: &str) {
    if recall(tenant, name).is_some() {
        let _ = rewrite(tenant, name, None);
    }
}

/// The groups of `tenant`/`name` still to provision on demand.
pub fn pending_on_demand(tenant: &str, name: &str) -> Vec<String> {
    load()
        .pending_on_demand
        .into_iter()
        .find(|p| p.tenant.eq_ignore_ascii_case(tenant) && p.display_name == name)
        .map(|p| p.groups)
        .unwrap_or_default()
}

/// Records the groups still to provision on demand (none: forgets them). A failed write is a
/// warning: the job's own cycle provisions them in any case.
pub fn set_pending_on_demand(tenant: &str, name: &str, groups: &[String]) {
    let mut journal = load();
    let before = journal.pending_on_demand.len();
    journal.pending_on_demand.retain(|p| !(p.tenant.eq_ignore_ascii_case(tenant) && p.display_name == name));
    if groups.is_empty() && before == journal.pending_on_demand.len() {
        return;
    }
    if !groups.is_empty() {
        journal.pending_on_demand.push(PendingOnDemand {
            tenant: tenant.to_owned(),
            display_name: name.to_owned(),
            groups: groups.to_vec(),
            since: now(),
        });
    }
    if let Err(e) = write_private(&path(), &serde_json::to_string_pretty(&journal).unwrap_or_default()) {
        crate::output::warning(&format!("could not record the groups still to provision on demand ({e})"));
    }
}

/// The journal without expired records and without the one for `tenant`/`name`, plus `record`.
fn rewrite(tenant: &str, name: &str, record: Option<CreatedApp>) -> Result<(), crate::error::Error> {
    let now = now();
    let mut journal = load();
    journal.apps.retain(|e| !same(e, tenant, name) && now.saturating_sub(e.created_at) < REMEMBER_SECONDS);
    journal.apps.extend(record);
    write_private(&path(), &serde_json::to_string_pretty(&journal).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_tenant_and_name_and_replaces_older_records() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: this is the only test in the crate that sets KIRO_ONBOARD_CONFIG_DIR.
        unsafe { std::env::set_var("KIRO_ONBOARD_CONFIG_DIR", dir.path()) };
        assert_eq!(recall("Example.onmicrosoft.com", "Kiro"), None);
        remember("example.onmicrosoft.com", "Kiro", "obj-1", "app-1");
        remember("example.onmicrosoft.com", "Other", "obj-2", "app-2");
        remember("example.onmicrosoft.com", "Kiro", "obj-3", "app-3");
        assert_eq!(recall("EXAMPLE.onmicrosoft.com", "Kiro").map(|e| e.object_id), Some("obj-3".to_owned()));
        assert_eq!(recall("example.onmicrosoft.com", "Other").map(|e| e.app_id), Some("app-2".to_owned()));
        assert_eq!(recall("other.onmicrosoft.com", "Kiro"), None);
        forget("example.onmicrosoft.com", "Kiro");
        assert_eq!(recall("example.onmicrosoft.com", "Kiro"), None);
        assert!(recall("example.onmicrosoft.com", "Other").is_some(), "forgetting one keeps the others");
        std::fs::write(path(), "not json").unwrap();
        assert_eq!(recall("example.onmicrosoft.com", "Kiro"), None, "a damaged record is only a lost hint");
    }
}
