//! An Identity Store call refused with `AccessDeniedException` reason `KMS_ACCESS_DENIED`: the
//! caller may call Identity Store, but not use the customer managed key Identity Center encrypts
//! the directory with (botocore identitystore `AccessDeniedExceptionReason`; IAM Identity Center
//! user guide, "Baseline KMS key and IAM policy statements": administrators need kms:Decrypt,
//! kms:Encrypt and kms:GenerateDataKeyWithoutPlaintext on the key). The error names that key.

use super::directory::{SSO_ADMIN, find_instance};
use crate::clients::aws::Aws;
use crate::error::{Error, RemoteReason};

/// `error` as it is, unless it is a KMS_ACCESS_DENIED refusal: then one that names the key
/// (asked of DescribeInstance, best effort) and what the caller needs on it.
pub async fn name_the_key(aws: &Aws, instance_arn: Option<&str>, error: Error) -> Error {
    let Error::Remote { service, operation, message, reason: Some(RemoteReason::KmsAccessDenied), .. } = &error else {
        return error;
    };
    let key = match find_instance(aws, instance_arn).await {
        Ok(instance) => {
            let client = aws.sso_admin();
            aws.call(SSO_ADMIN, "DescribeInstance", || client.describe_instance().instance_arn(&instance.arn).send())
                .await
                .ok()
                .and_then(|out| out.encryption_configuration_details().and_then(|d| d.kms_key_arn()).map(str::to_owned))
        }
        Err(_) => None,
    };
    let key = key.unwrap_or_else(|| "the customer managed KMS key of IAM Identity Center (IAM Identity Center → Settings → Management → Key for encryption)".into());
    Error::Precondition {
        message: format!(
            "{service} {operation} was refused because this AWS identity may not use the KMS key {key} that IAM Identity Center encrypts its directory with ({message})"
        ),
        hint: format!(
            "allow kms:Decrypt, kms:Encrypt and kms:GenerateDataKeyWithoutPlaintext on {key} for this identity, in the key policy (with kms:ViaService identitystore.REGION.amazonaws.com and sso.REGION.amazonaws.com) or in an IAM policy the key policy allows; the Identity Store permissions themselves are fine"
        ),
    }
}
