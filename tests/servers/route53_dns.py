#!/usr/bin/env python3
"""A real DNS server (UDP and TCP) that serves the public hosted zones a moto server holds, the way
Route 53's name servers serve a real account's zones. The README demo uses it so that what
`kiro-onboard apply` writes to (local) Route 53 really resolves, and `dns verify` checks it.

    .venv/bin/python tests/servers/route53_dns.py --moto http://127.0.0.1:PORT --host 127.0.0.1 --port 0

Prints `READY <port>` once both sockets listen (nothing else goes to stdout). Every query reads
the zones from moto again, so records appear as soon as apply writes them. Answers are
authoritative (AA): the records of the longest matching public zone, NXDOMAIN or no data with the
zone's SOA otherwise. The zones' name servers (moto names them ns-*.awsdns-*.*) resolve to this
server's address, so it stands in for both the public resolver (`resolvers: [127.0.0.1:PORT]`)
and the authoritative servers (`KIRO_ONBOARD_DNS_PORT=PORT`). Private zones are never served, as
in public DNS. Queries outside the zones are REFUSED: nothing here ever asks the internet.

The same server in Rust, for the integration tests, is `MotoDns` in tests/integration/harness/dns.rs.
SIGTERM/SIGINT or, with --exit-on-stdin-eof, the parent going away: clean exit 0.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys

import boto3
from dnslib import AAAA, CNAME, NS, QTYPE, RCODE, RR, SOA, TXT, A
from dnslib.server import BaseResolver, DNSServer

from emulators.base.serve import stop_on_signals, stop_when_stdin_closes  # tests/servers/emulators/base/serve.py

QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def txt_strings(value: str) -> list[bytes]:
    """Route 53 keeps a TXT value as one or more quoted strings: `"a" "b"`."""
    strings = [s.replace('\\"', '"').replace("\\\\", "\\") for s in QUOTED.findall(value)]
    return [s.encode() for s in strings] if strings else [value.encode()]


class Route53Zones:
    def __init__(self, moto_url: str, address: str) -> None:
        session = boto3.session.Session(aws_access_key_id="dns", aws_secret_access_key="dns", region_name="us-east-1")
        self.route53 = session.client("route53", endpoint_url=moto_url)
        self.address = address

    def snapshot(self) -> tuple[dict[str, dict[str, list[tuple[int, object]]]], set[str]]:
        """zone origin → {owner name → [(ttl, rdata record)]}, and the zones' name-server hosts."""
        zones: dict[str, dict[str, list]] = {}
        name_servers: set[str] = set()
        for page in self.route53.get_paginator("list_hosted_zones").paginate():
            for zone in page["HostedZones"]:
                if zone.get("Config", {}).get("PrivateZone"):
                    continue
                origin = zone["Name"].lower().rstrip(".") + "."
                records: dict[str, list] = {}
                sets = self.route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone["Id"])
                for record_set in (s for p in sets for s in p["ResourceRecordSets"]):
                    kind, ttl = record_set["Type"], int(record_set.get("TTL", 300))
                    owner = record_set["Name"].lower().rstrip(".") + "."
                    for value in (r["Value"] for r in record_set.get("ResourceRecords", [])):
                        rdata = self.rdata(kind, value, name_servers)
                        if rdata is not None:
                            records.setdefault(owner, []).append((ttl, kind, rdata))
                zones[origin] = records
        return zones, name_servers

    @staticmethod
    def rdata(kind: str, value: str, name_servers: set[str]):
        if kind == "TXT":
            return TXT(txt_strings(value))
        if kind == "NS":
            name_servers.add(value.lower().rstrip(".") + ".")
            return NS(value)
        if kind == "A":
            return A(value)
        if kind == "AAAA":
            return AAAA(value)
        if kind == "CNAME":
            return CNAME(value)
        return None  # SOA: moto renders it oddly; one of our own stands in below


class Resolver(BaseResolver):
    def __init__(self, zones: Route53Zones) -> None:
        self.zones = zones

    def resolve(self, request, handler):
        reply = request.reply()
        qname = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]
        try:
            zones, name_servers = self.zones.snapshot()
        except Exception as e:  # moto went away: say so the way DNS does
            print(f"route53_dns: cannot read moto: {e}", file=sys.stderr, flush=True)
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        origin = max((z for z in zones if qname == z or qname.endswith("." + z)), key=len, default=None)
        if origin is None:
            if qname in name_servers:
                reply.header.aa = 1
                if qtype in ("A", "ANY"):
                    reply.add_answer(RR(qname, QTYPE.A, ttl=300, rdata=A(self.zones.address)))
                return reply
            reply.header.rcode = RCODE.REFUSED
            return reply
        reply.header.aa = 1
        records = zones[origin]
        matching = [(ttl, kind, rdata) for ttl, kind, rdata in records.get(qname, []) if qtype in (kind, "ANY")]
        for ttl, kind, rdata in matching:
            reply.add_answer(RR(qname, getattr(QTYPE, kind), ttl=ttl, rdata=rdata))
        if not matching:
            soa = SOA("ns.route53-dns.test.", f"hostmaster.{origin}", (1, 3600, 600, 86400, 60))
            reply.add_auth(RR(origin, QTYPE.SOA, ttl=60, rdata=soa))
            if qname not in records and not any(name.endswith("." + qname) for name in records):
                reply.header.rcode = RCODE.NXDOMAIN
        return reply


def free_udp_and_tcp_port(host: str) -> int:
    """A port free for both UDP and TCP (DNS uses the same number for both)."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                    return port
                except OSError:
                    continue
    raise SystemExit("route53_dns: no free port")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moto", required=True, help="the moto server's URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="also exit when stdin closes")
    args = parser.parse_args(argv)

    stop = stop_on_signals()

    port = args.port or free_udp_and_tcp_port(args.host)
    resolver = Resolver(Route53Zones(args.moto, args.host))

    class Quiet:  # dnslib logs every query to stdout by default; stdout carries only READY
        def __getattr__(self, _name):
            return lambda *a, **k: None

    servers = [DNSServer(resolver, port=port, address=args.host, tcp=tcp, logger=Quiet()) for tcp in (False, True)]
    for server in servers:
        server.start_thread()

    if args.exit_on_stdin_eof:
        stop_when_stdin_closes(stop)

    print(f"READY {port}", flush=True)
    stop.wait()
    for server in servers:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
