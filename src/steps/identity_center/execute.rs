//! Makes the planned changes: groups and users first (their ids are needed next), then
//! memberships. Calls run with bounded concurrency under the shared rate limit. A create that
//! finds the object already there (an earlier, interrupted apply made it) looks it up instead of
//! failing, so a second run finishes the job without duplicates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_identitystore::types::{AlternateIdentifier, AttributeOperation, Email, MemberId, Name, UniqueAttribute};
use aws_smithy_types::Document;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::diff::{Op, Planned, UserField};
use super::directory::{Directory, IDENTITY_STORE};
use crate::clients::aws::{Aws, remote_error};
use crate::engine::{Outcome, Session, Status};
use crate::output::Task;
use crate::plan::model::{Group, User};

/// Ids of the groups and users, by lower-cased name, as they become known.
#[derive(Default)]
struct Ids {
    users: HashMap<String, String>,
    groups: HashMap<String, String>,
}

pub async fn execute(aws: Arc<Aws>, dir: &Directory, planned: &[Planned], session: &Session) -> Vec<Outcome> {
    let all = planned;
    let ids = Arc::new(Mutex::new(Ids {
        users: dir.users.iter().map(|(k, u)| (k.clone(), u.id.clone())).collect(),
        groups: dir.groups.iter().map(|(k, g)| (k.clone(), g.id.clone())).collect(),
    }));
    let store = dir.instance.identity_store_id.clone();
    let mut outcomes = Vec::new();
    // A user whose planned email another user holds would fail at CreateUser/UpdateUser: refuse
    // it before calling (plan showed it as `identity_center.email_taken`).
    let (refused, planned): (Vec<&Planned>, Vec<&Planned>) =
        planned.iter().partition(|p| email_taken(dir, &p.op).is_some());
    for p in refused {
        let owner = email_taken(dir, &p.op).unwrap_or_default();
        outcomes.push(Outcome::new(
            &p.change,
            Status::Failed(format!(
                "not attempted: its email is already user {owner}'s, and emails are unique in IAM Identity Center"
            )),
        ));
    }
    // A user leaves last: after their memberships are gone.
    let (planned, third): (Vec<&Planned>, Vec<&Planned>) =
        planned.into_iter().partition(|p| !matches!(p.op, Op::DeleteUser { .. }));
    let (first, second): (Vec<&Planned>, Vec<&Planned>) =
        planned.into_iter().partition(|p| !matches!(p.op, Op::AddMember { .. } | Op::RemoveMember { .. }));
    if !first.is_empty() {
        let task = session.progress.task("identity_center: users and groups", first.len() as u64);
        outcomes.extend(run_all(&aws, &store, &ids, first, session, &task).await);
        task.finish();
    }
    if !second.is_empty() {
        let task = session.progress.task("identity_center: memberships", second.len() as u64);
        outcomes.extend(run_all(&aws, &store, &ids, second, session, &task).await);
        task.finish();
    }
    if !third.is_empty() {
        let task = session.progress.task("identity_center: users who left", third.len() as u64);
        outcomes.extend(run_all(&aws, &store, &ids, third, session, &task).await);
        task.finish();
    }
    // Report in plan order, whatever order the calls finished in.
    let order: HashMap<_, _> = all.iter().enumerate().map(|(i, p)| (p.change.address.clone(), i)).collect();
    outcomes.sort_by_key(|o| order.get(&o.address).copied().unwrap_or(usize::MAX));
    outcomes
}

