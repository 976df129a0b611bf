"""The local servers that scripts/demo.py and scripts/sandbox.py start, seeded the same way, and the
hands that play the test user and the consoles there. One module so the demo and the sandbox
cannot drift apart.

Servers: moto (local AWS: Identity Center, KMS, Route 53), a DNS server that serves moto's Route 53
zones, a SCIM server, and the Microsoft Graph and Okta emulators, all on loopback, port 0.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = os.path.join(REPO, ".venv", "bin", "python")

# Values for local servers only; none of them is a secret anywhere.
SCIM_TOKEN = "demo-scim-token-not-a-secret"
ENTRA_CLIENT = "5f1c0e2a-7a51-4f3c-9d0e-6b2a8e4c1d90"
ENTRA_SECRET = "demo-client-secret-not-a-secret"
OKTA_TOKEN = "demo-okta-token-not-a-secret"
DOMAIN_TOKEN = "kiro-verification=demo-7f3a9c"
ENTRA_TENANT = "example.onmicrosoft.com"
ENTRA_USERS = ["alice@example.onmicrosoft.com", "bob@example.onmicrosoft.com"]
OKTA_USERS = ["jdoe@example.com", "rroe@example.com"]

# What a real automation app registration is granted for kiro-onboard's Entra path
# (docs/security.md, "Microsoft Entra ID (Graph)"; Organization.Read.All reads the Directory
# (tenant) ID the Kiro console step shows, docs/vendor-behaviour.md §2).
ENTRA_PERMISSIONS = ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All",
                     "Synchronization.ReadWrite.All", "Group.Read.All", "Organization.Read.All"]


def die_with_parent() -> None:
    """Runs in each server before exec: the kernel sends it SIGTERM if the script that started it
    dies, even by SIGKILL, so a killed demo or sandbox leaves nothing running."""
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
            raise SystemExit(f"{name} did not start")
        port = int(line.split()[1])
        print(f"    {name}: 127.0.0.1:{port} (pid {child.pid})", file=sys.stderr, flush=True)
        return f"127.0.0.1:{port}"

    def start_all(self) -> dict[str, str]:
        """Every server the demo and the sandbox use; their addresses by short name."""
        moto = self.start("moto (AWS: Identity Center, KMS, Route 53)",
                          [PYTHON, "tests/servers/moto_server.py", "--host", "127.0.0.1", "--port", "0", "--exit-on-stdin-eof"])
        dns = self.start("DNS server for moto's Route 53 zones",
                         [PYTHON, "tests/servers/route53_dns.py", "--moto", f"http://{moto}", "--exit-on-stdin-eof"])
        scim = self.start("SCIM server", [PYTHON, "tests/servers/scim_server.py", "--hostname", "127.0.0.1", "--port", "0",
                                          "--bearer-token", SCIM_TOKEN, "--exit-on-stdin-eof"])
        graph = self.start("Microsoft Graph emulator",
                           # Graph's minutes-long assignment replication, shortened for local use
                           [PYTHON, "tests/servers/graph_emulator.py", "--port", "0", "--exit-on-stdin-eof",
                            "--config", "assignment_replication_seconds=3"])
        okta = self.start("Okta emulator", [PYTHON, "tests/servers/okta_emulator.py", "--port", "0", "--exit-on-stdin-eof"])
        return {"moto": moto, "dns": dns, "scim": scim, "graph": graph, "okta": okta}

    def stop(self) -> None:
        for _, child in self.running:
            child.terminate()
        for _, child in self.running:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.running.clear()


def post(url: str, body: dict, headers: dict[str, str] | None = None) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def aws_env(servers: dict[str, str], config_dir: str) -> dict[str, str]:
    """The variables that point kiro-onboard at moto, with local throwaway credentials: nothing can
    reach AWS. The config directory keeps these logins apart from real ones."""
    return {
        "AWS_ENDPOINT_URL": f"http://{servers['moto']}", "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true", "KIRO_ONBOARD_CONFIG_DIR": config_dir,
        "KIRO_SCIM_ENDPOINT": f"http://{servers['scim']}", "KIRO_SCIM_TOKEN": SCIM_TOKEN,
    }


def entra_env(servers: dict[str, str]) -> dict[str, str]:
    """Sign-in and Graph at the Graph emulator (each run warns that a test server is used), DNS
    at the local server."""
    return {"KIRO_ONBOARD_GRAPH_URL": f"http://{servers['graph']}", "KIRO_ONBOARD_LOGIN_URL": f"http://{servers['graph']}",
            "ENTRA_CLIENT_SECRET": ENTRA_SECRET, "KIRO_ONBOARD_DNS_PORT": servers["dns"].split(":")[1]}


def okta_env(servers: dict[str, str]) -> dict[str, str]:
    return {"KIRO_ONBOARD_OKTA_ORG_URL": f"http://{servers['okta']}", "OKTA_API_TOKEN": OKTA_TOKEN}


def tool_env(servers: dict[str, str], config_dir: str) -> dict[str, str]:
    """Every variable kiro-onboard needs to reach every local server."""
    return {**aws_env(servers, config_dir), **entra_env(servers), **okta_env(servers)}


def aws(moto: str, service: str):
    import boto3
    session = boto3.session.Session(aws_access_key_id="demo", aws_secret_access_key="demo", region_name="us-east-1")
    return session.client(service, endpoint_url=f"http://{moto}")


def seed_identity_center_kms(moto: str) -> str:
    """The Identity Center instance encrypts with a customer managed key, alias/identity-center.
    Returns the key's ARN."""
    kms = aws(moto, "kms")
    key = kms.create_key(Description="Identity Center (demo)")["KeyMetadata"]
    kms.create_alias(AliasName="alias/identity-center", TargetKeyId=key["KeyId"])
    post(f"http://{moto}/_control/sso-encryption", {"KeyType": "CUSTOMER_MANAGED_KEY", "KmsKeyArn": key["Arn"]})
    return key["Arn"]


