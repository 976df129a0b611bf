//! One canary across every command: every secret input the tool accepts (SCIM token by env, file,
//! command and stdin; the Okta API token and service-app key; the Entra client secret and
//! certificate key; the Entra federated token, from the plan and from AZURE_FEDERATED_TOKEN_FILE;
//! the AWS secret key) holds a known value, every command runs with `-vvv` in
//! every output format, on success and on error paths, and the value appears in no stdout, no
//! stderr and no file the tool writes.

use crate::harness::test::Output;
use crate::harness::{Moto, Test, free_port};
use crate::{entra, okta};

/// Secrets the servers do not know: for wrong-token error paths and key material.
const WRONG: &str = "canary-wrong-secret-9e8d7c6b5a4f";
const AWS_SECRET: &str = "canary-aws-secret-key-1a2b3c4d5e6f";

fn canaries() -> [&'static str; 6] {
    [entra::SCIM_TOKEN, entra::CLIENT_SECRET, okta::TOKEN, okta::SCIM_TOKEN, WRONG, AWS_SECRET]
}

#[track_caller]
fn clean(what: &str, output: &Output) {
    assert!(output.code != 101 || what.contains("panic"), "{what} crashed:\n{}", output.stderr);
    for canary in canaries() {
        assert!(
            !output.stdout.contains(canary) && !output.stderr.contains(canary),
            "{what}: the secret {canary} leaked:\n{}\n{}",
            output.stdout,
            output.stderr
        );
    }
}

/// Every file under `dir`, except the ones the test wrote to hold secrets, is free of canaries.
#[track_caller]
fn no_canary_in_files(dir: &std::path::Path, secret_files: &[&str]) {
    let mut pending = vec![dir.to_path_buf()];
    let mut seen = 0;
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if secret_files.iter().any(|s| path.ends_with(s)) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for canary in canaries() {
            assert!(!text.contains(canary), "the secret {canary} leaked into {}", path.display());
        }
        seen += 1;
    }
    assert!(seen > 0, "no file was written under {}", dir.display());
}

