//! Semantic checks: what the schema cannot say. Each problem points at the admin's file.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use super::diagnostic::{Diagnostic, did_you_mean};
use super::model::Plan;
use super::tree::{Node, Path};
use crate::requirements;
use crate::shared::endpoint::Vendor;
use crate::shared::regions::{aws_region, aws_region_codes};

pub const SUPPORTED_VERSION: u32 = 1;

/// Names Identity Center reserves for itself.
const RESERVED_USER_NAMES: &[&str] = &["administrator", "awsadministrators"];

pub fn check(plan: &Plan, tree: &Node) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let root = Path::root();
    let at = |path: &Path| tree.position_of(path);

    if plan.version != SUPPORTED_VERSION {
        let path = root.key("version");
        out.push(
            Diagnostic::new(&path, at(&path), format!("unsupported plan version {}", plan.version))
                .with_hint(format!("this kiro-onboard reads `version: {SUPPORTED_VERSION}`; upgrade kiro-onboard or rewrite the plan for version {SUPPORTED_VERSION}")),
        );
    }

    let requirements = match &plan.kiro.requirements {
        None => requirements::latest(),
        Some(name) => match requirements::edition(name) {
            Some(edition) => edition,
            None => {
                let path = root.key("kiro").key("requirements");
                out.push(
                    Diagnostic::new(&path, at(&path), format!("unknown requirements edition `{name}`"))
                        .with_hint(format!("known editions: {}", requirements::edition_names().join(", "))),
                );
                requirements::latest()
            }
        },
    };

    let region = &plan.kiro.profile_region;
    if !requirements.profile_regions.iter().any(|r| r == region) {
        let path = root.key("kiro").key("profile_region");
        let regions = requirements.profile_regions.join(", ");
        let hint = match did_you_mean(region, requirements.profile_regions.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`? Kiro profiles can be created in: {regions}"),
            None => format!("Kiro profiles can be created in: {regions}"),
        };
        out.push(
            Diagnostic::new(&path, at(&path), format!("Kiro does not support profiles in `{region}`")).with_hint(hint),
        );
    }

    if let Some(aws_region) = &plan.aws.region {
        check_aws_region(aws_region, plan.identity_center.is_some(), requirements, tree, &mut out);
    }

    if let Some(idc) = &plan.identity_center {
        check_identity_center(idc, tree, &root.key("identity_center"), &mut out);
    }
    if let Some(okta) = &plan.okta {
        check_okta(okta, tree, &root.key("okta"), &mut out);
    }
    let sources: Vec<&str> = [
        ("identity_center", plan.identity_center.is_some()),
        ("entra", plan.entra.is_some()),
        ("okta", plan.okta.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if let [first, second, ..] = sources.as_slice() {
        let path = root.key(second);
        out.push(
            Diagnostic::new(
                &path,
                tree.key_position_of(&path),
                format!(
                    "`{first}` and `{second}` are both set, but a Kiro profile signs in through one identity source"
                ),
            )
            .with_hint(
                "keep the one your people sign in with (identity_center, entra or okta); use one plan per Kiro profile",
            ),
        );
    }
    check_subscriptions(plan, tree, &mut out);
    check_domains(plan, requirements, tree, &mut out);
    if let Some(entra) = &plan.entra {
        check_entra(entra, tree, &mut out);
    }

    out.sort_by_key(|d| (d.line, d.column));
    out
}

/// A problem when `url` may not carry `vendor`'s credential (`shared::endpoint` holds the rules).
fn credential_destination(url: &str, vendor: Vendor, path: &Path, tree: &Node) -> Option<Diagnostic> {
    let refused = crate::shared::endpoint::credential_url(url, vendor).err()?;
    Some(Diagnostic::new(path, tree.position_of(path), refused.about(url, vendor)).with_hint(refused.hint(vendor)))
}

fn check_okta(okta: &super::model::Okta, tree: &Node, base: &Path, out: &mut Vec<Diagnostic>) {
    let at = |path: &Path| tree.position_of(path);
    let org = &okta.org_url;
    let path = base.key("org_url");
    let host_and_path = org.split_once("://").map(|(_, rest)| rest.trim_end_matches('/')).unwrap_or("");
    if let Some(problem) = credential_destination(org, Vendor::Okta, &path, tree) {
        out.push(problem);
    } else if host_and_path.contains('/') {
        out.push(
            Diagnostic::new(&path, at(&path), format!("`{org}` has a path; the org URL is the bare origin"))
                .with_hint("drop the path: e.g. https://example.okta.com, not https://example.okta.com/oauth2/default (set okta.authorization_server instead)"),
        );
    }
    if okta.app_label.trim().is_empty() {
        let path = base.key("app_label");
        out.push(Diagnostic::new(&path, at(&path), "the app label is empty").with_hint("e.g. app_label: Kiro"));
    }
    let mut seen = HashMap::new();
    for (index, group) in okta.assign_groups.iter().enumerate() {
        let path = base.key("assign_groups").index(index);
        if let Some(first) = seen.insert(group.clone(), index) {
            out.push(
                Diagnostic::new(&path, at(&path), format!("group `{group}` is listed twice"))
                    .with_hint(format!("remove this entry; it repeats assign_groups[{first}]")),
            );
        }
    }
    if let Some(chosen) = &okta.kiro_scopes {
        let kiro = &crate::requirements::latest().scopes;
        let path = base.key("kiro_scopes");
        if chosen.is_empty() {
            out.push(
                Diagnostic::new(&path, at(&path), "no Kiro scope is chosen: nobody could use Kiro")
                    .with_hint(format!("list one or both of {}, or leave kiro_scopes out for both", kiro.join(", "))),
            );
        }
        for (index, scope) in chosen.iter().enumerate() {
            if !kiro.contains(scope) {
                let path = path.index(index);
                out.push(
                    Diagnostic::new(&path, at(&path), format!("`{scope}` is not one of Kiro's scopes"))
                        .with_hint(format!("Kiro's scopes are {}", kiro.join(", "))),
                );
            }
        }
    }
    if let Some(provisioning) = &okta.provisioning {
        check_push_groups(okta, &provisioning.push_groups, tree, base, out);
        let endpoint = &provisioning.scim_endpoint;
        let path = base.key("provisioning").key("scim_endpoint");
        if let Some(problem) = credential_destination(endpoint, Vendor::Scim, &path, tree) {
            out.push(problem);
        } else if endpoint.ends_with('/') {
            out.push(
                Diagnostic::new(
                    &path,
                    at(&path),
                    "the SCIM endpoint ends with `/`: Okta's Test API Credentials fails on it",
                )
                .with_hint(format!("write `{}`", endpoint.trim_end_matches('/'))),
            );
        }
    }
}

/// Okta help, "App assignments and Group Push".
pub const OKTA_ASSIGN_AND_PUSH: &str =
    "https://help.okta.com/en-us/Content/Topics/users-groups-profiles/app-assignments-group-push.htm";

/// Push groups are listed once each and none is also assigned: "Okta doesn't support using the
/// same group for app assignment and Group Push" (OKTA_ASSIGN_AND_PUSH); its troubleshooting
/// page names the symptom, removed users still appear in the target app's groups.
fn check_push_groups(okta: &super::model::Okta, push: &[String], tree: &Node, base: &Path, out: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, group) in push.iter().enumerate() {
        let path = base.key("provisioning").key("push_groups").index(index);
        let at = tree.position_of(&path);
        if let Some(first) = seen.insert(group.to_lowercase(), index) {
            out.push(
                Diagnostic::new(&path, at, format!("group `{group}` is listed twice"))
                    .with_hint(format!("remove this entry; it repeats push_groups[{first}]")),
            );
        } else if let Some(assigned) = okta.assign_groups.iter().position(|g| g.eq_ignore_ascii_case(group)) {
            out.push(
                Diagnostic::new(
                    &path,
                    at,
                    format!(
                        "group `{group}` is both assigned (okta.assign_groups[{assigned}]) and pushed: Okta doesn't support using the same group for app assignment and Group Push (users removed from it stay in Kiro's group)"
                    ),
                )
                .with_hint(format!(
                    "push a separate group (e.g. `{assigned_name} (Kiro push)`) with the same members and keep `{assigned_name}` for assignment; see {OKTA_ASSIGN_AND_PUSH}",
                    assigned_name = okta.assign_groups[assigned]
                )),
            );
        }
    }
}

fn check_identity_center(idc: &super::model::IdentityCenter, tree: &Node, base: &Path, out: &mut Vec<Diagnostic>) {
    let at = |path: &Path| tree.position_of(path);

    if let Some(arn) = &idc.instance_arn
        && !is_instance_arn(arn)
    {
        let path = base.key("instance_arn");
        out.push(
                Diagnostic::new(&path, at(&path), format!("`{arn}` is not an IAM Identity Center instance ARN"))
                    .with_hint("it looks like arn:aws:sso:::instance/ssoins-0123456789abcdef; `aws sso-admin list-instances` shows yours, or leave it out to discover it"),
            );
    }

    let users = check_users(idc, tree, base, out);
    check_unique_emails(idc, tree, base, out);
    check_groups(idc, &users, tree, base, out);
    super::validate_offboarding::check_absent_users(idc, tree, base, out);
}

/// Each user's name and email; returns the users by lower-cased name (Identity Center compares
/// names case-insensitively) for the group checks.
fn check_users(
    idc: &super::model::IdentityCenter,
    tree: &Node,
    base: &Path,
    out: &mut Vec<Diagnostic>,
) -> HashMap<String, usize> {
    let at = |path: &Path| tree.position_of(path);
    let mut users: HashMap<String, usize> = HashMap::with_capacity(idc.users.len());
    let users_path = base.key("users");
    for (i, user) in idc.users.iter().enumerate() {
        // Paths are built only for a problem: a valid plan of 100,000 users needs none.
        let field_path = |field: &str| users_path.index(i).key(field);
        let lower = user.user_name.to_lowercase();
        if let Some(first) = users.get(&lower) {
            let first_line = at(&users_path.index(*first).key("user_name")).line;
            out.push(
                Diagnostic::new(field_path("user_name"), at(&field_path("user_name")), format!("duplicate user `{}`", user.user_name))
                    .with_hint(format!("Identity Center compares user names case-insensitively; this user is already defined on line {first_line}")),
            );
        } else {
            users.insert(lower.clone(), i);
        }
        if user.user_name.chars().any(char::is_whitespace) {
            out.push(
                Diagnostic::new(
                    field_path("user_name"),
                    at(&field_path("user_name")),
                    format!("user name `{}` contains whitespace", user.user_name),
                )
                .with_hint("Identity Center user names cannot contain spaces; use e.g. jdoe or jane.doe@example.com"),
            );
        }
        if user.user_name.chars().count() > 128 {
            out.push(
                Diagnostic::new(
                    field_path("user_name"),
                    at(&field_path("user_name")),
                    "user name is longer than 128 characters",
                )
                .with_hint("Identity Center allows at most 128 characters"),
            );
        }
        if RESERVED_USER_NAMES.contains(&lower.as_str()) {
            out.push(
                Diagnostic::new(
                    field_path("user_name"),
                    at(&field_path("user_name")),
                    format!("user name `{}` is reserved by Identity Center", user.user_name),
                )
                .with_hint("choose another user name"),
            );
        }
        if let Err(reason) = check_email(&user.email) {
            out.push(
                Diagnostic::new(
                    field_path("email"),
                    at(&field_path("email")),
                    format!("`{}` is not a valid email address: {reason}", user.email),
                )
                .with_hint("the user's primary email, unique in the directory; write it as name@example.com"),
            );
        }
    }
    users
}

/// Each group's name and members: every member must be a user the plan defines.
fn check_groups(
    idc: &super::model::IdentityCenter,
    users: &HashMap<String, usize>,
    tree: &Node,
    base: &Path,
    out: &mut Vec<Diagnostic>,
) {
    let at = |path: &Path| tree.position_of(path);
    let mut groups: HashMap<String, usize> = HashMap::new();
    let user_names: Vec<&str> = idc.users.iter().map(|u| u.user_name.as_str()).collect();
    for (i, group) in idc.groups.iter().enumerate() {
        let path = base.key("groups").index(i);
        let name_path = path.key("name");
        let lower = group.name.to_lowercase();
        if let Some(first) = groups.get(&lower) {
            let first_line = at(&base.key("groups").index(*first).key("name")).line;
            out.push(
                Diagnostic::new(&name_path, at(&name_path), format!("duplicate group `{}`", group.name))
                    .with_hint(format!("Identity Center compares group names case-insensitively; this group is already defined on line {first_line}")),
            );
        } else {
            groups.insert(lower, i);
        }
        if group.name.chars().count() > 1024 {
            out.push(
                Diagnostic::new(&name_path, at(&name_path), "group name is longer than 1024 characters")
                    .with_hint("Identity Center allows at most 1024 characters"),
            );
        }
        let mut seen: HashSet<String> = HashSet::with_capacity(group.members.len());
        for (j, member) in group.members.iter().enumerate() {
            let member_path = || path.key("members").index(j);
            let lower = member.to_lowercase();
            let known = users.contains_key(&lower);
            if !seen.insert(lower) {
                out.push(
                    Diagnostic::new(
                        member_path(),
                        at(&member_path()),
                        format!("`{member}` is listed twice in group `{}`", group.name),
                    )
                    .with_hint("remove the second entry"),
                );
                continue;
            }
            if !known {
                let hint = match did_you_mean(member, user_names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? Members must be users defined under identity_center.users"),
                    None => {
                        "add this user under identity_center.users; members must be users the plan defines".to_owned()
                    }
                };
                out.push(
                    Diagnostic::new(
                        member_path(),
                        at(&member_path()),
                        format!("member `{member}` of group `{}` is not a user in this plan", group.name),
                    )
                    .with_hint(hint),
                );
            }
        }
    }
}

fn check_entra(entra: &super::model::Entra, tree: &Node, out: &mut Vec<Diagnostic>) {
    let base = Path::root().key("entra");
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, group) in entra.assign_groups.iter().enumerate() {
        let path = base.key("assign_groups").index(i);
        if let Some(first) = seen.insert(group.to_lowercase(), i) {
            out.push(
                Diagnostic::new(&path, tree.position_of(&path), format!("group `{group}` is assigned twice"))
                    .with_hint(format!("keep one entry (the first is entra.assign_groups[{first}])")),
            );
        }
    }
    if let Some(cc) = &entra.client_credentials
        && [cc.client_secret.is_some(), cc.certificate.is_some(), cc.federated_token.is_some()]
            .iter()
            .filter(|given| **given)
            .count()
            != 1
    {
        let path = base.key("client_credentials");
        out.push(
            Diagnostic::new(&path, tree.position_of(&path), "give exactly one of `client_secret`, `certificate` and `federated_token`")
                .with_hint("client_secret: { env: ENTRA_CLIENT_SECRET }, or certificate: { certificate_file: cert.pem, private_key: { file: key.pem } }, or federated_token: { file: /path/to/oidc-token } (workload identity federation)"),
        );
    }
    if let Some(crate::plan::secret::SecretRef::Stdin(_)) =
        entra.client_credentials.as_ref().and_then(|cc| cc.federated_token.as_ref())
    {
        let path = base.key("client_credentials").key("federated_token");
        out.push(
            Diagnostic::new(&path, tree.position_of(&path), "a federated token cannot come from standard input")
                .with_hint("it is read again before every token request (these tokens rotate): use { file: PATH } or { env: NAME }"),
        );
    }
    if let Some(prov) = &entra.provisioning {
        let endpoint_path = base.key("provisioning").key("scim_endpoint");
        // Graph hands the SCIM token to this endpoint: the same rule as for every credential.
        out.extend(credential_destination(&prov.scim_endpoint, Vendor::Scim, &endpoint_path, tree));
        for (i, group) in prov.provision_on_demand.iter().enumerate() {
            if !entra.assign_groups.iter().any(|g| g.eq_ignore_ascii_case(group)) {
                let path = base.key("provisioning").key("provision_on_demand").index(i);
                let hint = match did_you_mean(group, entra.assign_groups.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`? Only assigned groups are in provisioning scope"),
                    None => {
                        "list the group under entra.assign_groups too: only assigned groups are in provisioning scope"
                            .to_owned()
                    }
                };
                out.push(
                    Diagnostic::new(
                        &path,
                        tree.position_of(&path),
                        format!("group `{group}` is provisioned on demand but not assigned"),
                    )
                    .with_hint(hint),
                );
            }
        }
    }
}