def seed_entra(graph: str, moto: str) -> None:
    """Tenant example.onmicrosoft.com with the group Kiro Developers and an automation app; the
    Route 53 zone example.com for domain verification."""
    post(f"http://{graph}/_control/seed", {
        "users": [{"userPrincipalName": user} for user in ENTRA_USERS],
        "groups": [{"displayName": "Kiro Developers", "members": ENTRA_USERS}],
        "clients": [{"client_id": ENTRA_CLIENT, "display_name": "kiro-onboard automation", "client_secret": ENTRA_SECRET,
                     "permissions": ENTRA_PERMISSIONS}],
        "scim_tokens": [SCIM_TOKEN],
    })
    aws(moto, "route53").create_hosted_zone(Name="example.com", CallerReference=f"demo-{time.time()}")


def seed_okta(okta: str) -> None:
    """Okta org with an API token, the group Kiro Users (assigned to the apps) and Kiro Users Push
    (pushed to Kiro): Okta does not support one group for both (docs/vendor-behaviour.md §3.2.9)."""
    post(f"http://{okta}/_control/seed", {
        "api_tokens": [{"token": OKTA_TOKEN, "name": "kiro-onboard"}],
        "users": OKTA_USERS,
        "groups": [{"name": "Kiro Users", "members": OKTA_USERS},
                   {"name": "Kiro Users Push", "members": OKTA_USERS[:1]}],
    })


def seed_all(servers: dict[str, str]) -> None:
    seed_identity_center_kms(servers["moto"])
    seed_entra(servers["graph"], servers["moto"])
    seed_okta(servers["okta"])


def identity_center_console(moto: str, group: str = "kiro_dev_group") -> None:
    """The admin in the Kiro console (Kiro enabled in us-east-1, GROUP subscribed) and in the IAM
    Identity Center console ("Send email OTP for users created from API" on)."""
    post(f"http://{moto}/_control/application", {"Name": "QDevProfile-us-east-1", "GroupNames": [group]})
    post(f"http://{moto}/_control/sign-in-settings", {"email_otp_for_api_users": True})


def okta_console(okta: str, scim_endpoint: str) -> None:
    """The admin in Okta's console: the AWS IAM Identity Center catalog app "Kiro SCIM" provisions
    to Kiro's SCIM endpoint."""
    request = urllib.request.Request(
        f"http://{okta}/api/v1/apps?activate=true", method="POST",
        data=json.dumps({"name": "amazon_aws_sso", "label": "Kiro SCIM", "signOnMode": "SAML_2_0"}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json", "Authorization": f"SSWS {OKTA_TOKEN}"})
    urllib.request.urlopen(request, timeout=30).read()
    post(f"http://{okta}/_control/console/provisioning", {
        "app": "Kiro SCIM", "base_url": scim_endpoint, "token": SCIM_TOKEN, "create_users": True,
        "update_user_attributes": True, "deactivate_users": True, "push_groups": True,
        "connection_api": "REFLECTS_CONSOLE"})


def _try_post(url: str, body: dict) -> dict | None:
    try:
        return post(url, body)
    except OSError:  # urllib's HTTPError and URLError: nothing pending there
        return None


def approve_browser(idp: str, user: str) -> bool:
    """USER in a browser: signs in on the authorize page the emulator at IDP served last and
    follows the redirect to kiro-onboard's loopback listener. False when no sign-in is pending."""
    answer = _try_post(f"http://{idp}/_control/authorize/approve", {"user": user})
    if not answer or not answer.get("redirect"):
        return False
    with urllib.request.urlopen(answer["redirect"].replace("//localhost:", "//127.0.0.1:"), timeout=30):
        pass
    return True


def approve_device(moto: str, user: str) -> bool:
    """USER on another device: opens the verification URL of the device flow at moto, signs in at
    the AWS access portal and chooses Allow. False when no device sign-in is pending."""
    return _try_post(f"http://{moto}/_control/device/approve", {"user_name": user}) is not None


def approve_admin_device_codes(graph: str) -> bool:
    """The Entra admin at https://microsoft.com/devicelogin: enters each pending code that
    `login entra` printed. False when none is pending."""
    with urllib.request.urlopen(f"http://{graph}/_control/devicecode", timeout=30) as response:
        codes = json.loads(response.read() or b"[]")
    codes = codes.get("value", []) if isinstance(codes, dict) else codes
    pending = [code for code in codes if code.get("status") == "pending"]
    for code in pending:
        post(f"http://{graph}/_control/devicecode/approve", {"user_code": code["user_code"]})
    return bool(pending)
