//! Groups an apply could not provision on demand yet because Entra had not replicated their
//! assignment (minutes), remembered on this machine so that the next `plan` shows them and
//! `apply` provisions them. A convenience, not needed for correctness: without it (a fresh CI
//! runner) nothing is lost, Entra's own provisioning cycle provisions those groups within its
//! interval. Which Entra app is Kiro's is never remembered here (`election` decides it from the
//! tenant alone).

use serde::{Deserialize, Serialize};

use crate::clients::entra_auth::{config_dir, write_private};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_pending_groups_per_tenant_and_name() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: this is the only test in the crate that sets KIRO_ONBOARD_CONFIG_DIR.
        unsafe { std::env::set_var("KIRO_ONBOARD_CONFIG_DIR", dir.path()) };
        assert!(pending_on_demand("Example.onmicrosoft.com", "Kiro").is_empty());
        set_pending_on_demand("example.onmicrosoft.com", "Kiro", &["Devs".to_owned()]);
        assert_eq!(pending_on_demand("EXAMPLE.onmicrosoft.com", "Kiro"), ["Devs"]);
        assert!(pending_on_demand("example.onmicrosoft.com", "Other").is_empty());
        set_pending_on_demand("example.onmicrosoft.com", "Kiro", &[]);
        assert!(pending_on_demand("example.onmicrosoft.com", "Kiro").is_empty());
        std::fs::write(path(), "not json").unwrap();
        assert!(
            pending_on_demand("example.onmicrosoft.com", "Kiro").is_empty(),
            "a damaged record is only a lost hint"
        );
    }
}
