//! Kiro's two key-policy statements: rendered from templates/kms, compared with what a key policy
//! holds in meaning rather than in bytes, and merged into a policy one statement at a time.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

const EXACT: &str = include_str!("../../../templates/kms/exact.json");
const WILDCARD: &str = include_str!("../../../templates/kms/wildcard.json");
const NEW_KEY_POLICY: &str = include_str!("../../../templates/kms/new-key-policy.json");

/// KMS refuses key policies larger than 32 KiB.
pub const MAX_POLICY_BYTES: usize = 32 * 1024;
pub const KIRO_PRINCIPAL: &str = "q.amazonaws.com";

/// What the statements are about: one Identity Center instance and its identity store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub instance_arn: String,
    pub identity_store_arn: String,
    pub region: String,
    pub account: String,
    pub partition: String,
}

/// Why no statements can be written for the ARNs and Region given, and what to pass instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRefused {
    pub message: String,
    pub hint: String,
}

impl From<TargetRefused> for crate::error::Error {
    fn from(refused: TargetRefused) -> Self {
        crate::error::Error::Precondition { message: refused.message, hint: refused.hint }
    }
}

const INSTANCE_ARN_SHAPE: &str = "arn:aws:sso:::instance/ssoins-…";
const STORE_ARN_SHAPE: &str = "arn:aws:identitystore::111122223333:identitystore/d-…";

impl Target {
    pub fn new(instance_arn: &str, identity_store_arn: &str, region: &str) -> Result<Self, TargetRefused> {
        let copy_hint = "copy the Instance ARN and the Identity store ID from IAM Identity Center → Settings (or pass --instance-id, --identity-store-id and --account), or let `kiro-onboard kms policy` read them from AWS";
        let partition = arn_part(instance_arn, 1)
            .filter(|p| !p.is_empty() && instance_arn.contains(":sso:::instance/"))
            .ok_or_else(|| TargetRefused {
                message: format!("`{instance_arn}` is not an IAM Identity Center instance ARN ({INSTANCE_ARN_SHAPE})"),
                hint: copy_hint.into(),
            })?;
        let account =
            arn_part(identity_store_arn, 4).filter(|a| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()));
        let Some(account) = account.filter(|_| {
            identity_store_arn.contains(":identitystore::") && identity_store_arn.contains(":identitystore/")
        }) else {
            return Err(TargetRefused {
                message: format!("`{identity_store_arn}` is not an identity store ARN ({STORE_ARN_SHAPE})"),
                hint: copy_hint.into(),
            });
        };
        same_partition(instance_arn, partition, identity_store_arn, region)?;
        Ok(Target {
            instance_arn: instance_arn.into(),
            identity_store_arn: identity_store_arn.into(),
            region: region.into(),
            account: account.into(),
            partition: partition.into(),
        })
    }

    /// From ids, the way the Identity Center console shows them.
    pub fn from_ids(
        instance_id: &str,
        identity_store_id: &str,
        account: &str,
        region: &str,
    ) -> Result<Self, TargetRefused> {
        let partition = partition_of(region);
        Target::new(
            &format!("arn:{partition}:sso:::instance/{instance_id}"),
            &format!("arn:{partition}:identitystore::{account}:identitystore/{identity_store_id}"),
            region,
        )
    }
}

/// An instance, its identity store and the Region all belong to one partition: "each AWS account
/// is scoped to one partition" (AWS General Reference, "Amazon Resource Names"), so an
/// `arn:aws:` encryption context never reaches `sso.us-gov-west-1.amazonaws.com`, and statements
/// that mix them could never match. docs/vendor-behaviour.md §4.4.
fn same_partition(
    instance_arn: &str,
    partition: &str,
    identity_store_arn: &str,
    region: &str,
) -> Result<(), TargetRefused> {
    let store_partition = arn_part(identity_store_arn, 1).unwrap_or_default();
    if store_partition != partition {
        return Err(TargetRefused {
            message: format!(
                "the instance `{instance_arn}` is in partition `{partition}` but the identity store `{identity_store_arn}` is in partition `{store_partition}`: an instance and its identity store are always in one partition, so the statements could never match"
            ),
            hint: "pass the identity store ARN of this same instance (IAM Identity Center → Settings → Details, in the same account and Region)".into(),
        });
    }
    let region_partition = partition_of(region);
    if region_partition != partition {
        let known = crate::shared::regions::aws_region(region).map(|r| format!(" ({})", r.name)).unwrap_or_default();
        return Err(TargetRefused {
            message: format!(
                "the Region `{region}`{known} is in partition `{region_partition}` but the instance `{instance_arn}` is in partition `{partition}`: kms:ViaService `sso.{region}.amazonaws.com` and that instance ARN can never match in one request"
            ),
            hint: format!(
                "pass the Region the instance lives in (a Region of partition `{partition}`), or the ARNs of the instance in `{region}` (they begin with `arn:{region_partition}:`)"
            ),
        });
    }
    Ok(())
}

