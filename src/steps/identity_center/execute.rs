//! Makes the planned changes: groups and users first (their ids are needed next), then
//! memberships. Calls run with bounded concurrency under the shared rate limit. A create that
//! finds the object already there (an earlier, interrupted apply made it) looks it up instead of
//! failing, so a second run finishes the job without duplicates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_identitystore::types::{AlternateIdentifier, AttributeOperation, Email, MemberId, Name, UniqueAttribute};
use aws_smithy_types::Document;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::diff::{Op, Planned, UserField};
use super::directory::{Directory, IDENTITY_STORE};
use crate::clients::aws::{Aws, remote_error};
use crate::engine::{Outcome, Session, Status};
use crate::output::Task;

/// Ids of the groups and users, by lower-cased name, as they become known.
#[derive(Default)]
struct Ids {
    users: HashMap<String, String>,
    groups: HashMap<String, String>,
}

pub async fn execute(aws: Arc<Aws>, dir: &Directory, planned: &[Planned], session: &Session) -> Vec<Outcome> {
    let ids = Arc::new(Mutex::new(Ids {
        users: dir.users.iter().map(|(k, u)| (k.clone(), u.id.clone())).collect(),
        groups: dir.groups.iter().map(|(k, g)| (k.clone(), g.id.clone())).collect(),
    }));
    let store = dir.instance.identity_store_id.clone();
    let (first, second): (Vec<&Planned>, Vec<&Planned>) =
        planned.iter().partition(|p| !matches!(p.op, Op::AddMember { .. } | Op::RemoveMember { .. }));
    let mut outcomes = Vec::new();
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
    // Report in plan order, whatever order the calls finished in.
    let order: HashMap<_, _> = planned.iter().enumerate().map(|(i, p)| (p.change.address.clone(), i)).collect();
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
    let client = aws.identity_store();
    match op {
        Op::CreateGroup(group) => {
            let result = aws
                .call(IDENTITY_STORE, "CreateGroup", || {
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
                Err(e) if e.as_service_error().is_some_and(|s| s.is_conflict_exception()) => {
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
                Err(e) => return Err(remote_error(IDENTITY_STORE, "CreateGroup", &e).to_string()),
            };
            lock(ids).groups.insert(group.name.to_lowercase(), id);
            Ok(status)
        }
        Op::UpdateGroup { group_id, description } => {
            let operation = AttributeOperation::builder()
                .attribute_path("description")
                .attribute_value(Document::String(description))
                .build()
                .map_err(|e| e.to_string())?;
            aws.call(IDENTITY_STORE, "UpdateGroup", || {
                client.update_group().identity_store_id(store).group_id(&group_id).operations(operation.clone()).send()
            })
            .await
            .map_err(|e| remote_error(IDENTITY_STORE, "UpdateGroup", &e).to_string())?;
            Ok(Status::Applied)
        }
        Op::CreateUser(user) => {
            let name = Name::builder().given_name(&user.given_name).family_name(&user.family_name).build();
            let email = Email::builder().value(&user.email).r#type("work").primary(true).build();
            let display_name = user.effective_display_name();
            let result = aws
                .call(IDENTITY_STORE, "CreateUser", || {
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
                Err(e) if e.as_service_error().is_some_and(|s| s.is_conflict_exception()) => {
                    let id = aws
                        .call(IDENTITY_STORE, "GetUserId", || {
                            client
                                .get_user_id()
                                .identity_store_id(store)
                                .alternate_identifier(unique("userName", &user.user_name))
                                .send()
                        })
                        .await
                        .map_err(|e| remote_error(IDENTITY_STORE, "GetUserId", &e).to_string())?
                        .user_id;
                    (id, Status::AlreadyDone)
                }
                Err(e) => return Err(remote_error(IDENTITY_STORE, "CreateUser", &e).to_string()),
            };
            lock(ids).users.insert(user.user_name.to_lowercase(), id);
            Ok(status)
        }
        Op::UpdateUser { user_id, user, fields } => {
            let operations = fields.iter().map(|field| user_operation(*field, &user)).collect::<Result<Vec<_>, _>>()?;
            aws.call(IDENTITY_STORE, "UpdateUser", || {
                client
                    .update_user()
                    .identity_store_id(store)
                    .user_id(&user_id)
                    .set_operations(Some(operations.clone()))
                    .send()
            })
            .await
            .map_err(|e| remote_error(IDENTITY_STORE, "UpdateUser", &e).to_string())?;
            Ok(Status::Applied)
        }
        Op::AddMember { group, user } => {
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
            let result = aws
                .call(IDENTITY_STORE, "CreateGroupMembership", || {
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
                Err(e) if e.as_service_error().is_some_and(|s| s.is_conflict_exception()) => Ok(Status::AlreadyDone),
                Err(e) => Err(remote_error(IDENTITY_STORE, "CreateGroupMembership", &e).to_string()),
            }
        }
        Op::RemoveMember { membership_id } => {
            let result = aws
                .call(IDENTITY_STORE, "DeleteGroupMembership", || {
                    client.delete_group_membership().identity_store_id(store).membership_id(&membership_id).send()
                })
                .await;
            match result {
                Ok(_) => Ok(Status::Applied),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
                    Ok(Status::AlreadyDone)
                }
                Err(e) => Err(remote_error(IDENTITY_STORE, "DeleteGroupMembership", &e).to_string()),
            }
        }
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