fn check_subscriptions(plan: &Plan, tree: &Node, out: &mut Vec<Diagnostic>) {
    super::validate_offboarding::check_unsubscribe_lists(plan, tree, out);
    let base = Path::root().key("kiro").key("console").key("subscribe");
    let groups: Vec<&str> =
        plan.identity_center.iter().flat_map(|i| i.groups.iter().map(|g| g.name.as_str())).collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, subscription) in plan.kiro.console.subscribe.iter().enumerate() {
        let path = base.index(i).key("group");
        let lower = subscription.group.to_lowercase();
        if let Some(first) = seen.insert(lower.clone(), i) {
            out.push(
                Diagnostic::new(&path, tree.position_of(&path), format!("group `{}` is subscribed twice", subscription.group))
                    .with_hint(format!("keep one entry (the first is kiro.console.subscribe[{first}]); a user in two subscribed groups is billed once, at the higher plan")),
            );
        }
        if plan.identity_center.is_some() && plan.entra.is_none() && !groups.iter().any(|g| g.to_lowercase() == lower) {
            let hint = match did_you_mean(&subscription.group, groups.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? Subscribed groups must be groups the plan defines"),
                None => "subscribe a group defined under identity_center.groups".to_owned(),
            };
            out.push(
                Diagnostic::new(
                    &path,
                    tree.position_of(&path),
                    format!("subscribed group `{}` is not a group in this plan", subscription.group),
                )
                .with_hint(hint),
            );
        }
    }
}