async fn run_all(
    aws: &Arc<Aws>,
    store: &str,
    ids: &Arc<Mutex<Ids>>,
    batch: Vec<&Planned>,
    session: &Session,
    task: &Task,
) -> Vec<Outcome> {
    let permits = Arc::new(Semaphore::new(session.concurrency));
    let mut tasks = JoinSet::new();
    let mut outcomes = Vec::new();
    for planned in batch {
        let permit = permits.clone().acquire_owned().await.expect("the semaphore is never closed");
        if session.is_interrupted() {
            outcomes.push(Outcome::new(&planned.change, Status::NotAttempted("interrupted before this call".into())));
            continue;
        }
        let (aws, ids, store, op, change) =
            (aws.clone(), ids.clone(), store.to_owned(), planned.op.clone(), planned.change.clone());
        tasks.spawn(async move {
            let status = match run_one(&aws, &store, &ids, op).await {
                Ok(status) => status,
                Err(message) => Status::Failed(message),
            };
            drop(permit);
            Outcome::new(&change, status)
        });
        while let Some(done) = tasks.try_join_next() {
            outcomes.push(joined(done));
            task.inc();
        }
    }
    while let Some(done) = tasks.join_next().await {
        outcomes.push(joined(done));
        task.inc();
    }
    outcomes
}

fn joined(result: Result<Outcome, tokio::task::JoinError>) -> Outcome {
    result.unwrap_or_else(|e| Outcome {
        address: crate::engine::Address::new("identity_center.internal", "task"),
        action: crate::engine::Action::Create,
        status: Status::Failed(format!("internal error: {e}")),
    })
}

async fn run_one(aws: &Aws, store: &str, ids: &Mutex<Ids>, op: Op) -> Result<Status, String> {
    match op {
        Op::CreateGroup(group) => create_group(aws, store, ids, group).await,
        Op::UpdateGroup { group_id, description } => update_group(aws, store, group_id, description).await,
        Op::CreateUser(user) => create_user(aws, store, ids, user).await,
        Op::UpdateUser { user_id, user, fields } => update_user(aws, store, user_id, user, fields).await,
        Op::AddMember { group, user } => add_member(aws, store, ids, group, user).await,
        Op::RemoveMember { membership_id } => remove_member(aws, store, membership_id).await,
        Op::DeleteUser { user_id } => delete_user(aws, store, user_id).await,
    }
}

/// Creates a group, or finds the one a conflict says is already there, and records its id.
async fn create_group(aws: &Aws, store: &str, ids: &Mutex<Ids>, group: Group) -> Result<Status, String> {
    let client = aws.identity_store();
    let result = write(aws, "CreateGroup", || {
        client
            .create_group()
            .identity_store_id(store)
            .display_name(&group.name)
            .set_description(group.description.clone())
            .send()
    })
    .await;
    let (id, status) = match result {
        Ok(out) => (out.group_id, Status::Applied),
        Err(e) if conflict(&e) == Some(Conflict::AlreadyThere) => {
            let id = aws
                .call(IDENTITY_STORE, "GetGroupId", || {
                    client
                        .get_group_id()
                        .identity_store_id(store)
                        .alternate_identifier(unique("displayName", &group.name))
                        .send()
                })
                .await
                .map_err(|e| remote_error(IDENTITY_STORE, "GetGroupId", &e).to_string())?
                .group_id;
            (id, Status::AlreadyDone)
        }
        Err(e) => return Err(write_error("CreateGroup", &e)),
    };
    lock(ids).groups.insert(group.name.to_lowercase(), id);
    Ok(status)
}

/// Sets a group's description.
async fn update_group(aws: &Aws, store: &str, group_id: String, description: String) -> Result<Status, String> {
    let client = aws.identity_store();
    let operation = AttributeOperation::builder()
        .attribute_path("description")
        .attribute_value(Document::String(description))
        .build()
        .map_err(|e| e.to_string())?;
    write(aws, "UpdateGroup", || {
        client.update_group().identity_store_id(store).group_id(&group_id).operations(operation.clone()).send()
    })
    .await
    .map_err(|e| write_error("UpdateGroup", &e))?;
    Ok(Status::Applied)
}

