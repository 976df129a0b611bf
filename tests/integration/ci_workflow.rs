//! The GitHub Actions workflow of docs/ci.md (playbooks/ci/kiro-onboard.yml), run: its YAML is
//! parsed and every job's `run:` steps are run in order with bash, as a fresh runner would, against
//! the Graph emulator. `actions/*` and `aws-actions/*` steps and the install step are stubbed (the
//! binary under test is on the PATH); GitHub's OIDC token endpoint is a local stand-in. The
//! commands of docs/ci.md are run as written too.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::entra::{SCIM_TOKEN, Tenant};
use crate::entra_federation::{FEDERATED_CLIENT, SUBJECT, federated_tenant, oidc_token};
use crate::harness::{Test, repo_root};

const WORKFLOW: &str = "playbooks/ci/kiro-onboard.yml";
const REQUEST_TOKEN: &str = "actions-request-token-1f2e";

fn workflow() -> Value {
    let text = std::fs::read_to_string(repo_root().join(WORKFLOW)).unwrap();
    serde_saphyr::from_str(&text).expect("the workflow is YAML")
}

/// Tokens the OIDC stand-in handed out, to prove none is printed.
type Issued = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// GitHub's OIDC token endpoint, as a job sees it (ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN): for the
/// bearer request token and the Entra audience, a token the Graph emulator signs as GitHub's
/// issuer (so Entra's side verifies its signature), `{"value": token}`; 401 otherwise.
fn oidc_endpoint(tenant: &Tenant, issued: Issued) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token?api-version=2.0", listener.local_addr().unwrap());
    let graph = tenant.graph.url();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push(line);
            }
            let request_line = head.first().cloned().unwrap_or_default();
            let authorised =
                head.iter().any(|h| h.trim().eq_ignore_ascii_case(&format!("authorization: bearer {REQUEST_TOKEN}")));
            let audience = request_line.contains("&audience=api%3A%2F%2FAzureADTokenExchange");
            let (status, body) = if authorised && audience {
                let request = serde_json::json!({"issuer": "https://token.actions.githubusercontent.com", "subject": SUBJECT, "jti": "workflow"});
                let (_, minted) =
                    crate::harness::server::http("POST", &format!("{graph}/_control/federated/token"), Some(&request));
                issued.lock().unwrap().push(minted["value"].as_str().unwrap_or_default().to_owned());
                ("200 OK", minted.to_string())
            } else {
                ("401 Unauthorized", "{}".to_owned())
            };
            let mut stream = &stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// What `${{ … }}` expressions in the workflow's `env:` values and `if:`s stand for here.
fn expressions() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("vars.AZURE_CLIENT_ID", FEDERATED_CLIENT.to_owned()),
        ("vars.AWS_ROLE_ARN", String::new()),
        ("vars.AWS_REGION", String::new()),
        ("secrets.OKTA_PRIVATE_KEY", String::new()),
        ("secrets.KIRO_SCIM_TOKEN", SCIM_TOKEN.to_owned()),
    ])
}

fn substitute(text: &str) -> String {
    let known = expressions();
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let end = rest[start..].find("}}").expect("a closed expression") + start;
        let expression = rest[start + 3..end].trim();
        out.push_str(&rest[..start]);
        out.push_str(known.get(expression).unwrap_or_else(|| panic!("the test does not know `{expression}`")));
        rest = &rest[end + 2..];
    }
    out + rest
}

/// A step's `if:`: the workflow only uses `vars.X != ''` on steps.
fn step_runs(step: &Value) -> bool {
    let Some(condition) = step["if"].as_str() else { return true };
    let (variable, test) = condition.split_once(" != ").unwrap_or_else(|| panic!("unknown step condition {condition}"));
    assert_eq!(test, "''", "{condition}");
    !expressions().get(variable.trim()).unwrap_or_else(|| panic!("unknown {variable}")).is_empty()
}

fn env_of(value: &Value) -> Vec<(String, String)> {
    value
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), substitute(v.as_str().unwrap_or(&v.to_string())))).collect())
        .unwrap_or_default()
}

/// `KEY=value` lines a step appended to `$GITHUB_ENV` (the workflow writes no multi-line values).
fn github_env(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A fresh runner for each job: its own temporary directory, config directory, GITHUB_ENV,
/// summary and RUNNER_TEMP; the checkout is `dir` (shared between jobs, as artifacts are here).
struct Runner<'a> {
    test: &'a Test,
    oidc: String,
    issued: Issued,
}

