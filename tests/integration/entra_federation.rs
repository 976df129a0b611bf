//! Entra workload identity federation: a CI system's OIDC token, read from a file before every
//! token request, signs kiro-onboard in to Graph through a federated identity credential on the
//! app (the Graph emulator matches issuer, subject and audience and answers Entra's codes).

use serde_json::json;

use crate::entra::Tenant;

pub(crate) const FEDERATED_CLIENT: &str = "7b3e2f4c-9c73-4b5e-8f20-8d4c0a6e3f12";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
pub(crate) const SUBJECT: &str = "repo:example-org/identity:environment:production";
/// Marks the federated token's signature part: it must never be printed.
const CANARY: &str = "federated-canary-7c1e";

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// A token as GitHub Actions issues it (the emulator reads, not verifies, its signature).
pub(crate) fn oidc_token(subject: &str, jti: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "github-actions"});
    let claims = json!({"iss": ISSUER, "sub": subject, "aud": "api://AzureADTokenExchange", "jti": jti,
                        "iat": now, "nbf": now, "exp": now + 300});
    let signature = b64url(format!("{CANARY}{jti}").as_bytes());
    format!("{}.{}.{signature}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()))
}

/// The tenant with an automation app that trusts this repository's production environment.
pub(crate) fn federated_tenant() -> Tenant {
    let tenant = Tenant::start();
    let (status, body) = tenant.control(
        "POST",
        "seed",
        json!({"clients": [{"client_id": FEDERATED_CLIENT, "display_name": "kiro-onboard CI",
                            "federated_credentials": [{"issuer": ISSUER, "subject": SUBJECT}],
                            "permissions": ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All",
                                            "Synchronization.ReadWrite.All", "Group.Read.All", "Directory.Read.All"]}]}),
    );
    assert_eq!(status, 200, "{body}");
    tenant
}

fn federated_plan(tenant: &Tenant) -> String {
    tenant.plan_yaml("").replace(
        &format!(
            "  client_credentials: {{ client_id: {}, client_secret: {{ env: ENTRA_CLIENT_SECRET }} }}\n",
            crate::entra::CLIENT_ID
        ),
        &format!(
            "  client_credentials: {{ client_id: {FEDERATED_CLIENT}, federated_token: {{ file: oidc-token }} }}\n"
        ),
    )
}

/// The start of every token's signature part (the canary's first 18 bytes, base64url).
pub(crate) fn canary_needle() -> String {
    b64url(&CANARY.as_bytes()[..18])
}

fn no_canary(output: &crate::harness::test::Output) {
    let needle = canary_needle();
    assert!(!output.stdout.contains(&needle) && !output.stderr.contains(&needle), "the federated token was printed");
}

#[test]
fn a_federated_token_signs_in_and_is_never_printed() {
    let tenant = federated_tenant();
    let mut test = tenant.test(&federated_plan(&tenant)).file("oidc-token", &oidc_token(SUBJECT, "first"));
    let plan = test.again(["-vvv", "plan", "plan.yaml", "--json", "--out", "saved.json"]);
    plan.success();
    no_canary(&plan);
    assert!(!std::fs::read_to_string(test.file_path("saved.json")).unwrap().contains(&canary_needle()));
    let log = tenant.log();
    assert!(log.iter().any(|e| e["client_id"] == FEDERATED_CLIENT), "Graph was called as the federated app");
    assert_eq!(tenant.state()["federated_assertions"][0]["sub"], SUBJECT);
}

#[test]
fn a_wrong_subject_is_refused_in_plain_words_with_a_hint() {
    let tenant = federated_tenant();
    let wrong = "repo:example-org/identity:ref:refs/heads/feature";
    let test = tenant.test(&federated_plan(&tenant)).file("oidc-token", &oidc_token(wrong, "wrong"));
    let output = test.args(["plan", "plan.yaml"]).run();
    output.code(1);
    no_canary(&output);
    output
        .stderr_has("the token's subject matches no federated credential of the app (AADSTS700213)")
        .stderr_has(wrong)
        .stderr_has("hint: the federated credential's Subject must equal the token's `sub` exactly");
}