/// Creates a user, or finds the one a conflict says is already there, and records its id.
async fn create_user(aws: &Aws, store: &str, ids: &Mutex<Ids>, user: User) -> Result<Status, String> {
    let client = aws.identity_store();
    let name = Name::builder().given_name(&user.given_name).family_name(&user.family_name).build();
    let email = Email::builder().value(&user.email).r#type("work").primary(true).build();
    let display_name = user.effective_display_name();
    let result = write(aws, "CreateUser", || {
        client
            .create_user()
            .identity_store_id(store)
            .user_name(&user.user_name)
            .name(name.clone())
            .display_name(&display_name)
            .emails(email.clone())
            .send()
    })
    .await;
    let (id, status) = match result {
        Ok(out) => (out.user_id, Status::Applied),
        Err(e) if conflict(&e) == Some(Conflict::AlreadyThere) => {
            let found = aws
                .call(IDENTITY_STORE, "GetUserId", || {
                    client
                        .get_user_id()
                        .identity_store_id(store)
                        .alternate_identifier(unique("userName", &user.user_name))
                        .send()
                })
                .await;
            match found {
                Ok(out) => (out.user_id, Status::AlreadyDone),
                // No user of that name: what is not unique is the email.
                Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
                    return Err(format!(
                        "identitystore CreateUser failed: another user already has the email {} (emails are unique in IAM Identity Center; hint: give {} another email)",
                        user.email, user.user_name
                    ));
                }
                Err(e) => return Err(remote_error(IDENTITY_STORE, "GetUserId", &e).to_string()),
            }
        }
        Err(e) => return Err(write_error("CreateUser", &e)),
    };
    lock(ids).users.insert(user.user_name.to_lowercase(), id);
    Ok(status)
}

/// Sets the user's fields that differ from the plan.
async fn update_user(
    aws: &Aws,
    store: &str,
    user_id: String,
    user: User,
    fields: Vec<UserField>,
) -> Result<Status, String> {
    let client = aws.identity_store();
    let operations = fields.iter().map(|field| user_operation(*field, &user)).collect::<Result<Vec<_>, _>>()?;
    write(aws, "UpdateUser", || {
        client.update_user().identity_store_id(store).user_id(&user_id).set_operations(Some(operations.clone())).send()
    })
    .await
    .map_err(|e| write_error("UpdateUser", &e))?;
    Ok(Status::Applied)
}

/// Adds a user to a group, both by the ids this apply knows (read, or just created).
async fn add_member(aws: &Aws, store: &str, ids: &Mutex<Ids>, group: String, user: String) -> Result<Status, String> {
    let client = aws.identity_store();
    let (group_id, user_id) = {
        let ids = lock(ids);
        (ids.groups.get(&group.to_lowercase()).cloned(), ids.users.get(&user.to_lowercase()).cloned())
    };
    let Some(group_id) = group_id else {
        return Ok(Status::NotAttempted(format!("group {group} does not exist (its creation failed)")));
    };
    let Some(user_id) = user_id else {
        return Ok(Status::NotAttempted(format!("user {user} does not exist (its creation failed)")));
    };
    let result = write(aws, "CreateGroupMembership", || {
        client
            .create_group_membership()
            .identity_store_id(store)
            .group_id(&group_id)
            .member_id(MemberId::UserId(user_id.clone()))
            .send()
    })
    .await;
    match result {
        Ok(_) => Ok(Status::Applied),
        Err(e) if conflict(&e) == Some(Conflict::AlreadyThere) => Ok(Status::AlreadyDone),
        Err(e) => Err(write_error("CreateGroupMembership", &e)),
    }
}

/// Removes a membership; one already gone is done.
async fn remove_member(aws: &Aws, store: &str, membership_id: String) -> Result<Status, String> {
    let client = aws.identity_store();
    let result = write(aws, "DeleteGroupMembership", || {
        client.delete_group_membership().identity_store_id(store).membership_id(&membership_id).send()
    })
    .await;
    match result {
        Ok(_) => Ok(Status::Applied),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(Status::AlreadyDone),
        Err(e) => Err(write_error("DeleteGroupMembership", &e)),
    }
}

/// Deletes a user who left; one already gone is done.
async fn delete_user(aws: &Aws, store: &str, user_id: String) -> Result<Status, String> {
    let client = aws.identity_store();
    let result =
        write(aws, "DeleteUser", || client.delete_user().identity_store_id(store).user_id(&user_id).send()).await;
    match result {
        Ok(_) => Ok(Status::Applied),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(Status::AlreadyDone),
        Err(e) => Err(write_error("DeleteUser", &e)),
    }
}

