//! moto in server mode on a free loopback port, one per test, stopped when the test ends. It runs
//! through tests/servers/moto_server.py, which fills the few gaps moto has (see its README).

use super::server::LocalServer;

pub struct Moto {
    /// Held for its lifetime: dropping it stops moto.
    _server: LocalServer,
    pub endpoint: String,
    pub region: String,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_in("us-east-1")
    }

    pub fn start_in(region: &str) -> Moto {
        let server = LocalServer::start("moto_server.py", &[]);
        Moto { endpoint: server.url(), _server: server, region: region.to_owned() }
    }

    /// The environment that points kiro-onboard at this moto (or at a proxy in front of it).
    pub fn env(&self) -> Vec<(String, String)> {
        self.env_via(&self.endpoint)
    }

    pub fn env_via(&self, endpoint: &str) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), endpoint.to_owned()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), self.region.clone()),
        ]
    }

    /// An SDK configuration for making changes "out of band", as another admin would.
    pub async fn sdk(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(self.region.clone()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_identitystore::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .load()
            .await
    }

    /// A user as an external identity provider provisions it over SCIM: with `ExternalIds`
    /// (test control of tests/servers/moto_server.py). Returns its id.
    pub fn scim_user(&self, identity_store_id: &str, user_name: &str) -> String {
        let (status, body) = super::server::http(
            "POST",
            &format!("{}/_control/scim-user", self.endpoint),
            Some(
                &serde_json::json!({"IdentityStoreId": identity_store_id, "UserName": user_name, "region": self.region}),
            ),
        );
        assert_eq!(status, 200, "creating a SCIM user: {body}");
        body["UserId"].as_str().expect("a user id").to_owned()
    }

    /// The instance and identity store moto made for this account and Region.
    pub async fn instance(&self) -> (String, String) {
        let sso = aws_sdk_ssoadmin::Client::new(&self.sdk().await);
        let instances = sso.list_instances().send().await.expect("list instances").instances.unwrap_or_default();
        let first = instances.first().expect("moto has an instance");
        (first.instance_arn().unwrap_or_default().to_owned(), first.identity_store_id().unwrap_or_default().to_owned())
    }
}

/// tests/servers/fault_proxy.py in front of an upstream: injects throttling, errors, resets and
/// delays per test (see tests/servers/FAULT_PROXY.md).
pub struct FaultProxy {
    server: LocalServer,
}

impl FaultProxy {
    pub fn start(upstream: &str) -> FaultProxy {
        FaultProxy { server: LocalServer::start("fault_proxy.py", &["--upstream", upstream]) }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn rule(&self, rule: serde_json::Value) {
        let (status, body) = super::server::http("POST", &format!("{}/_control/rules", self.url()), Some(&rule));
        assert_eq!(status, 200, "fault rule refused: {body}");
    }

    /// Removes every rule and forgets the log: from now on requests pass unchanged, and
    /// `wait_in_flight` sees only requests made after this (not those a killed run left held).
    pub fn clear(&self) {
        let (status, body) = super::server::http("DELETE", &format!("{}/_control", self.url()), None);
        assert_eq!(status, 200, "clearing the fault rules and log: {body}");
    }

    /// Waits (at most 20 s) until a request that `matches` is in flight: it reached the proxy and
    /// has not been answered yet. A deterministic point to interrupt the tool at.
    pub fn wait_in_flight(&self, what: &str, matches: impl Fn(&serde_json::Value) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !self.log().iter().any(|r| r["status"].is_null() && matches(r)) {
            assert!(std::time::Instant::now() < deadline, "no {what} in flight within 20 s: {:#?}", self.log());
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
    }

    /// Every request the proxy saw, in arrival order.
    pub fn log(&self) -> Vec<serde_json::Value> {
        let (_, body) = super::server::http("GET", &format!("{}/_control/log", self.url()), None);
        body.as_array().cloned().unwrap_or_default()
    }
}
