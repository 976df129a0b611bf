//! `kms policy`: Kiro's key-policy statements for an instance, from flags (offline) or read from
//! AWS. The output is the policy JSON itself, so it can go straight into the KMS console or
//! `aws kms put-key-policy --policy file://…` (with --full).

use std::sync::Arc;

use crate::cli::KmsPolicyArgs;
use crate::clients::aws::{Aws, DEFAULT_MAX_TPS};
use crate::clients::calls::CallCounter;
use crate::clients::settings::AwsSettings;
use crate::error::Error;
use crate::exit_status::ExitStatus;
use crate::plan::model::KmsCondition;
use crate::printer::Printer;
use crate::steps::identity_center::find_instance;
use crate::steps::kms::statements::{Form, Target, kiro_statements, new_key_policy};

pub async fn run(args: &KmsPolicyArgs, printer: &Printer) -> Result<ExitStatus, Error> {
    let printer = printer.without_notes_in_json();
    let mut form = if args.wildcard { Form::Wildcard } else { Form::Exact };
    let target = if let (Some(instance), Some(store)) = (&args.instance_arn, &args.identity_store_arn) {
        Target::new(instance, store, &region(args)?)?
    } else if let (Some(instance), Some(store), Some(account)) =
        (&args.instance_id, &args.identity_store_id, &args.account)
    {
        Target::from_ids(instance, store, account, &region(args)?)?
    } else {
        let (settings, wanted) = match &args.plan {
            Some(path) => {
                let loaded = crate::plan::load(path)?;
                if !args.wildcard && loaded.plan.kms.as_ref().is_some_and(|k| k.condition == KmsCondition::Wildcard) {
                    form = Form::Wildcard;
                }
                (
                    AwsSettings::from(&loaded.plan.aws),
                    loaded.plan.identity_center.as_ref().and_then(|i| i.instance_arn.clone()),
                )
            }
            None => (AwsSettings { region: args.region.clone(), profile: None }, None),
        };
        printer.status(
            "Reading the Identity Center instance from AWS (pass --instance-arn and --identity-store-arn to work offline)…",
        );
        let aws = Aws::load(&settings, DEFAULT_MAX_TPS, Arc::new(CallCounter::default()), true).await?;
        let instance = find_instance(&aws, wanted.as_deref()).await?;
        let store = instance.identity_store_arn.clone().ok_or_else(|| Error::Precondition {
            message: "Identity Center did not report the instance's owner account".into(),
            hint: "pass --instance-arn and --identity-store-arn yourself".into(),
        })?;
        Target::new(&instance.arn, &store, &instance.region)?
    };

    let document = if args.full {
        new_key_policy(&target, form)
    } else {
        serde_json::Value::Array(kiro_statements(&target, form))
    };
    let text = if printer.json() { serde_json::to_string(&document) } else { serde_json::to_string_pretty(&document) }
        .unwrap_or_default();
    printer.status(&format!(
        "Kiro's {} key-policy statements for {} (identity store {}) in {}:",
        if form == Form::Exact { "exact (StringEquals)" } else { "wildcard (StringLike)" },
        target.instance_arn,
        target.identity_store_arn,
        target.region
    ));
    printer.data(&text);
    printer.hint(if args.full {
        "Identity Center needs its own statements on this key too (AWS's baseline KMS key policy for Identity Center); add them before switching Identity Center to the key"
    } else {
        "add both to the key policy's Statement list, or put a `kms` section in your plan and let `kiro-onboard apply` merge them"
    });
    Ok(ExitStatus::Success)
}

fn region(args: &KmsPolicyArgs) -> Result<String, Error> {
    args.region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            Error::Usage("the Region is needed for kms:ViaService: pass --region (e.g. --region us-east-1)".into())
        })
}
