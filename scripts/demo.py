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

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import local_servers as local
from local_servers import DOMAIN_TOKEN, ENTRA_CLIENT, REPO

BIN = os.environ.get("KIRO_ONBOARD_BIN", os.path.join(REPO, "target", "debug", "kiro-onboard"))
WORK = os.path.join(REPO, "target", "demo")

BOLD = "\033[1m" if sys.stderr.isatty() and not os.environ.get("NO_COLOR") else ""
PLAIN = "\033[0m" if BOLD else ""


def say(message: str) -> None:
    print(f"\n{BOLD}==> {message}{PLAIN}", file=sys.stderr, flush=True)


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


def manual_steps(demo: Demo, plan: str) -> list[dict]:
    """The console steps the plan shows now (`plan --json`), so banners say what the plan says."""
    listing = subprocess.run(
        [BIN, "plan", plan, "--json", "-q"], cwd=WORK, env=demo.env, capture_output=True, text=True, check=True
    )
    return [change for change in json.loads(listing.stdout)["changes"] if change["action"] == "manual"]


def record_console_steps(demo: Demo, plan: str) -> None:
    """What an admin does once the Kiro (and Okta) console steps are done: records each one with
    `kiro-onboard console done`, which edits just that value in the plan and prints the diff."""
    for change in manual_steps(demo, plan):
        if change.get("manual", {}).get("record"):
            say(f"kiro-onboard console done '{change['address']}' {plan}")
            demo.run("console", "done", change["address"], plan)


def converge(demo: Demo, plan: str, between=None, apply_after_recording: bool = False) -> None:
    say(f"kiro-onboard validate {plan}")
    demo.run("validate", plan)
    say(f"kiro-onboard plan {plan}   (what would change; reads only)")
    demo.run("plan", plan)
    say(f"kiro-onboard apply {plan} --yes   (does everything it can; lists the console steps left for you)")
    demo.run("apply", plan, "--yes")
    left = len(manual_steps(demo, plan))
    steps = "the console step is" if left == 1 else f"the {left} console steps are"
    say(f"kiro-onboard plan {plan} --detailed-exitcode   (exit 2: only {steps} left)")
    demo.run("plan", plan, "--detailed-exitcode", expect=2)
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
        if line.startswith("http") and "/authorize?" in line and local.approve_browser(idp, user):
            print(f"    (the demo signs in as {user} in the browser)", file=sys.stderr)
    return play


def device_user(moto: str, user: str):
    """USER on any device: opens the verification URL, signs in at the AWS access portal, and
    chooses Allow (moto's test control plays the portal)."""
    def play(line: str) -> None:
        if line.startswith("http") and "user_code=" in line and local.approve_device(moto, user):
            print(f"    (the demo signs in as {user} at the AWS access portal and chooses Allow)", file=sys.stderr)
    return play


def identity_center_with_kms(demo: Demo, moto: str) -> None:
    say("PATH 1: IAM Identity Center, encrypted with a customer managed KMS key")
    key = local.seed_identity_center_kms(moto)
    print(f"    the instance encrypts with {key} (alias/identity-center)", file=sys.stderr)
    plan = playbook("identity-center-kms.yaml", [])
    print("    users created through the API cannot sign in until first sign-in is set up: plan and apply show", file=sys.stderr)
    print("    that step (identity_center.first_sign_in) with the AWS access portal URL users enter in Kiro", file=sys.stderr)

    def consoles() -> None:
        say("in the Kiro console (emulated): Kiro enabled and kiro_dev_group subscribed; in the IAM Identity Center "
            "console: \"Send email OTP for users created from API\" turned on")
        local.identity_center_console(moto)

    converge(demo, plan, between=consoles)
    signin_check(demo, plan, "jdoe", device_user(moto, "jdoe"))
    say("kiro-onboard kms policy   (Kiro's two key-policy statements for this instance, read from AWS)")
    demo.run("kms", "policy")


def entra_with_domain(demo: Demo, servers: dict[str, str]) -> None:
    say("PATH 2: Microsoft Entra ID, with the company's domain verified through Route 53")
    local.seed_entra(servers["graph"], servers["moto"])
    print(f"    Entra tenant {local.ENTRA_TENANT} with the group Kiro Developers and an automation app "
          f"({', '.join(local.ENTRA_PERMISSIONS)}); Route 53 zone example.com", file=sys.stderr)
    plan = playbook("entra.yaml", [
        ("https://scim.us-east-1.amazonaws.com/EXAMPLE-1234/scim/v2", f"http://{servers['scim']}"),
        ("  # client_credentials:\n  #   client_id: 00000000-0000-0000-0000-000000000000\n  #   client_secret:",
         f"  client_credentials:\n    client_id: {ENTRA_CLIENT}\n    client_secret:"),
    ], append=(
        "\naws: { region: us-east-1 }\n"
        "domains:                           # added for the demo: verify example.com for Kiro\n"
        f"  - {{ name: example.com, token: \"{DOMAIN_TOKEN}\", dns: route53 }}\n"
        f"resolvers: [\"{servers['dns']}\"]              # the local DNS server stands in for public DNS\n"
    ))
    demo = Demo({**demo.env, **local.entra_env(servers)})
    converge(demo, plan)
    user = local.ENTRA_USERS[0]
    signin_check(demo, plan, user, browser_user(servers["graph"], user))
    say(f"kiro-onboard dns verify example.com --token {DOMAIN_TOKEN}   (asks each authoritative server, as Kiro does)")
    demo.run("dns", "verify", "example.com", "--token", DOMAIN_TOKEN, "--resolver", servers["dns"])


def okta(demo: Demo, okta_url: str, scim: str) -> None:
    say("PATH 3: Okta")
    local.seed_okta(okta_url)
    print("    Okta org with the groups Kiro Users and Kiro Users Push", file=sys.stderr)
    endpoint = f"http://{scim}"
    plan = playbook("okta.yaml", [("https://scim.us-east-1.amazonaws.com/EXAMPLE/scim/v2", endpoint)])

    def okta_console() -> None:
        say("in the Okta console (emulated): the AWS IAM Identity Center app \"Kiro SCIM\" provisions to Kiro")
        local.okta_console(okta_url, endpoint)

    demo = Demo({**demo.env, **local.okta_env({"okta": okta_url})})
    converge(demo, plan, between=okta_console, apply_after_recording=True)
    signin_check(demo, plan, local.OKTA_USERS[0], browser_user(okta_url, local.OKTA_USERS[0]))


def main() -> int:
    if not os.path.exists(BIN):
        raise SystemExit(f"demo: {BIN} does not exist; build it first (scripts/demo does)")
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    started = time.monotonic()
    servers = local.Servers()
    # SIGTERM (and SIGHUP) unwind like Ctrl-C, so `finally` stops the servers.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.default_int_handler)
    try:
        say("starting the local servers")
        addresses = servers.start_all()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KIRO_ONBOARD_"))}
        env.update(local.aws_env(addresses, os.path.join(WORK, "config")))
        demo = Demo(env)
        identity_center_with_kms(demo, addresses["moto"])
        entra_with_domain(demo, addresses)
        okta(demo, addresses["okta"], addresses["scim"])
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