fn check_domains(plan: &Plan, requirements: &requirements::Requirements, tree: &Node, out: &mut Vec<Diagnostic>) {
    let at = |path: &Path| tree.position_of(path);
    let base = Path::root().key("domains");
    let limit = requirements.limits.domains;
    if plan.domains.len() > limit {
        let path = base.index(limit);
        out.push(
            Diagnostic::new(
                &path,
                at(&path),
                format!(
                    "the plan lists {} domains; a Kiro profile supports at most {limit}",
                    plan.domains.len()
                ),
            )
            .with_hint(format!(
                "keep at most {limit} (Kiro's requirements {}); a domain only routes sign-in to the Kiro profile and the email a user types need not exist in the directory, so one or a few domains are usually enough",
                requirements.name
            )),
        );
    }

    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, domain) in plan.domains.iter().enumerate() {
        let path = base.index(i);
        let name_path = path.key("name");
        let name = match super::domain::normalize(&domain.name) {
            Ok(name) => match super::domain::check_public(&name) {
                Ok(()) => Some(name),
                Err(e) => {
                    out.push(Diagnostic::new(&name_path, at(&name_path), e.message).with_hint(e.hint));
                    None
                }
            },
            Err(e) => {
                out.push(Diagnostic::new(&name_path, at(&name_path), e.message).with_hint(e.hint));
                None
            }
        };
        let record_path = path.key("record");
        let record = match super::domain::normalize_record(&domain.record) {
            Ok(record) => Some(record),
            Err(e) => {
                out.push(Diagnostic::new(&record_path, at(&record_path), e.message).with_hint(e.hint));
                None
            }
        };
        if let (Some(name), Some(record)) = (name, record) {
            let fqdn = super::domain::fqdn(&record, &name);
            if fqdn.len() > 253 {
                out.push(
                    Diagnostic::new(
                        &record_path,
                        at(&record_path),
                        format!("the record name `{fqdn}` is longer than 253 characters"),
                    )
                    .with_hint("use a shorter prefix such as kiro-app-1"),
                );
            }
            if let Some(first) = seen.get(&fqdn) {
                let first_line = at(&base.index(*first).key("name")).line;
                out.push(
                    Diagnostic::new(&name_path, at(&name_path), format!("duplicate domain: the record `{fqdn}` is already planned"))
                        .with_hint(format!("names are compared in lower case and punycode, without the trailing dot; the same record is defined on line {first_line}")),
                );
            } else {
                seen.insert(fqdn, i);
            }
        }

        let token_path = path.key("token");
        if let Some(token) = &domain.token
            && !token.is_empty()
            && (token.trim() != token || token.chars().any(char::is_control))
        {
            out.push(
                Diagnostic::new(&token_path, at(&token_path), "the token has spaces around it or control characters")
                    .with_hint("copy the verification token again from the Kiro console (Settings → Identity management → Domains) and paste it in quotes"),
            );
        }

        if let Some(zone) = &domain.hosted_zone_id {
            let zone_path = path.key("hosted_zone_id");
            if domain.dns != super::model::DnsProvider::Route53 {
                out.push(
                    Diagnostic::new(&zone_path, at(&zone_path), "`hosted_zone_id` is only used with `dns: route53`")
                        .with_hint(
                            "add `dns: route53` to have kiro-onboard write the record, or remove `hosted_zone_id`",
                        ),
                );
            } else if !is_hosted_zone_id(zone) {
                out.push(
                    Diagnostic::new(&zone_path, at(&zone_path), format!("`{zone}` is not a Route 53 hosted zone id"))
                        .with_hint("it looks like Z0123456789ABCDEFGHIJ; `aws route53 list-hosted-zones-by-name` shows yours, or leave it out to find the zone by name"),
                );
            }
        }
    }

    for (i, resolver) in plan.resolvers.iter().enumerate() {
        let path = Path::root().key("resolvers").index(i);
        if let Err(reason) = crate::shared::resolver::parse_server(resolver) {
            out.push(
                Diagnostic::new(&path, at(&path), format!("`{resolver}` is not a resolver address: {reason}"))
                    .with_hint("write an IP address with an optional port, such as 1.1.1.1, 8.8.8.8:53 or [2606:4700:4700::1111]:53"),
            );
        }
    }
}

