//! People who left, as the plan records them: `identity_center.users[].absent: true` and
//! `kiro.console.unsubscribe`. Each keeps a Kiro console step (unsubscribe, the seat named) until
//! `kiro.console.unsubscribed` lists them. The plan is the record, so a CI runner born empty shows
//! the same steps as the admin's laptop.

use crate::plan::Plan;

/// One person whose Kiro seat must still be cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departed {
    /// The user name, as the plan spells it.
    pub user: String,
    /// Where the plan says they left, for the step's text.
    pub reason: String,
    /// `delete_user: true`: apply deletes the Identity Center user.
    pub deleted: bool,
}

/// Everyone the plan says left and whose unsubscribe is not recorded, in plan order.
pub fn pending(plan: &Plan) -> Vec<Departed> {
    let mut out: Vec<Departed> = Vec::new();
    let mut add = |user: &str, reason: &str, deleted: bool| {
        if plan.kiro.console.is_unsubscribed(user) || out.iter().any(|d| d.user.eq_ignore_ascii_case(user)) {
            return;
        }
        out.push(Departed { user: user.to_owned(), reason: reason.to_owned(), deleted });
    };
    for user in plan.identity_center.iter().flat_map(|i| &i.users).filter(|u| u.absent) {
        add(&user.user_name, "`absent: true` under identity_center.users", user.delete_user);
    }
    for user in &plan.kiro.console.unsubscribe {
        add(user, "listed in kiro.console.unsubscribe", false);
    }
    out
}

/// The seat to cancel, named as the Kiro console shows it: the plan's subscribed groups and tiers.
pub fn seat(plan: &Plan) -> String {
    let region = &plan.kiro.profile_region;
    let subscriptions: Vec<String> =
        plan.kiro.console.subscribe.iter().map(|s| format!("Kiro {} via group {}", s.tier.label(), s.group)).collect();
    if subscriptions.is_empty() {
        format!("their Kiro subscription in the {region} profile")
    } else {
        format!("{} in the {region} profile", subscriptions.join(" or "))
    }
}
