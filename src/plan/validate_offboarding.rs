//! Checks of what the plan says about people who left: `identity_center.users[].absent` and
//! `delete_user`, `kiro.console.unsubscribe` and `kiro.console.unsubscribed`.

use std::collections::{HashMap, HashSet};

use super::Plan;
use super::diagnostic::Diagnostic;
use super::tree::{Node, Path};

/// `delete_user` needs `absent`; an absent user is a member of no group of the plan.
pub fn check_absent_users(idc: &super::model::IdentityCenter, tree: &Node, base: &Path, out: &mut Vec<Diagnostic>) {
    for (i, user) in idc.users.iter().enumerate() {
        if user.delete_user && !user.absent {
            let path = base.key("users").index(i).key("delete_user");
            out.push(
                Diagnostic::new(
                    &path,
                    tree.position_of(&path),
                    format!("user `{}` has `delete_user: true` but is not `absent: true`", user.user_name),
                )
                .with_hint("set `absent: true` too when this person left (apply then removes their memberships and deletes the user), or remove `delete_user`"),
            );
        }
    }
    // A set, not a scan per member: plans of 100,000 users validate in moments.
    let absent: HashSet<String> = idc.users.iter().filter(|u| u.absent).map(|u| u.user_name.to_lowercase()).collect();
    if absent.is_empty() {
        return;
    }
    for (g, group) in idc.groups.iter().enumerate() {
        for (j, member) in group.members.iter().enumerate() {
            if absent.contains(&member.to_lowercase()) {
                let path = base.key("groups").index(g).key("members").index(j);
                out.push(
                    Diagnostic::new(
                        &path,
                        tree.position_of(&path),
                        format!("`{member}` is `absent: true` but still a member of group `{}`", group.name),
                    )
                    .with_hint("remove them from the group's members: apply removes an absent user from every group of the plan"),
                );
            }
        }
    }
}

/// Each name once in each list, and never in both.
pub fn check_unsubscribe_lists(plan: &Plan, tree: &Node, out: &mut Vec<Diagnostic>) {
    let console = Path::root().key("kiro").key("console");
    let unsubscribed = duplicates(&plan.kiro.console.unsubscribed, &console.key("unsubscribed"), tree, out);
    duplicates(&plan.kiro.console.unsubscribe, &console.key("unsubscribe"), tree, out);
    let members: HashMap<String, &str> = plan
        .identity_center
        .iter()
        .flat_map(|i| &i.groups)
        .flat_map(|g| g.members.iter().map(move |m| (m.to_lowercase(), g.name.as_str())))
        .collect();
    for (i, user) in plan.kiro.console.unsubscribe.iter().enumerate() {
        if let Some(group) = members.get(&user.to_lowercase()) {
            let path = console.key("unsubscribe").index(i);
            out.push(
                Diagnostic::new(&path, tree.position_of(&path), format!("`{user}` is to be unsubscribed but is still a member of group `{group}`"))
                    .with_hint(format!("take them out of `{group}`'s members (or mark them `absent: true` under identity_center.users), or remove them from kiro.console.unsubscribe")),
            );
        }
        if let Some(j) = unsubscribed.get(&user.to_lowercase()) {
            let path = console.key("unsubscribe").index(i);
            out.push(
                Diagnostic::new(&path, tree.position_of(&path), format!("`{user}` is in both kiro.console.unsubscribe and kiro.console.unsubscribed"))
                    .with_hint(format!("they are unsubscribed already (kiro.console.unsubscribed[{j}]): remove them from kiro.console.unsubscribe")),
            );
        }
    }
}

/// Reports a name listed twice; returns the list's names (lower-cased) with their first index.
fn duplicates(names: &[String], base: &Path, tree: &Node, out: &mut Vec<Diagnostic>) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let path = base.index(i);
        if name.trim().is_empty() {
            out.push(
                Diagnostic::new(&path, tree.position_of(&path), "empty user name")
                    .with_hint("write the user name as the identity source shows it"),
            );
        } else if let Some(first) = seen.insert(name.to_lowercase(), i) {
            seen.insert(name.to_lowercase(), first);
            out.push(
                Diagnostic::new(&path, tree.position_of(&path), format!("`{name}` is listed twice in {base}"))
                    .with_hint(format!("remove this entry; the first is {base}[{first}]")),
            );
        }
    }
    seen
}