fn lock(ids: &Mutex<Ids>) -> std::sync::MutexGuard<'_, Ids> {
    ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(super) fn unique(path: &str, value: &str) -> AlternateIdentifier {
    AlternateIdentifier::UniqueAttribute(
        UniqueAttribute::builder()
            .attribute_path(path)
            .attribute_value(Document::String(value.to_owned()))
            .build()
            .expect("path and value are set"),
    )
}

/// One UpdateUser operation. `emails` is multi-valued: Identity Store only accepts it replaced whole.
fn user_operation(field: UserField, user: &crate::plan::model::User) -> Result<AttributeOperation, String> {
    let (path, value) = match field {
        UserField::GivenName => ("name.givenName", Document::String(user.given_name.clone())),
        UserField::FamilyName => ("name.familyName", Document::String(user.family_name.clone())),
        UserField::DisplayName => ("displayName", Document::String(user.effective_display_name())),
        UserField::Email => (
            "emails",
            Document::Array(vec![Document::Object(
                [
                    ("value".to_owned(), Document::String(user.email.clone())),
                    ("type".to_owned(), Document::String("work".into())),
                    ("primary".to_owned(), Document::Bool(true)),
                ]
                .into_iter()
                .collect(),
            )]),
        ),
    };
    AttributeOperation::builder().attribute_path(path).attribute_value(value).build().map_err(|e| e.to_string())
}

/// The user that already holds the email `op` would give a planned user, if another one does.
fn email_taken(dir: &Directory, op: &Op) -> Option<String> {
    let user = match op {
        Op::CreateUser(user) => user,
        Op::UpdateUser { user, fields, .. } if fields.contains(&UserField::Email) => user,
        _ => return None,
    };
    dir.email_owners
        .get(&user.email.to_lowercase())
        .filter(|owner| !owner.eq_ignore_ascii_case(&user.user_name))
        .cloned()
}

/// What a ConflictException means (identitystore model: `ConflictException.Reason` is
/// `UNIQUENESS_CONSTRAINT_VIOLATION` or `CONCURRENT_MODIFICATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conflict {
    /// The object (or a unique attribute of it) exists already.
    AlreadyThere,
    /// Another write was in progress: try again.
    Concurrent,
}

fn conflict<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(err: &SdkError<E>) -> Option<Conflict> {
    if err.code() != Some("ConflictException") {
        return None;
    }
    match crate::clients::aws::error_reason(err).as_deref() {
        Some("CONCURRENT_MODIFICATION") => Some(Conflict::Concurrent),
        // UNIQUENESS_CONSTRAINT_VIOLATION, or no reason (older answers): it exists.
        _ => Some(Conflict::AlreadyThere),
    }
}

/// How many times a write refused with CONCURRENT_MODIFICATION is sent again.
const CONCURRENT_ATTEMPTS: u32 = 4;

/// Sends a write, again (after a short pause) while Identity Store answers
/// CONCURRENT_MODIFICATION, at most CONCURRENT_ATTEMPTS times.
async fn write<T, E, F, Fut>(aws: &Aws, operation: &'static str, send: F) -> crate::clients::aws::AwsResult<T, E>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = crate::clients::aws::AwsResult<T, E>>,
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut attempt = 1;
    loop {
        let result = aws.call(IDENTITY_STORE, operation, &send).await;
        match &result {
            Err(e) if attempt < CONCURRENT_ATTEMPTS && conflict(e) == Some(Conflict::Concurrent) => {
                tracing::debug!(operation, attempt, "concurrent modification; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt))).await;
                attempt += 1;
            }
            _ => return result,
        }
    }
}

type SdkError<E> =
    aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>;

/// The error text for a failed write: UnknownOperationException means an AD-sourced directory.
fn write_error<E>(operation: &'static str, err: &SdkError<E>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if err.code() == Some("UnknownOperationException") {
        return super::ownership::unknown_operation(operation);
    }
    let error = remote_error(IDENTITY_STORE, operation, err);
    match error.hint() {
        Some(hint) => format!("{error} (hint: {hint})"),
        None => error.to_string(),
    }
}