impl Runner<'_> {
    /// Runs `job`'s steps; the exit status of the first that fails (0 when all pass), and the summary.
    fn job(&self, name: &str) -> (i32, String) {
        let workflow = workflow();
        let job = &workflow["jobs"][name];
        assert!(job.is_object(), "no job {name}");
        let runner = tempfile::tempdir().unwrap();
        let [temp, config] = ["temp", "config"].map(|d| {
            let path = runner.path().join(d);
            std::fs::create_dir_all(&path).unwrap();
            path
        });
        let [github_env_file, summary] = ["github_env", "summary.md"].map(|f| runner.path().join(f));
        let binary_dir = PathBuf::from(env!("CARGO_BIN_EXE_kiro-onboard")).parent().unwrap().to_owned();
        let path = format!("{}:{}", binary_dir.display(), std::env::var("PATH").unwrap_or_default());
        for step in job["steps"].as_array().unwrap() {
            let uses = step["uses"].as_str().unwrap_or_default();
            if !uses.is_empty() {
                assert!(uses.starts_with("actions/") || uses.starts_with("aws-actions/"), "unexpected action {uses}");
                continue;
            }
            if step["id"] == "install" || !step_runs(step) {
                continue;
            }
            let script = step["run"].as_str().unwrap_or_else(|| panic!("a step of {name} neither uses nor runs"));
            assert!(!script.contains("${{"), "{name}: expressions go through env:, not into scripts:\n{script}");
            let harness = self.test.command();
            let output = std::process::Command::new("bash")
                .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
                .current_dir(self.test.file_path("."))
                .env_clear()
                .envs(harness.get_envs().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))))
                .env_remove("KIRO_ONBOARD_ALLOW_COMMANDS")
                .env_remove("ENTRA_CLIENT_SECRET")
                .env_remove("KIRO_SCIM_TOKEN")
                .env("HOME", runner.path())
                .env("PATH", &path)
                .env("KIRO_ONBOARD_CONFIG_DIR", &config)
                .env("RUNNER_TEMP", &temp)
                .env("GITHUB_ENV", &github_env_file)
                .env("GITHUB_PATH", runner.path().join("github_path"))
                .env("GITHUB_STEP_SUMMARY", &summary)
                .env("ACTIONS_ID_TOKEN_REQUEST_URL", &self.oidc)
                .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN)
                .envs(env_of(&workflow["env"]))
                .envs(env_of(&job["env"]))
                .envs(github_env(&github_env_file))
                .envs(env_of(&step["env"]))
                .output()
                .unwrap();
            let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            for token in self.issued.lock().unwrap().iter() {
                let signature = token.rsplit('.').next().unwrap_or_default();
                assert!(
                    !stdout.contains(signature) && !stderr.contains(signature),
                    "{name}: the federated token was printed"
                );
            }
            assert!(!stdout.contains(SCIM_TOKEN) && !stderr.contains(SCIM_TOKEN), "{name}: the SCIM token was printed");
            let code = output.status.code().unwrap_or(-1);
            if code != 0 {
                eprintln!("{name} / {}: exit {code}\n--- stdout\n{stdout}\n--- stderr\n{stderr}", step["name"]);
                return (code, std::fs::read_to_string(&summary).unwrap_or_default());
            }
        }
        (0, std::fs::read_to_string(&summary).unwrap_or_default())
    }
}

/// The repository the workflow runs in: the Entra plan at identity/plan.yaml, signed in only by
/// the federated token (no `client_credentials` in the plan; AZURE_* from the workflow).
fn repository(tenant: &Tenant) -> Test {
    let plan = tenant
        .plan_yaml("")
        .replace(
            &format!(
                "  client_credentials: {{ client_id: {}, client_secret: {{ env: ENTRA_CLIENT_SECRET }} }}\n",
                crate::entra::CLIENT_ID
            ),
            "",
        )
        .replace(
            "  profile_region: us-east-1\n",
            "  profile_region: us-east-1\n  console: { profile_created: true }\n",
        );
    assert!(!plan.contains("client_credentials"));
    let test = tenant.test("");
    std::fs::create_dir_all(test.file_path("identity")).unwrap();
    test.file("identity/plan.yaml", &plan)
}