#[test]
fn a_rotated_token_file_is_read_again_for_the_next_token_request() {
    let tenant = federated_tenant();
    // Access tokens of one second: every few Graph calls need a new token, so the run asks for
    // several while the file changes under it.
    let (status, body) = tenant.control("POST", "config", json!({"access_token_lifetime": 1}));
    assert_eq!(status, 200, "{body}");
    let test = tenant.test(&federated_plan(&tenant)).file("oidc-token", &oidc_token(SUBJECT, "before"));
    let path = test.file_path("oidc-token");
    let graph = tenant.graph.url();
    let rotator = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        while started.elapsed().as_secs() < 60 {
            let (_, state) = crate::harness::server::http("GET", &format!("{graph}/_control/state"), None);
            if state["federated_assertions"].as_array().is_some_and(|a| !a.is_empty()) {
                // Written aside and renamed, as a CI step or the kubelet replaces the file.
                std::fs::write(path.with_extension("new"), oidc_token(SUBJECT, "after")).unwrap();
                std::fs::rename(path.with_extension("new"), &path).unwrap();
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    let output = test.args(["apply", "plan.yaml", "--yes"]).run();
    rotator.join().unwrap();
    no_canary(&output);
    let seen: Vec<String> = tenant.state()["federated_assertions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["jti"].as_str().unwrap().to_owned())
        .collect();
    let first_after = seen.iter().position(|j| j == "after").unwrap_or_else(|| panic!("never re-read: {seen:?}"));
    assert!(seen[first_after..].iter().all(|j| j == "after"), "the old token was used again: {seen:?}");
    assert!(seen[0] == "before", "{seen:?}");
}

#[test]
fn azure_federated_token_file_signs_in_a_plan_without_client_credentials() {
    let tenant = federated_tenant();
    let plan = federated_plan(&tenant).replace(
        &format!(
            "  client_credentials: {{ client_id: {FEDERATED_CLIENT}, federated_token: {{ file: oidc-token }} }}\n"
        ),
        "",
    );
    assert!(!plan.contains("client_credentials"));
    let mut test = tenant.test(&plan).file("azure-token", &oidc_token(SUBJECT, "env"));
    let token_file = test.file_path("azure-token");
    let output = test.again_with(
        ["plan", "plan.yaml", "--json"],
        &[("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap()), ("AZURE_CLIENT_ID", FEDERATED_CLIENT)],
    );
    output.success();
    no_canary(&output);
    assert_eq!(tenant.state()["federated_assertions"][0]["jti"], "env");
    // Without AZURE_CLIENT_ID the file alone is not enough, and says so.
    let output =
        test.again_with(["plan", "plan.yaml"], &[("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap())]);
    output.code(1).stderr_has("AZURE_FEDERATED_TOKEN_FILE is set but AZURE_CLIENT_ID is not");
    // An AZURE_TENANT_ID naming another tenant than the plan is refused, not followed.
    let id_plan = plan.replace("tenant: example.onmicrosoft.com", "tenant: 72f988bf-0000-4000-8000-00000000e1d0");
    let mut other = tenant.test(&id_plan).file("azure-token", &oidc_token(SUBJECT, "env2"));
    let token_file = other.file_path("azure-token");
    other
        .again_with(
            ["plan", "plan.yaml"],
            &[
                ("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap()),
                ("AZURE_CLIENT_ID", FEDERATED_CLIENT),
                ("AZURE_TENANT_ID", "00000000-0000-4000-8000-000000000001"),
            ],
        )
        .code(1)
        .stderr_has("AZURE_TENANT_ID is 00000000-0000-4000-8000-000000000001 but the plan's entra.tenant is");
}

#[test]
fn a_token_the_issuer_did_not_sign_is_refused() {
    let tenant = federated_tenant();
    // The emulator plays GitHub's token service: a token it signed signs in...
    let (status, minted) = tenant.control("POST", "federated/token", json!({"issuer": ISSUER, "subject": SUBJECT}));
    assert_eq!(status, 200, "{minted}");
    let mut test = tenant.test(&federated_plan(&tenant)).file("oidc-token", minted["value"].as_str().unwrap());
    test.again(["plan", "plan.yaml"]).success();
    // ...one with the same claims that it did not sign is refused, in plain words.
    std::fs::write(test.file_path("oidc-token"), oidc_token(SUBJECT, "forged")).unwrap();
    let forged = test.again(["plan", "plan.yaml"]);
    no_canary(&forged);
    forged
        .code(1)
        .stderr_has("the token's signature does not verify with the keys its issuer publishes")
        .stderr_has("AADSTS7000272");
}