/// The partition of `region`, from the Region table (botocore's partitions), or from its prefix
/// for a Region the table does not know yet.
pub fn partition_of(region: &str) -> &'static str {
    if let Some(known) = crate::shared::regions::aws_region(region) {
        known.partition
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("cn-") {
        "aws-cn"
    } else {
        "aws"
    }
}

fn arn_part(arn: &str, index: usize) -> Option<&str> {
    arn.strip_prefix("arn:").map(|_| ()).and_then(|()| arn.split(':').nth(index))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Exact,
    Wildcard,
}

/// The two statements for `target`, in template order.
pub fn kiro_statements(target: &Target, form: Form) -> Vec<Value> {
    let template = match form {
        Form::Exact => EXACT,
        Form::Wildcard => WILDCARD,
    };
    let parsed: Value = serde_json::from_str(template).expect("templates/kms is valid JSON (tested)");
    let filled = fill(parsed, target);
    filled.as_array().cloned().unwrap_or_default()
}

/// `statements` with every `kms:ViaService` value that names `region` widened to all of
/// `regions`, for a multi-Region Identity Center: pinning it to one Region would refuse Kiro in
/// the others. A single Region changes nothing.
pub fn for_regions(statements: Vec<Value>, region: &str, regions: &[String]) -> Vec<Value> {
    if regions.len() < 2 {
        return statements;
    }
    fn widen(value: Value, region: &str, regions: &[String]) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| {
                        if k.eq_ignore_ascii_case("kms:ViaService")
                            && let Value::String(service) = &v
                            && service.contains(&format!(".{region}."))
                        {
                            let all = regions
                                .iter()
                                .map(|r| Value::String(service.replace(&format!(".{region}."), &format!(".{r}."))))
                                .collect();
                            return (k, Value::Array(all));
                        }
                        (k, widen(v, region, regions))
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| widen(v, region, regions)).collect()),
            other => other,
        }
    }
    statements.into_iter().map(|s| widen(s, region, regions)).collect()
}

/// A whole key policy for a new key: account administration plus Kiro's statements.
pub fn new_key_policy(target: &Target, form: Form) -> Value {
    let parsed: Value = serde_json::from_str(NEW_KEY_POLICY).expect("templates/kms is valid JSON (tested)");
    let mut policy = fill(parsed, target);
    if let Some(statements) = policy.get_mut("Statement").and_then(Value::as_array_mut) {
        let mut expanded = Vec::new();
        for statement in statements.drain(..) {
            if statement == Value::String("{kiro_statements}".into()) {
                expanded.extend(kiro_statements(target, form));
            } else {
                expanded.push(statement);
            }
        }
        *statements = expanded;
    }
    policy
}

/// Placeholders are replaced inside string values only, so no value can change the JSON's shape.
fn fill(value: Value, target: &Target) -> Value {
    match value {
        Value::String(s) if s == "{kiro_statements}" => Value::String(s),
        Value::String(s) => Value::String(
            s.replace("{instance_arn}", &target.instance_arn)
                .replace("{identity_store_arn}", &target.identity_store_arn)
                .replace("{region}", &target.region)
                .replace("{account}", &target.account)
                .replace("{partition}", &target.partition),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| fill(v, target)).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, fill(v, target))).collect()),
        other => other,
    }
}

pub fn sid(statement: &Value) -> Option<&str> {
    statement.get("Sid").and_then(Value::as_str)
}

