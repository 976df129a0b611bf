//! The plan's sections turned into what each client is told (`clients::settings`): the one place
//! that knows both shapes, so neither the plan nor the clients know the other.

use crate::clients::settings::{AwsSettings, EntraCertificate, EntraClientCredentials, EntraSettings, OktaCredentials};
use crate::plan::model;

impl From<&model::Aws> for AwsSettings {
    fn from(aws: &model::Aws) -> Self {
        AwsSettings { region: aws.region.clone(), profile: aws.profile.clone() }
    }
}

impl From<&model::Entra> for EntraSettings {
    fn from(entra: &model::Entra) -> Self {
        EntraSettings {
            tenant: entra.tenant.clone(),
            client_credentials: entra.client_credentials.as_ref().map(|cc| EntraClientCredentials {
                client_id: cc.client_id.clone(),
                client_secret: cc.client_secret.clone(),
                certificate: cc.certificate.as_ref().map(|c| EntraCertificate {
                    certificate_file: c.certificate_file.clone(),
                    private_key: c.private_key.clone(),
                }),
                federated_token: cc.federated_token.clone(),
            }),
        }
    }
}

impl From<&model::OktaCredentials> for OktaCredentials {
    fn from(credentials: &model::OktaCredentials) -> Self {
        match credentials {
            model::OktaCredentials::ApiToken { api_token } => {
                OktaCredentials::ApiToken { api_token: api_token.clone() }
            }
            model::OktaCredentials::ServiceApp { client_id, private_key, key_id, scopes } => {
                OktaCredentials::ServiceApp {
                    client_id: client_id.clone(),
                    private_key: private_key.clone(),
                    key_id: key_id.clone(),
                    scopes: scopes.clone(),
                }
            }
        }
    }
}