#[test]
fn the_workflow_keeps_forks_offline_and_production_protected() {
    let workflow = workflow();
    let jobs = &workflow["jobs"];
    // Every pull request validates, without a token or an environment.
    assert_eq!(jobs["validate"]["if"], "github.event_name == 'pull_request'");
    assert!(jobs["validate"]["permissions"].is_null() && jobs["validate"]["environment"].is_null());
    assert_eq!(workflow["permissions"]["contents"], "read");
    assert!(workflow["permissions"].get("id-token").is_none(), "no job gets an OIDC token unless it says so");
    // Plans only for pull requests from this repository.
    let plan_if = jobs["plan"]["if"].as_str().unwrap();
    assert!(plan_if.contains("github.event.pull_request.head.repo.full_name == github.repository"), "{plan_if}");
    // Apply only on main, after a plan, in the protected environment.
    assert_eq!(jobs["plan-main"]["if"], "github.event_name == 'push' && github.ref == 'refs/heads/main'");
    assert_eq!(jobs["apply"]["needs"], "plan-main");
    assert_eq!(jobs["apply"]["environment"], "kiro-production");
    assert!(jobs["audit"]["if"].as_str().unwrap().contains("schedule"));
    assert!(workflow["on"]["schedule"][0]["cron"].is_string());
    // OIDC for AWS; no long-lived cloud credential anywhere.
    let text = std::fs::read_to_string(repo_root().join(WORKFLOW)).unwrap();
    assert!(text.contains("aws-actions/configure-aws-credentials") && text.contains("role-to-assume:"));
    for forbidden in
        ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AZURE_CLIENT_SECRET", "client_secret", "OKTA_API_TOKEN"]
    {
        assert!(!text.contains(forbidden), "the workflow names {forbidden}");
    }
    for (name, job) in jobs.as_object().unwrap() {
        let secrets = job.to_string().matches("secrets.").count();
        if name == "validate" {
            assert_eq!(secrets, 0, "validate runs for forks: no secrets");
        }
    }
}

#[test]
fn the_workflow_runs_from_pull_request_to_nightly_audit() {
    let tenant = federated_tenant();
    let test = repository(&tenant);
    let issued = Issued::default();
    let runner = Runner { test: &test, oidc: oidc_endpoint(&tenant, issued.clone()), issued: issued.clone() };

    assert_eq!(runner.job("validate").0, 0);
    assert!(issued.lock().unwrap().is_empty(), "validate asks for no token");
    let (status, _) = runner.job("plan");
    assert_eq!(status, 0);
    // The comment the pull request gets (written to RUNNER_TEMP, posted by actions/github-script).
    let (status, summary) = runner.job("plan-main");
    assert_eq!(status, 0);
    assert!(summary.contains("## kiro-onboard plan for `identity/plan.yaml`"), "{summary}");
    assert!(summary.contains("entra.application"), "{summary}");
    let (status, summary) = runner.job("apply");
    assert_eq!(status, 0, "{summary}");
    assert!(
        summary.contains("**0 to create, 0 to update, 0 to delete"),
        "after apply only console steps are left: {summary}"
    );
    let state = tenant.state();
    assert_eq!(state["applications"].as_array().unwrap().len(), 1);
    let assertions = state["federated_assertions"].as_array().unwrap();
    assert!(!assertions.is_empty() && assertions.iter().all(|a| a["jti"] == "workflow"), "{assertions:?}");
    assert!(issued.lock().unwrap().len() >= 3, "plan, plan-main and apply each asked GitHub for a token");
    let (status, _) = runner.job("audit");
    assert_eq!(status, 0, "a converged tenant audits clean");

    // Someone removes the group assignment in the portal: the nightly audit fails with exit 2.
    let sp = tenant.sp_id();
    let (_, assignments) = tenant.graph("GET", &format!("/servicePrincipals/{sp}/appRoleAssignedTo"), None);
    let id = assignments["value"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = tenant.graph("DELETE", &format!("/servicePrincipals/{sp}/appRoleAssignedTo/{id}"), None);
    assert_eq!(status, 204, "{body}");
    let (status, _) = runner.job("audit");
    assert_eq!(status, 2, "audit's exit 2 fails the job");
}

#[test]
fn the_workflow_in_docs_ci_md_is_the_playbook_and_its_commands_run_as_written() {
    let guide = std::fs::read_to_string(repo_root().join("docs/ci.md")).unwrap();
    assert!(guide.contains("](../playbooks/ci/kiro-onboard.yml)"), "docs/ci.md links the workflow");
    let tenant = federated_tenant();
    let test = repository(&tenant).file("oidc-token", &oidc_token(SUBJECT, "by-hand"));
    let token = test.file_path("oidc-token");
    let env = [
        ("AZURE_FEDERATED_TOKEN_FILE", token.to_str().unwrap()),
        ("AZURE_CLIENT_ID", FEDERATED_CLIENT),
        // The harness's secret client stays out: the federated token alone signs in.
        ("ENTRA_CLIENT_SECRET", ""),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    let blocks = crate::docs::sh_blocks(&guide);
    assert_eq!(blocks.len(), 2, "docs/ci.md has its commands in two ```sh blocks");
    crate::docs::run_blocks("docs/ci.md", &blocks, &test, &env, "", &mut |_| {});
    assert_eq!(tenant.state()["applications"].as_array().unwrap().len(), 1);
}
