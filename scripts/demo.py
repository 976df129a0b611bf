#!/usr/bin/env python3
"""Every path of kiro-onboard, end to end, against local servers (run by scripts/demo).

Starts moto (local AWS: Identity Center, KMS, Route 53), a DNS server that serves moto's Route 53
zones, a SCIM server, and the Microsoft Graph and Okta emulators, all on loopback. Then, for each
playbook (Identity Center with a customer managed KMS key, Entra ID with domain verification,
Okta): validate → plan → apply → plan (only the Kiro console steps are left) → the console steps
are recorded in the plan, as an admin does → plan shows nothing to do → audit. Then `dns verify`
and `kms policy` on the results. Every server is stopped at the end, whatever happens (and dies
with this script if it is killed). Files go to target/demo/ only (git-ignored).

    KIRO_ONBOARD_BIN   the binary to run (default: target/debug/kiro-onboard)
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("KIRO_ONBOARD_BIN", os.path.join(REPO, "target", "debug", "kiro-onboard"))
PYTHON = os.path.join(REPO, ".venv", "bin", "python")
WORK = os.path.join(REPO, "target", "demo")

# Demo-only values for local servers; none of them is a secret anywhere.
SCIM_TOKEN = "demo-scim-token-not-a-secret"
ENTRA_CLIENT = "5f1c0e2a-7a51-4f3c-9d0e-6b2a8e4c1d90"
ENTRA_SECRET = "demo-client-secret-not-a-secret"
OKTA_TOKEN = "demo-okta-token-not-a-secret"
DOMAIN_TOKEN = "kiro-verification=demo-7f3a9c"

BOLD = "\033[1m" if sys.stderr.isatty() and not os.environ.get("NO_COLOR") else ""
PLAIN = "\033[0m" if BOLD else ""


def say(message: str) -> None:
    print(f"\n{BOLD}==> {message}{PLAIN}", file=sys.stderr, flush=True)


def die_with_parent() -> None:
    """Runs in each server before exec: the kernel sends it SIGTERM if this script dies, even by
    SIGKILL, so a killed demo leaves nothing running."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Servers:
    """The local servers, stopped (and waited for) on exit."""

    def __init__(self) -> None:
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str]) -> str:
        """Starts a server on port 0; ready at its `READY <port>` line, which says the port it bound."""
        child = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True, preexec_fn=die_with_parent, cwd=REPO)
        self.running.append((name, child))
        line = child.stdout.readline()
        if not line.startswith("READY "):
            raise SystemExit(f"demo: {name} did not start")
        port = int(line.split()[1])
        print(f"    {name}: 127.0.0.1:{port} (pid {child.pid})", file=sys.stderr, flush=True)
        return f"127.0.0.1:{port}"

    def stop(self) -> None:
        for _, child in self.running:
            child.terminate()
        for name, child in self.running:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.running.clear()


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


class Demo:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def run(self, *args: str, expect: int = 0, env: dict[str, str] | None = None) -> None:
        """Runs kiro-onboard in target/demo; its output goes straight to the terminal."""
        code = subprocess.run([BIN, *args], cwd=WORK, env={**self.env, **(env or {})}).returncode
        if code != expect:
            raise SystemExit(f"demo: `kiro-onboard {' '.join(args)}` exited {code}, expected {expect}")


def playbook(name: str, replacements: list[tuple[str, str]], append: str = "") -> str:
    """A copy of playbooks/NAME in target/demo with local endpoints, as an admin fills in theirs."""
    with open(os.path.join(REPO, "playbooks", name)) as f:
        text = f.read()
    for old, new in replacements:
        if old not in text:
            raise SystemExit(f"demo: playbooks/{name} no longer contains {old!r}; update scripts/demo.py")
        text = text.replace(old, new)
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(text + append)
    return name


def record_console_steps(demo: Demo, plan: str) -> None:
    """What an admin does once the Kiro (and Okta) console steps are done: records each one with
    `kiro-onboard console done`, which edits just that value in the plan and prints the diff."""
    listing = subprocess.run(
        [BIN, "plan", plan, "--json", "-q"], cwd=WORK, env=demo.env, capture_output=True, text=True, check=True
    )
    for change in json.loads(listing.stdout)["changes"]:
        if change["action"] == "manual" and change.get("manual", {}).get("record"):
            say(f"kiro-onboard console done '{change['address']}' {plan}")
            demo.run("console", "done", change["address"], plan)