/// A statement's meaning: key order, array order and a string versus a one-element array do not
/// matter; action names and condition keys compare case-insensitively, as IAM evaluates them.
pub fn canonical(statement: &Value) -> Value {
    canonical_in(statement, "")
}

fn canonical_in(value: &Value, field: &str) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<String, Value> = map
                .iter()
                .map(|(k, v)| {
                    // Condition keys (the level under an operator) are case-insensitive.
                    let key = if field == "operator" { k.to_lowercase() } else { k.clone() };
                    let child = match field {
                        "" => k.as_str(),
                        "Condition" => "operator",
                        _ => "values",
                    };
                    (key, canonical_in(v, child))
                })
                .collect();
            Value::Object(sorted.into_iter().collect::<Map<_, _>>())
        }
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(|v| canonical_in(v, field)).collect();
            items.sort_by_key(|v| v.to_string());
            items.dedup();
            if items.len() == 1 { items.pop().unwrap_or(Value::Null) } else { Value::Array(items) }
        }
        Value::String(s) if matches!(field, "Action" | "NotAction") => Value::String(s.to_lowercase()),
        other => other.clone(),
    }
}

/// A key policy as GetKeyPolicy returns it: a JSON object whose `Statement` is a statement or a
/// list of them. Anything else is refused here rather than read as "no statements yet".
pub fn parse_policy(text: &str) -> Result<Value, String> {
    let policy: Value = serde_json::from_str(text).map_err(|e| format!("is not valid JSON ({e})"))?;
    match policy.get("Statement") {
        _ if !policy.is_object() => Err("is not a JSON object".into()),
        None | Some(Value::Array(_) | Value::Object(_)) => Ok(policy),
        Some(_) => Err("has a Statement that is neither a statement nor a list".into()),
    }
}

/// The statements of a policy document (`Statement` may be one object or a list).
pub fn statements_of(policy: &Value) -> Vec<Value> {
    match policy.get("Statement") {
        Some(Value::Array(items)) => items.clone(),
        Some(object @ Value::Object(_)) => vec![object.clone()],
        _ => Vec::new(),
    }
}

/// `policy` with `wanted` in place of the statement with the same Sid (or appended), every other
/// statement untouched. The serialised policy must fit KMS's limit.
pub fn merge(policy: &Value, wanted: &[Value]) -> Result<String, String> {
    let mut policy = policy.clone();
    let object = policy.as_object_mut().ok_or("the key policy is not a JSON object")?;
    let mut statements = match object.remove("Statement") {
        Some(Value::Array(items)) => items,
        Some(one @ Value::Object(_)) => vec![one],
        None => Vec::new(),
        Some(_) => return Err("the key policy's Statement is neither a statement nor a list".into()),
    };
    for statement in wanted {
        match statements.iter_mut().find(|s| sid(s).is_some() && sid(s) == sid(statement)) {
            Some(existing) => *existing = statement.clone(),
            None => statements.push(statement.clone()),
        }
    }
    object.insert("Statement".into(), Value::Array(statements));
    let pretty = serde_json::to_string_pretty(&policy).map_err(|e| e.to_string())?;
    if pretty.len() <= MAX_POLICY_BYTES {
        return Ok(pretty);
    }
    let compact = serde_json::to_string(&policy).map_err(|e| e.to_string())?;
    if compact.len() <= MAX_POLICY_BYTES {
        return Ok(compact);
    }
    Err(format!(
        "with Kiro's statements the key policy would be {} bytes; KMS allows at most {MAX_POLICY_BYTES}",
        compact.len()
    ))
}

/// `policy` without the statements whose Sid is in `sids`, every other statement untouched.
pub fn remove(policy: &Value, sids: &[String]) -> Result<String, String> {
    let mut policy = policy.clone();
    let object = policy.as_object_mut().ok_or("the key policy is not a JSON object")?;
    let statements = statements_of(&Value::Object(object.clone()));
    let kept: Vec<Value> =
        statements.into_iter().filter(|s| !sid(s).is_some_and(|sid| sids.iter().any(|r| r == sid))).collect();
    object.insert("Statement".into(), Value::Array(kept));
    serde_json::to_string_pretty(&policy).map_err(|e| e.to_string())
}

