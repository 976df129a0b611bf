//! The AWS access portal URL: the start URL users enter when they sign in to Kiro with IAM
//! Identity Center, together with the Identity Center Region.
//!
//! Sources: IAM Identity Center user guide, "Customize the AWS access portal URL"
//! (https://docs.aws.amazon.com/singlesignon/latest/userguide/howtochangeURL.html): the default
//! URL is `https://d-xxxxxxxxxx.awsapps.com/start`, made from the identity store id, and an admin
//! may replace `d-xxxxxxxxxx` once with a subdomain of their own (no API returns that alias).
//! AWS GovCloud (US): Kiro's authentication guide (https://kiro.dev/docs/cli/authentication/) gives the form
//! `https://start.us-gov-home.awsapps.com/directory/d-XXXXXXXXXX`. Amazon Q Developer guide,
//! "Finding the Start URL": users sign in "using your IAM Identity Center's Start URL and Region".

/// The default portal URL of the identity store `identity_store_id` in `partition`.
pub fn portal_url(partition: &str, identity_store_id: &str) -> String {
    // Since 2026 Identity Store APIs also accept an ARN; the URL takes the bare id.
    let id = identity_store_id.rsplit('/').next().unwrap_or(identity_store_id);
    match partition {
        "aws-us-gov" => format!("https://start.us-gov-home.awsapps.com/directory/{id}"),
        _ => format!("https://{id}.awsapps.com/start"),
    }
}

#[cfg(test)]
mod tests {
    use super::portal_url;

    #[test]
    fn commercial_and_govcloud_forms() {
        assert_eq!(portal_url("aws", "d-1234567890"), "https://d-1234567890.awsapps.com/start");
        assert_eq!(
            portal_url("aws-us-gov", "d-1234567890"),
            "https://start.us-gov-home.awsapps.com/directory/d-1234567890"
        );
        assert_eq!(
            portal_url("aws", "arn:aws:identitystore::111122223333:identitystore/d-1234567890"),
            "https://d-1234567890.awsapps.com/start"
        );
    }
}