#[test]
fn canary_secrets_reach_no_output_log_panic_or_file_of_any_command() {
    // Entra (Graph emulator + scim2-server): the client secret and the SCIM token by env, file and
    // command, every plan/apply/audit format, a saved plan, a checklist.
    let tenant = entra::Tenant::start();
    let yaml = tenant.plan_yaml("");
    let key = format!("-----BEGIN PRIVATE KEY-----\n{WRONG}\n-----END PRIVATE KEY-----\n");
    let mut test = tenant
        .test(&yaml)
        .file("inline.yaml", &yaml.replace("{ env: KIRO_SCIM_TOKEN }", entra::SCIM_TOKEN))
        .file(
            "same-line.yaml",
            &format!(
                "version: 1\nkiro: {{ profile_region: us-east-1 }}\nentra: {{ tenant: example.onmicrosoft.com, provisioning: {{ scim_endpoint: https://scim.us-east-1.amazonaws.com/a/scim/v2, scim_token: {}, bogus: 1 }} }}\n",
                entra::SCIM_TOKEN
            ),
        )
        .file("key.pem", &key)
        .file("cert.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        .file("scim.token", &format!("{}\n", entra::SCIM_TOKEN))
        .file("wrong.token", WRONG)
        .file("by-file.yaml", &yaml.replace("{ env: KIRO_SCIM_TOKEN }", "{ file: scim.token }"))
        .file("by-command.yaml", &yaml.replace("{ env: KIRO_SCIM_TOKEN }", "{ command: [cat, scim.token] }"));
    let scim = yaml.lines().find(|l| l.contains("scim_endpoint")).unwrap().split_once(": ").unwrap().1.to_owned();
    for args in [
        vec!["-vvv", "validate", "plan.yaml"],
        vec!["-vvv", "validate", "plan.yaml", "--json"],
        vec!["-vvv", "plan", "plan.yaml", "--json", "--checklist", "checklist.md", "--out", "saved.json"],
        vec!["-vvv", "plan", "by-file.yaml"],
        vec!["-vvv", "plan", "by-command.yaml", "--detailed-exitcode"],
        vec!["-vvv", "show", "saved.json"],
        vec!["-vvv", "show", "saved.json", "--format", "markdown"],
        vec!["-vvv", "show", "saved.json", "--format", "json"],
        vec!["-vvv", "apply", "saved.json", "--json"],
        vec!["-vvv", "apply", "by-file.yaml", "--yes"],
        vec!["-vvv", "audit", "plan.yaml"],
        vec!["-vvv", "audit", "by-command.yaml", "--json"],
        vec!["-vvv", "scim", "check", "PLACEHOLDER", "--token-env", "KIRO_SCIM_TOKEN", "--json"],
        vec!["-vvv", "scim", "check", "PLACEHOLDER", "--token-file", "scim.token"],
        vec!["-vvv", "scim", "check", "PLACEHOLDER", "--token-file", "wrong.token", "--json"],
        // No redirect pasted (stdin is empty): the error path, with the admin's secrets in play.
        vec!["-vvv", "signin", "check", "plan.yaml", "--no-browser", "--json"],
    ] {
        let args: Vec<String> =
            args.iter().map(|a| if *a == "PLACEHOLDER" { scim.clone() } else { (*a).into() }).collect();
        let output = test.again(&args);
        clean(&args.join(" "), &output);
        if args.iter().any(|a| a == "apply") {
            output.success();
        }
    }
    let stdin = test.again_with_stdin(["-vvv", "scim", "check", &scim, "--token-stdin"], entra::SCIM_TOKEN);
    clean("scim check --token-stdin", &stdin);
    stdin.success();

    // Error paths: a wrong client secret (the error chain is printed), a wrong SCIM token in the
    // plan, a secret written inline in the plan.
    let wrong_secret = test.again_with(["-vvv", "plan", "plan.yaml", "--json"], &[("ENTRA_CLIENT_SECRET", WRONG)]);
    clean("plan with a wrong client secret", &wrong_secret);
    wrong_secret.code(1);
    let wrong_scim = test.again_with(["-vvv", "apply", "plan.yaml", "--yes"], &[("KIRO_SCIM_TOKEN", WRONG)]);
    clean("apply with a wrong SCIM token", &wrong_scim);
    let inline = test.again(["-vvv", "validate", "inline.yaml", "--json"]);
    clean("validate with an inline secret", &inline);
    inline.code(1);
    // The secret on the same line as another problem (an unknown key), in text and JSON.
    for args in
        [["-vvv", "validate", "same-line.yaml", "--json"], ["-vvv", "plan", "same-line.yaml", "--detailed-exitcode"]]
    {
        let same_line = test.again(args);
        clean("a problem on the line of an inline secret", &same_line);
        same_line.code(1);
    }
    // A command secret in a run that did not allow commands: refused, the command not run.
    let refused =
        test.again_with(["-vvv", "plan", "by-command.yaml", "--json"], &[("KIRO_ONBOARD_ALLOW_COMMANDS", "0")]);
    clean("plan with a command secret, commands not allowed", &refused);
    refused.code(1).stderr_has("KIRO_ONBOARD_ALLOW_COMMANDS=1");
    // A certificate credential whose private key file holds no key: refused without echoing it.
    let certificate = yaml.replace(
        "client_secret: { env: ENTRA_CLIENT_SECRET }",
        "certificate: { certificate_file: cert.pem, private_key: { file: key.pem } }",
    );
    std::fs::write(test.file_path("cert.yaml"), certificate).unwrap();
    let cert = test.again(["-vvv", "plan", "cert.yaml"]);
    clean("plan with an unusable certificate key", &cert);
    cert.code(1);
    // A federated token Entra refuses (not a JWT), from the plan and from AZURE_FEDERATED_TOKEN_FILE:
    // the refusal is explained without echoing the token.
    let federated =
        yaml.replace("client_secret: { env: ENTRA_CLIENT_SECRET }", "federated_token: { file: wrong.token }");
    std::fs::write(test.file_path("federated.yaml"), federated).unwrap();
    let refused_token = test.again(["-vvv", "plan", "federated.yaml", "--json"]);
    clean("plan with a federated token Entra refuses", &refused_token);
    refused_token.code(1);
    let without = yaml.replace(
        &format!(
            "  client_credentials: {{ client_id: {}, client_secret: {{ env: ENTRA_CLIENT_SECRET }} }}\n",
            entra::CLIENT_ID
        ),
        "",
    );
    std::fs::write(test.file_path("no-credentials.yaml"), without).unwrap();
    let wrong_token_file = test.file_path("wrong.token");
    let from_env = test.again_with(
        ["-vvv", "plan", "no-credentials.yaml"],
        &[("AZURE_FEDERATED_TOKEN_FILE", wrong_token_file.to_str().unwrap()), ("AZURE_CLIENT_ID", entra::CLIENT_ID)],
    );
    clean("plan with AZURE_FEDERATED_TOKEN_FILE Entra refuses", &from_env);
    from_env.code(1).stderr_has("AADSTS");

    // Okta (emulator): the API token, a wrong token, a service-app key that is not a key, and an
    // org that does not answer.
    let org = okta::Org::start(&[]);
    let okta_yaml = okta::plan_yaml(&org.url(), "");
    let mut okta_test = org
        .test(&okta_yaml)
        .file("service.pem", &key)
        .file(
            "service.yaml",
            &okta_yaml.replace(
                "{ api_token: { env: OKTA_API_TOKEN } }",
                "{ client_id: c1, private_key: { file: service.pem } }",
            ),
        )
        .file("dead.yaml", &okta::plan_yaml(&format!("http://127.0.0.1:{}", free_port()), ""));
    let org_url = org.url();
    for args in [
        vec!["-vvv", "plan", "plan.yaml", "--json", "--out", "okta-saved.json", "--checklist", "okta.md"],
        vec!["-vvv", "apply", "plan.yaml", "--yes", "--json"],
        vec!["-vvv", "audit", "plan.yaml"],
        vec!["-vvv", "import", "--idp", "okta", "--org-url", &org_url, "--app-label", "Kiro"],
        vec!["-vvv", "import", "--idp", "okta", "--org-url", &org_url, "--app-label", "Kiro", "--json"],
        vec!["-vvv", "plan", "service.yaml"],
        vec!["-vvv", "plan", "dead.yaml", "--json"],
    ] {
        clean(&args.join(" "), &okta_test.again(&args));
    }
    let wrong_token = okta_test.again_with(["-vvv", "plan", "plan.yaml"], &[("OKTA_API_TOKEN", WRONG)]);
    clean("okta plan with a wrong token", &wrong_token);
    wrong_token.code(1).stderr_has("E0000011");

    // AWS (moto): the secret access key, through plan, apply and the KMS snippet.
    let moto = Moto::start();
    let mut aws = Test::new()
        .plan("version: 1\nkiro: { profile_region: us-east-1 }\nidentity_center:\n  groups: [{ name: kiro_dev_group, members: [jdoe] }]\n  users: [{ user_name: jdoe, given_name: Jane, family_name: Doe, email: jdoe@example.com }]\n")
        .aws(&moto)
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET);
    for args in [
        vec!["-vvv", "plan", "plan.yaml", "--json"],
        vec!["-vvv", "apply", "plan.yaml", "--yes"],
        vec!["-vvv", "audit", "plan.yaml", "--json"],
        vec![
            "-vvv",
            "kms",
            "policy",
            "--instance-arn",
            "arn:aws:sso:::instance/ssoins-1234567890abcdef",
            "--identity-store-arn",
            "arn:aws:identitystore::111122223333:identitystore/d-1234567890",
            "--json",
        ],
    ] {
        clean(&args.join(" "), &aws.again(&args));
    }

    // Offline commands, a DNS server that does not answer, a sign-in service that is not there,
    // and a panic while a secret is in scope (debug builds have a switch for it).
    let dead_dns = format!("127.0.0.1:{}", free_port());
    let config = aws.file_path("config");
    let mut offline = Test::new()
        .env("KIRO_ONBOARD_CONFIG_DIR", config.to_str().unwrap())
        .env("KIRO_ONBOARD_LOGIN_URL", &format!("http://127.0.0.1:{}", free_port()))
        .env("KIRO_ONBOARD_DNS_TIMEOUT", "1");
    for args in [
        // The verification token is public by design (it is published in DNS), so not a canary.
        vec!["-vvv", "dns", "verify", "example.com", "--token", "kiro=public", "--resolver", &dead_dns, "--json"],
        vec!["-vvv", "schema"],
        vec!["-vvv", "init", "--idp", "entra"],
        vec!["-vvv", "login", "entra", "--tenant", "example.onmicrosoft.com"],
        vec!["-vvv", "logout"],
    ] {
        clean(&args.join(" "), &offline.again(&args));
    }
    let panic = offline.again_with(["-vvv", "schema"], &[("KIRO_ONBOARD_TEST_PANIC", WRONG)]);
    assert!(panic.stderr.contains("test panic while holding"), "no panic was triggered:\n{}", panic.stderr);
    clean("panic", &panic);

    for (dir, secret_files) in [
        (test.file_path(""), &["scim.token", "wrong.token", "key.pem", "inline.yaml", "same-line.yaml"][..]),
        (okta_test.file_path(""), &["service.pem"][..]),
        (aws.file_path(""), &[][..]),
        (offline.file_path(""), &[][..]),
    ] {
        no_canary_in_files(&dir, secret_files);
    }
}