/// Problems with any statement that grants Kiro's service principal something.
pub fn kiro_grant_problems(policy: &Value) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (index, statement) in statements_of(policy).iter().enumerate() {
        if statement.get("Effect").and_then(Value::as_str) != Some("Allow") || !names_principal(statement) {
            continue;
        }
        let label =
            sid(statement).map(|s| format!("statement \"{s}\"")).unwrap_or_else(|| format!("statement #{}", index + 1));
        let actions: Vec<String> = match statement.get("Action") {
            Some(Value::String(a)) => vec![a.to_lowercase()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_lowercase).collect(),
            _ => Vec::new(),
        };
        if statement.get("NotAction").is_some() || actions.iter().any(|a| a != "kms:decrypt") {
            problems.push((
                "kms.kiro_grant_too_broad".into(),
                format!(
                    "{label} grants {KIRO_PRINCIPAL} more than kms:Decrypt ({})",
                    statement.get("Action").or(statement.get("NotAction")).map(Value::to_string).unwrap_or_default()
                ),
            ));
        }
        let via_service = statement.get("Condition").and_then(Value::as_object).is_some_and(|ops| {
            ops.values()
                .filter_map(Value::as_object)
                .any(|keys| keys.keys().any(|k| k.eq_ignore_ascii_case("kms:ViaService")))
        });
        if !via_service {
            problems.push((
                "kms.kiro_grant_without_via_service".into(),
                format!("{label} lets {KIRO_PRINCIPAL} decrypt without a kms:ViaService condition"),
            ));
        }
    }
    problems
}