/// A Route 53 hosted zone id, with or without the `/hostedzone/` prefix the API sometimes adds.
pub fn is_hosted_zone_id(id: &str) -> bool {
    let id = id.strip_prefix("/hostedzone/").unwrap_or(id);
    !id.is_empty() && id.len() <= 32 && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

fn is_instance_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:") else {
        return false;
    };
    let mut parts = rest.splitn(5, ':');
    let partition = parts.next().unwrap_or("");
    let service = parts.next().unwrap_or("");
    let _region = parts.next();
    let _account = parts.next();
    let resource = parts.next().unwrap_or("");
    partition.starts_with("aws")
        && service == "sso"
        && resource.strip_prefix("instance/").is_some_and(|id| {
            id.starts_with("ssoins-") && id.len() > 7 && id[7..].chars().all(|c| c.is_ascii_alphanumeric())
        })
}

/// `aws.region` must name a Region AWS has; with `identity_center`, one Kiro accepts it in (the
/// same refusal `plan` finds once it sees the instance, said before anything is contacted).
fn check_aws_region(
    region: &str,
    with_identity_center: bool,
    requirements: &requirements::Requirements,
    tree: &Node,
    out: &mut Vec<Diagnostic>,
) {
    let path = Path::root().key("aws").key("region");
    let at = tree.position_of(&path);
    if aws_region(region).is_none() {
        let hint = match did_you_mean(region, aws_region_codes()) {
            Some(code) => format!("did you mean `{code}`?"),
            None => "write a Region code such as us-east-1 or eu-west-1".to_owned(),
        };
        out.push(Diagnostic::new(&path, at, format!("`{region}` is not an AWS Region name")).with_hint(hint));
        return;
    }
    if with_identity_center && let Some(refusal) = requirements.identity_center_region_refusal(region) {
        out.push(
            Diagnostic::new(&path, at, refusal.message).with_hint(format!("{}; {}", refusal.accepted, refusal.remedy)),
        );
    }
}

