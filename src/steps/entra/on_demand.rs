//! Provision on demand (docs/vendor-behaviour.md §2.6.6), within what Entra accepts: one group with at most 5
//! members per request and at most 5 requests per 10 seconds per job (Entra docs,
//! `provision-on-demand.md`: "can only accept a single group with up to 5 members at a time").
//! A subject already provisioned answers `Skipped` / `RedundantExport` (the v1.0 reference's own
//! example) and is done. A new assignment is honoured only after "a replication delay of up to a
//! few minutes": until then the answer is `Skipped` / `NotEffectivelyEntitled`, which is waited
//! out for at most `KIRO_ONBOARD_ENTRA_ENTITLEMENT_WAIT` seconds and past that reported as pending.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::clients::graph::Graph;
use crate::clients::graph_model::{OnDemandAnswer, OnDemandResult};

/// Entra's limits for provisionOnDemand.
pub const MAX_MEMBERS_PER_REQUEST: usize = 5;
const MAX_REQUESTS: usize = 5;
const WINDOW: Duration = Duration::from_secs(10);

/// How long "not entitled yet" is waited out: `KIRO_ONBOARD_ENTRA_ENTITLEMENT_WAIT` seconds,
/// by default 10 minutes (Entra says "up to a few minutes").
pub fn entitlement_wait() -> Duration {
    std::env::var("KIRO_ONBOARD_ENTRA_ENTITLEMENT_WAIT")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(600))
}

/// Keeps provisionOnDemand calls of one job under Entra's rate, so that 429s are the exception.
#[derive(Default)]
pub struct Pacer {
    sent: VecDeque<Instant>,
}

impl Pacer {
    async fn wait_turn(&mut self) {
        while let Some(oldest) = self.sent.front().copied() {
            if oldest.elapsed() >= WINDOW {
                self.sent.pop_front();
            } else if self.sent.len() >= MAX_REQUESTS {
                tokio::time::sleep(WINDOW - oldest.elapsed() + Duration::from_millis(50)).await;
            } else {
                break;
            }
        }
        self.sent.push_back(Instant::now());
    }
}

/// What provisionOnDemand said about one request.
#[derive(Debug, PartialEq)]
pub enum Answer {
    /// `Success`, or `Skipped` / `RedundantExport`: provisioned.
    Provisioned,
    /// `Skipped` / `NotEffectivelyEntitled`: the assignment has not reached provisioning yet.
    NotEntitledYet,
    Refused(String),
}

/// Reads the answer: `key` is a JSON string `{result, details: {errorCode, errorMessage}}`. One
/// that does not parse is an error, never a success.
pub fn read_answer(answer: &Value) -> Result<Answer, String> {
    let key: OnDemandResult = serde_json::from_value::<OnDemandAnswer>(answer.clone())
        .ok()
        .and_then(|a| a.key)
        .and_then(|k| serde_json::from_str(&k).ok())
        .ok_or_else(|| {
            let shown: String = answer.to_string().chars().take(200).collect();
            format!("Graph's provisionOnDemand answer is not the documented JSON (a `key` holding {{result, details}}): {shown}")
        })?;
    let code = key.details.error_code.as_deref().unwrap_or_default();
    match (key.result.as_deref(), code) {
        (Some("Success"), _) | (Some("Skipped"), "RedundantExport") => Ok(Answer::Provisioned),
        (Some("Skipped"), "NotEffectivelyEntitled") => Ok(Answer::NotEntitledYet),
        (Some(result), _) => Ok(Answer::Refused(format!(
            "{result} ({code}: {})",
            key.details.error_message.as_deref().unwrap_or_default()
        ))),
        (None, _) => Err("Graph's provisionOnDemand answer names no `result`".into()),
    }
}

/// How one group went.
pub enum GroupResult {
    Provisioned,
    /// Still not entitled after the wait: (members not provisioned yet, how long was waited).
    Pending {
        left: usize,
        waited: Duration,
    },
}

/// Provisions `group_id` with `members` (user object ids) on demand, 5 members per request.
pub async fn provision_group(
    graph: &Graph,
    pacer: &mut Pacer,
    job_path: &str,
    rule_id: &str,
    group_id: &str,
    group_name: &str,
    members: &[String],
) -> Result<GroupResult, String> {
    let batches: Vec<&[String]> =
        if members.is_empty() { vec![&[][..]] } else { members.chunks(MAX_MEMBERS_PER_REQUEST).collect() };
    let wait_limit = entitlement_wait();
    let started = Instant::now();
    let mut told = false;
    let mut done = 0;
    for batch in batches {
        let links: Vec<Value> = batch.iter().map(|id| json!({"objectId": id, "objectTypeName": "User"})).collect();
        let body = json!({"parameters": [{"ruleId": format!("{rule_id}#V2"), "subjects": [
            {"objectId": group_id, "objectTypeName": "Group", "links": {"members": links}}]}]});
        let mut backoff = Duration::from_secs(1);
        loop {
            pacer.wait_turn().await;
            let answer = graph
                .call(Method::POST, &format!("{job_path}/provisionOnDemand"), &[], Some(&body))
                .await
                .map_err(|e| format!("provisioning {group_name} on demand: {e}"))?;
            match read_answer(&answer).map_err(|e| format!("provisioning {group_name} on demand: {e}"))? {
                Answer::Provisioned => break,
                Answer::Refused(why) => return Err(format!("provisioning {group_name} on demand: {why}")),
                Answer::NotEntitledYet if started.elapsed() < wait_limit => {
                    if !told {
                        // Expected after every new assignment, not a problem: a status line.
                        crate::output::status(
                            false,
                            &format!(
                                "Entra has not replicated the assignment of {group_name} to provisioning yet (this takes up to a few minutes); waiting up to {} s (KIRO_ONBOARD_ENTRA_ENTITLEMENT_WAIT)",
                                wait_limit.as_secs()
                            ),
                        );
                        told = true;
                    }
                    tokio::time::sleep(backoff.min(wait_limit.saturating_sub(started.elapsed()))).await;
                    backoff = (backoff * 2).min(Duration::from_secs(15));
                }
                Answer::NotEntitledYet => {
                    return Ok(GroupResult::Pending {
                        left: members.len().saturating_sub(done),
                        waited: started.elapsed(),
                    });
                }
            }
        }
        done += batch.len();
    }
    Ok(GroupResult::Provisioned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(key: &str) -> Value {
        json!({"key": key, "value": "{}"})
    }

    #[test]
    fn reads_provision_on_demand_answers_and_refuses_what_does_not_parse() {
        let ok = answer(r#"{"result":"Success","details":{}}"#);
        assert_eq!(read_answer(&ok), Ok(Answer::Provisioned));
        let redundant = answer(r#"{"result":"Skipped","details":{"errorCode":"RedundantExport","errorMessage":"x"}}"#);
        assert_eq!(read_answer(&redundant), Ok(Answer::Provisioned));
        let early = answer(r#"{"result":"Skipped","details":{"errorCode":"NotEffectivelyEntitled"}}"#);
        assert_eq!(read_answer(&early), Ok(Answer::NotEntitledYet));
        let failed = answer(r#"{"result":"Failure","details":{"errorCode":"E","errorMessage":"m"}}"#);
        assert!(matches!(read_answer(&failed), Ok(Answer::Refused(why)) if why.contains("Failure (E: m)")));
        assert!(read_answer(&answer("not json")).unwrap_err().contains("not the documented JSON"));
        assert!(read_answer(&json!({"value": "{}"})).is_err());
        assert!(read_answer(&answer("[1]")).is_err());
        assert!(read_answer(&answer("{}")).is_err());
    }
}