fn names_principal(statement: &Value) -> bool {
    let Some(principal) = statement.get("Principal") else { return false };
    let service = principal.get("Service");
    match service {
        Some(Value::String(s)) => s == KIRO_PRINCIPAL,
        Some(Value::Array(items)) => items.iter().any(|s| s.as_str() == Some(KIRO_PRINCIPAL)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target() -> Target {
        Target::new(
            "arn:aws:sso:::instance/ssoins-1234567890abcdef",
            "arn:aws:identitystore::111122223333:identitystore/d-1234567890",
            "us-east-1",
        )
        .unwrap()
    }

    #[test]
    fn hostile_key_policies_never_panic_and_merges_keep_every_other_statement() {
        let wanted = kiro_statements(&target(), Form::Exact);
        let seeds: Vec<Vec<u8>> = [
            serde_json::to_vec(&new_key_policy(&target(), Form::Exact)).unwrap(),
            br#"{"Version":"2012-10-17","Id":"key-default-1","Statement":{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":["sso.us-east-1.amazonaws.com"]}}}}"#.to_vec(),
        ]
        .into();
        crate::fuzz::run("kms policy", &seeds, crate::fuzz::JSON_PIECES, 3_000, |input| {
            let Ok(policy) = parse_policy(&String::from_utf8_lossy(input)) else { return };
            let existing = statements_of(&policy);
            for statement in &existing {
                let once = canonical(statement);
                assert_eq!(canonical(&once), once, "comparing in meaning must be stable");
            }
            let _ = kiro_grant_problems(&policy);
            match merge(&policy, &wanted) {
                Ok(text) => {
                    assert!(text.len() <= MAX_POLICY_BYTES);
                    let merged = statements_of(&serde_json::from_str(&text).unwrap());
                    for statement in &wanted {
                        assert!(merged.contains(statement));
                    }
                    let ours = |s: &Value| sid(s).is_some() && wanted.iter().any(|w| sid(w) == sid(s));
                    let kept: Vec<&Value> = merged.iter().filter(|s| !ours(s)).collect();
                    assert_eq!(kept, existing.iter().filter(|s| !ours(s)).collect::<Vec<_>>());
                }
                Err(reason) => assert!(reason.contains("KMS allows at most"), "{reason}"),
            }
        });
        assert_eq!(parse_policy("[]").unwrap_err(), "is not a JSON object");
        assert!(parse_policy(r#"{"Statement": "x"}"#).unwrap_err().contains("neither"));
        assert!(parse_policy("").unwrap_err().contains("not valid JSON"));
    }

    #[test]
    fn meaning_not_bytes() {
        let a = json!({"Sid": "x", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Principal": {"Service": "q.amazonaws.com"}});
        let b = json!({"Resource": ["*"], "Principal": {"Service": ["q.amazonaws.com"]}, "Effect": "Allow", "Sid": "x", "Action": ["KMS:Decrypt"]});
        assert_eq!(canonical(&a), canonical(&b));
        let c = json!({"Sid": "x", "Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*"});
        let d = json!({"Sid": "x", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"});
        assert_eq!(canonical(&c), canonical(&d));
        assert_ne!(canonical(&a), canonical(&c));
        let e = json!({"Condition": {"StringEquals": {"kms:ViaService": "sso.us-east-1.amazonaws.com"}}});
        let f = json!({"Condition": {"StringEquals": {"KMS:viaservice": ["sso.us-east-1.amazonaws.com"]}}});
        assert_eq!(canonical(&e), canonical(&f));
    }

    #[test]
    fn merge_keeps_other_statements_and_replaces_ours_in_place() {
        let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "root", "Effect": "Allow"}, {"Sid": "Allow Kiro to use key via IDC", "Effect": "Deny"}]});
        let wanted = kiro_statements(&target(), Form::Exact);
        let merged: Value = serde_json::from_str(&merge(&policy, &wanted).unwrap()).unwrap();
        let statements = statements_of(&merged);
        assert_eq!(statements.len(), 3);
        assert_eq!(statements[0], json!({"Sid": "root", "Effect": "Allow"}));
        assert_eq!(statements[1], wanted[0]);
        assert_eq!(statements[2], wanted[1]);
    }

    #[test]
    fn an_oversized_policy_is_refused() {
        let filler: Vec<Value> = (0..400).map(|i| json!({"Sid": format!("filler-{i}"), "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"})).collect();
        let policy = json!({"Version": "2012-10-17", "Statement": filler});
        assert!(merge(&policy, &kiro_statements(&target(), Form::Exact)).unwrap_err().contains("at most 32768"));
    }

    #[test]
    fn ids_make_the_same_target_as_arns() {
        assert_eq!(
            Target::from_ids("ssoins-1234567890abcdef", "d-1234567890", "111122223333", "us-east-1").unwrap(),
            target()
        );
        assert_eq!(
            Target::from_ids("ssoins-1", "d-1", "111122223333", "us-gov-west-1").unwrap().partition,
            "aws-us-gov"
        );
        assert!(Target::new("arn:aws:sso:::instance/x", "d-123", "us-east-1").is_err());
    }

    #[test]
    fn mixed_partitions_are_refused_with_a_hint() {
        let gov = "arn:aws-us-gov:sso:::instance/ssoins-1";
        let gov_store = "arn:aws-us-gov:identitystore::111122223333:identitystore/d-1";
        let store = "arn:aws:identitystore::111122223333:identitystore/d-1";
        let refused = Target::new("arn:aws:sso:::instance/ssoins-1", store, "us-gov-west-1").unwrap_err();
        assert!(refused.message.contains("partition `aws-us-gov`") && refused.hint.contains("arn:aws-us-gov:"));
        assert!(Target::new(gov, gov_store, "eu-central-1").unwrap_err().message.contains("can never match"));
        assert!(Target::new(gov, store, "us-gov-east-1").unwrap_err().message.contains("identity store"));
        assert!(Target::new(gov, gov_store, "us-gov-east-1").is_ok());
        assert_eq!(partition_of("us-iso-east-1"), "aws-iso");
        assert_eq!(partition_of("us-gov-north-9"), "aws-us-gov");
    }

    #[test]
    fn broad_grants_are_found() {
        let policy = json!({"Statement": [{"Effect": "Allow", "Principal": {"Service": "q.amazonaws.com"}, "Action": "kms:*", "Resource": "*"}]});
        let codes: Vec<String> = kiro_grant_problems(&policy).into_iter().map(|(c, _)| c).collect();
        assert_eq!(codes, vec!["kms.kiro_grant_too_broad", "kms.kiro_grant_without_via_service"]);
        let ours = json!({"Statement": kiro_statements(&target(), Form::Exact)});
        assert!(kiro_grant_problems(&ours).is_empty());
    }
}
