#!/usr/bin/env python3
"""Local servers to follow the getting-started guides by hand (run by scripts/sandbox).

    scripts/sandbox                      starts every server the demo uses, seeded as the demo seeds
                                         them; prints one `export NAME=value` line per variable
                                         kiro-onboard needs (also written to target/sandbox/env);
                                         runs until Ctrl-C (or SIGTERM), then stops every server
                                         (--dir DIR: the env file and config directory go there)
    scripts/sandbox approve USER         plays USER at the sign-in page kiro-onboard waits on: the
                                         AWS access portal (device flow), the Entra or Okta
                                         sign-in page; also enters the code `login entra` printed
    scripts/sandbox console identity-center | okta
                                         plays the admin in the consoles kiro-onboard cannot reach
                                         (Kiro profile and subscription, Send email OTP; Okta's
                                         SCIM provisioning app)

`approve` and `console` find the servers through the exported variables (or target/sandbox/env).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import sys
import time

import local_servers as local

WORK = os.path.join(local.REPO, "target", "sandbox")
ENV_FILE = os.path.join(WORK, "env")


def exports(env: dict[str, str]) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in env.items())


def serve(work: str) -> int:
    env_file = os.path.join(work, "env")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    servers = local.Servers()
    # SIGTERM (and SIGHUP) unwind like Ctrl-C, so `finally` stops the servers; SIGKILL is covered
    # by each server's parent-death signal.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.default_int_handler)
    try:
        print("sandbox: starting the local servers", file=sys.stderr, flush=True)
        addresses = servers.start_all()
        local.seed_all(addresses)
        env = local.tool_env(addresses, os.path.join(work, "config"))
        with open(env_file, "w") as f:
            f.write(exports(env))
        sys.stdout.write(exports(env))
        print("# sandbox ready; Ctrl-C stops it", flush=True)
        print(f"""
sandbox: ready. In another shell: `. {env_file}` (or paste the export lines above), then follow a
guide in docs/getting-started/. Seeded: Identity Center with a KMS key (alias/identity-center);
Entra tenant {local.ENTRA_TENANT} with the group Kiro Developers ({', '.join(local.ENTRA_USERS)});
Okta org with the groups Kiro Users ({', '.join(local.OKTA_USERS)}) and Kiro Users Push
({local.OKTA_USERS[0]}); Route 53 zone example.com.
When kiro-onboard waits for a sign-in: `scripts/sandbox approve USER`. For the console steps:
`scripts/sandbox console identity-center` or `scripts/sandbox console okta`. Ctrl-C stops it all.""",
              file=sys.stderr, flush=True)
        while True:
            signal.pause()
    except KeyboardInterrupt:
        print("\nsandbox: stopping", file=sys.stderr)
        return 0
    finally:
        servers.stop()
        if os.path.exists(env_file):
            os.remove(env_file)


def address(name: str) -> str:
    """host:port of a server, from the exported variable NAME or target/sandbox/env."""
    value = os.environ.get(name)
    if value is None and os.path.exists(ENV_FILE):
        with open(ENV_FILE) as f:
            for line in f:
                key, _, rest = line.removeprefix("export ").strip().partition("=")
                if key == name:
                    value = shlex.split(rest)[0]
    if not value:
        raise SystemExit(f"sandbox: {name} is not set; start `scripts/sandbox` and `. {ENV_FILE}`")
    return value.removeprefix("http://").rstrip("/")


def approve(user: str, wait: float) -> int:
    moto, graph = address("AWS_ENDPOINT_URL"), address("KIRO_ONBOARD_GRAPH_URL")
    okta = address("KIRO_ONBOARD_OKTA_ORG_URL")
    deadline = time.monotonic() + wait
    while True:
        done = [what for what, acted in [
            ("the Entra device code", local.approve_admin_device_codes(graph)),
            ("the AWS access portal", local.approve_device(moto, user)),
            ("the Entra sign-in page", local.approve_browser(graph, user)),
            ("the Okta sign-in page", local.approve_browser(okta, user)),
        ] if acted]
        if done:
            print(f"sandbox: signed in as {user} at {', '.join(done)}", file=sys.stderr)
            return 0
        if time.monotonic() > deadline:
            print(f"sandbox: no sign-in was waiting within {wait:.0f} s; run this once kiro-onboard "
                  "prints where to sign in", file=sys.stderr)
            return 1
        time.sleep(0.2)


def console(path: str) -> int:
    if path == "identity-center":
        local.identity_center_console(address("AWS_ENDPOINT_URL"))
        print("sandbox: Kiro profile enabled in us-east-1 with kiro_dev_group subscribed; Send email OTP on",
              file=sys.stderr)
    else:
        local.okta_console(address("KIRO_ONBOARD_OKTA_ORG_URL"), f"http://{address('KIRO_SCIM_ENDPOINT')}")
        print("sandbox: the Okta app \"Kiro SCIM\" provisions to the sandbox's SCIM server", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/sandbox", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command")
    approving = commands.add_parser("approve", help="sign in as USER where kiro-onboard waits")
    approving.add_argument("user")
    approving.add_argument("--wait", type=float, default=60, help="seconds to wait for a sign-in (default 60)")
    consoles = commands.add_parser("console", help="do the console steps kiro-onboard cannot")
    consoles.add_argument("path", choices=["identity-center", "okta"])
    parser.add_argument("--dir", default=WORK, help="where the env file and the config directory go "
                        "(default target/sandbox; removed and made anew)")
    args = parser.parse_args()
    if args.command == "approve":
        return approve(args.user, args.wait)
    if args.command == "console":
        return console(args.path)
    return serve(os.path.abspath(args.dir))


if __name__ == "__main__":
    sys.exit(main())