/// A deliberately modest check: the shape Identity Center and mail systems accept, not RFC 5322.
fn check_email(email: &str) -> Result<(), &'static str> {
    if email.chars().any(char::is_whitespace) {
        return Err("it contains whitespace");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("it has no @");
    };
    if local.is_empty() {
        return Err("nothing before the @");
    }
    if local.contains('@') {
        return Err("it has more than one @");
    }
    if email.len() > 254 {
        return Err("it is longer than 254 characters");
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Err("the domain after the @ is not a full domain name");
    }
    if !domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.') {
        return Err("the domain contains characters a domain name cannot have");
    }
    Ok(())
}

/// Two planned users with one email: IAM Identity Center keeps emails unique like user names
/// (user guide, "Manage identities in IAM Identity Center"), so the second CreateUser would fail.
fn check_unique_emails(idc: &super::model::IdentityCenter, tree: &Node, base: &Path, out: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(idc.users.len());
    for (i, user) in idc.users.iter().enumerate() {
        match seen.entry(user.email.to_lowercase()) {
            Entry::Occupied(first) => {
                let first = first.get();
                let email_path = base.key("users").index(i).key("email");
                let other = &idc.users[*first];
                let line = tree.position_of(&base.key("users").index(*first).key("email")).line;
                out.push(
                    Diagnostic::new(
                        &email_path,
                        tree.position_of(&email_path),
                        format!("users {} and {} have the same email {}", other.user_name, user.user_name, user.email),
                    )
                    .with_hint(format!(
                        "emails are unique in IAM Identity Center; give {} its own email ({} has it on line {line})",
                        user.user_name, other.user_name
                    )),
                );
            }
            Entry::Vacant(slot) => {
                slot.insert(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(check_email("jdoe@example.com").is_ok());
        assert!(check_email("j.doe+kiro@sub.example.co.uk").is_ok());
        assert!(check_email("jdoe@example").is_err());
        assert!(check_email("jdoe.example.com").is_err());
        assert!(check_email("@example.com").is_err());
        assert!(check_email("a@b@example.com").is_err());
        assert!(check_email("j doe@example.com").is_err());
    }

    #[test]
    fn instance_arns_and_regions() {
        assert!(is_instance_arn("arn:aws:sso:::instance/ssoins-0123456789abcdef"));
        assert!(is_instance_arn("arn:aws-us-gov:sso:::instance/ssoins-7907a0a7d5a2b6c1"));
        assert!(!is_instance_arn("arn:aws:sso:::instance/"));
        assert!(!is_instance_arn("ssoins-0123456789abcdef"));
    }
}