def converge(demo: Demo, plan: str, manual: int, between=None, apply_after_recording: bool = False) -> None:
    say(f"kiro-onboard validate {plan}")
    demo.run("validate", plan)
    say(f"kiro-onboard plan {plan}   (what would change; reads only)")
    demo.run("plan", plan)
    say(f"kiro-onboard apply {plan} --yes   (does everything it can; lists the console steps left for you)")
    demo.run("apply", plan, "--yes")
    say(f"kiro-onboard plan {plan} --detailed-exitcode   (exit 2: only the {manual} console steps are left)")
    demo.run("plan", plan, "--detailed-exitcode", "-q", expect=2)
    if between:
        between()
    say("recording the console steps in the plan, as an admin does once they are done")
    record_console_steps(demo, plan)
    if apply_after_recording:
        say(f"kiro-onboard apply {plan} --yes   (what the console step made possible: the SCIM app's groups and pushes)")
        demo.run("apply", plan, "--yes")
    say(f"kiro-onboard plan {plan} --detailed-exitcode   (exit 0: nothing left to do)")
    demo.run("plan", plan, "--detailed-exitcode")
    say(f"kiro-onboard audit {plan}")
    demo.run("audit", plan)


def signin_check(demo: Demo, plan: str, user: str, play) -> None:
    """The last step of onboarding: `signin check` as the test user. The demo plays the user:
    `play` sees each line kiro-onboard prints on stderr and acts on the one that says where to
    sign in, as the user would in a browser."""
    say(f"kiro-onboard signin check {plan} --user {user}   (the sign-in Kiro's clients run, as the test user)")
    env = {**demo.env, "DISPLAY": "", "WAYLAND_DISPLAY": "", "KIRO_ONBOARD_SIGNIN_WAIT": "30"}
    child = subprocess.Popen([BIN, "signin", "check", plan, "--user", user], cwd=WORK, env=env,
                             stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    for line in child.stderr:
        print(line, end="", file=sys.stderr)
        play(line.strip())
    if child.wait() != 0:
        raise SystemExit(f"demo: `kiro-onboard signin check {plan}` exited {child.returncode}, expected 0")


def browser_user(idp: str, user: str):
    """USER in a browser: signs in on the authorize URL at the emulator IDP and follows the redirect
    to kiro-onboard's loopback listener."""
    def play(line: str) -> None:
        if line.startswith("http") and "/authorize?" in line:
            redirect = post(f"http://{idp}/_control/authorize/approve", {"url": line, "user": user})
            print(f"    (the demo signs in as {user} in the browser)", file=sys.stderr)
            with urllib.request.urlopen(redirect["redirect"].replace("//localhost:", "//127.0.0.1:"), timeout=30):
                pass
    return play


def device_user(moto: str, user: str):
    """USER on any device: opens the verification URL, signs in at the AWS access portal, and
    chooses Allow (moto's test control plays the portal)."""
    def play(line: str) -> None:
        if line.startswith("http") and "user_code=" in line:
            post(f"http://{moto}/_control/device/approve", {"user_code": line.split("user_code=")[1], "user_name": user})
            print(f"    (the demo signs in as {user} at the AWS access portal and chooses Allow)", file=sys.stderr)
    return play


def identity_center_with_kms(demo: Demo, moto: str) -> None:
    import boto3

    say("PATH 1: IAM Identity Center, encrypted with a customer managed KMS key")
    session = boto3.session.Session(aws_access_key_id="demo", aws_secret_access_key="demo", region_name="us-east-1")
    kms = session.client("kms", endpoint_url=f"http://{moto}")
    key = kms.create_key(Description="Identity Center (demo)")["KeyMetadata"]
    kms.create_alias(AliasName="alias/identity-center", TargetKeyId=key["KeyId"])
    post(f"http://{moto}/_control/sso-encryption", {"KeyType": "CUSTOMER_MANAGED_KEY", "KmsKeyArn": key["Arn"]})
    print(f"    the instance encrypts with {key['Arn']} (alias/identity-center)", file=sys.stderr)
    plan = playbook("identity-center-kms.yaml", [])
    print("    users created through the API cannot sign in until first sign-in is set up: plan and apply show", file=sys.stderr)
    print("    that step (identity_center.first_sign_in) with the AWS access portal URL users enter in Kiro", file=sys.stderr)

    def consoles() -> None:
        say("in the Kiro console (emulated): Kiro enabled and kiro_dev_group subscribed; in the IAM Identity Center "
            "console: \"Send email OTP for users created from API\" turned on")
        post(f"http://{moto}/_control/application", {"Name": "QDevProfile-us-east-1", "GroupNames": ["kiro_dev_group"]})
        post(f"http://{moto}/_control/sign-in-settings", {"email_otp_for_api_users": True})

    converge(demo, plan, manual=3, between=consoles)
    signin_check(demo, plan, "jdoe", device_user(moto, "jdoe"))
    say("kiro-onboard kms policy   (Kiro's two key-policy statements for this instance, read from AWS)")
    demo.run("kms", "policy")


def entra_with_domain(demo: Demo, moto: str, dns: str, graph: str, scim: str) -> None:
    import boto3

    say("PATH 2: Microsoft Entra ID, with the company's domain verified through Route 53")
    post(f"http://{graph}/_control/seed", {
        "users": [{"userPrincipalName": "alice@example.onmicrosoft.com"}, {"userPrincipalName": "bob@example.onmicrosoft.com"}],
        "groups": [{"displayName": "Kiro Developers", "members": ["alice@example.onmicrosoft.com", "bob@example.onmicrosoft.com"]}],
        "clients": [{"client_id": ENTRA_CLIENT, "display_name": "kiro-onboard automation", "client_secret": ENTRA_SECRET,
                     "permissions": ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All",
                                     "Synchronization.ReadWrite.All", "Group.Read.All"]}],
        "scim_tokens": [SCIM_TOKEN],
    })
    session = boto3.session.Session(aws_access_key_id="demo", aws_secret_access_key="demo", region_name="us-east-1")
    session.client("route53", endpoint_url=f"http://{moto}").create_hosted_zone(
        Name="example.com", CallerReference=f"demo-{time.time()}")
    print("    Entra tenant example.onmicrosoft.com with the group Kiro Developers; Route 53 zone example.com",
          file=sys.stderr)
    plan = playbook("entra.yaml", [
        ("https://scim.us-east-1.amazonaws.com/EXAMPLE-1234/scim/v2", f"http://{scim}"),
        ("  # client_credentials:\n  #   client_id: 00000000-0000-0000-0000-000000000000\n  #   client_secret:",
         f"  client_credentials:\n    client_id: {ENTRA_CLIENT}\n    client_secret:"),
    ], append=(
        "\naws: { region: us-east-1 }\n"
        "domains:                           # added for the demo: verify example.com for Kiro\n"
        f"  - {{ name: example.com, token: \"{DOMAIN_TOKEN}\", dns: route53 }}\n"
        f"resolvers: [\"{dns}\"]              # the local DNS server stands in for public DNS\n"
    ))
    env = {"KIRO_ONBOARD_GRAPH_URL": f"http://{graph}", "KIRO_ONBOARD_LOGIN_URL": f"http://{graph}",
           "ENTRA_CLIENT_SECRET": ENTRA_SECRET, "KIRO_ONBOARD_DNS_PORT": dns.split(":")[1]}
    entra = Demo({**demo.env, **env})
    converge(entra, plan, manual=3)
    signin_check(entra, plan, "alice@example.onmicrosoft.com", browser_user(graph, "alice@example.onmicrosoft.com"))
    say(f"kiro-onboard dns verify example.com --token {DOMAIN_TOKEN}   (asks each authoritative server, as Kiro does)")
    entra.run("dns", "verify", "example.com", "--token", DOMAIN_TOKEN, "--resolver", dns)


def okta(demo: Demo, okta_url: str, scim: str) -> None:
    say("PATH 3: Okta")
    post(f"http://{okta_url}/_control/seed", {
        "api_tokens": [{"token": OKTA_TOKEN, "name": "kiro-onboard"}],
        "users": ["jdoe@example.com", "rroe@example.com"],
        "groups": [{"name": "Kiro Users", "members": ["jdoe@example.com", "rroe@example.com"]}],
    })
    print("    Okta org with the group Kiro Users", file=sys.stderr)
    endpoint = f"http://{scim}"
    plan = playbook("okta.yaml", [("https://scim.us-east-1.amazonaws.com/EXAMPLE/scim/v2", endpoint)])

    def okta_console() -> None:
        say("in the Okta console (emulated): the AWS IAM Identity Center app \"Kiro SCIM\" provisions to Kiro")
        request = urllib.request.Request(
            f"http://{okta_url}/api/v1/apps?activate=true", method="POST",
            data=json.dumps({"name": "amazon_aws_sso", "label": "Kiro SCIM", "signOnMode": "SAML_2_0"}).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json", "Authorization": f"SSWS {OKTA_TOKEN}"})
        urllib.request.urlopen(request, timeout=30).read()
        post(f"http://{okta_url}/_control/console/provisioning", {
            "app": "Kiro SCIM", "base_url": endpoint, "token": SCIM_TOKEN, "create_users": True,
            "update_user_attributes": True, "deactivate_users": True, "push_groups": True,
            "connection_api": "REFLECTS_CONSOLE"})

    okta_demo = Demo({**demo.env, "KIRO_ONBOARD_OKTA_ORG_URL": f"http://{okta_url}", "OKTA_API_TOKEN": OKTA_TOKEN})
    converge(okta_demo, plan, manual=3, between=okta_console, apply_after_recording=True)
    signin_check(okta_demo, plan, "jdoe@example.com", browser_user(okta_url, "jdoe@example.com"))


def main() -> int:
    if not os.path.exists(BIN):
        raise SystemExit(f"demo: {BIN} does not exist; build it first (scripts/demo does)")
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    started = time.monotonic()
    servers = Servers()
    # SIGTERM (and SIGHUP) unwind like Ctrl-C, so `finally` stops the servers.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.default_int_handler)
    try:
        say("starting the local servers")
        moto = servers.start("moto (AWS: Identity Center, KMS, Route 53)",
                             [PYTHON, "tests/servers/moto_server.py", "--host", "127.0.0.1", "--port", "0", "--exit-on-stdin-eof"])
        dns = servers.start("DNS server for moto's Route 53 zones",
                            [PYTHON, "tests/servers/route53_dns.py", "--moto", f"http://{moto}", "--exit-on-stdin-eof"])
        scim = servers.start("SCIM server", [PYTHON, "tests/servers/scim_server.py", "--hostname", "127.0.0.1", "--port", "0",
                                             "--bearer-token", SCIM_TOKEN, "--exit-on-stdin-eof"])
        graph = servers.start("Microsoft Graph emulator",
                              # Graph's minutes-long assignment replication, shortened for a demo
                              [PYTHON, "tests/servers/graph_emulator.py", "--port", "0", "--exit-on-stdin-eof",
                               "--config", "assignment_replication_seconds=3"])
        okta_url = servers.start("Okta emulator", [PYTHON, "tests/servers/okta_emulator.py", "--port", "0", "--exit-on-stdin-eof"])

        # Local, throwaway credentials; nothing here can reach AWS, Microsoft or Okta.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KIRO_ONBOARD_"))}
        env.update({
            "AWS_ENDPOINT_URL": f"http://{moto}", "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_EC2_METADATA_DISABLED": "true", "KIRO_SCIM_TOKEN": SCIM_TOKEN,
            "KIRO_ONBOARD_CONFIG_DIR": os.path.join(WORK, "config"),
        })
        demo = Demo(env)
        identity_center_with_kms(demo, moto)
        entra_with_domain(demo, moto, dns, graph, scim)
        okta(demo, okta_url, scim)
    except KeyboardInterrupt:
        print("\ndemo: interrupted", file=sys.stderr)
        return 130
    finally:
        servers.stop()
    say(f"demo finished in {time.monotonic() - started:.0f} s: on every path plan → apply → plan showed nothing "
        "to do; every server is stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
