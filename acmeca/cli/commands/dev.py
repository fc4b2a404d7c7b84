"""``acmeca dev``: tools for trying the CA on one machine; today a DNS server and its dns-01 hook commands."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import threading

from acmeca.cli.devdns.control import ControlFailed, control
from acmeca.cli.devdns.server import DNSServer
from acmeca.cli.errors import CLIError
from acmeca.cli.help import Example, add_command, add_group
from acmeca.domain.addresses import parse_resolver

DEFAULT_LISTEN = "127.0.0.1:5353"


def socket_address(text: str, flag: str) -> tuple[str, int]:
    """``address[:port]`` as ``validation.resolver`` takes it, plus port 0 (a free port, printed at start)."""
    free = text.endswith(":0")
    try:
        host, port = parse_resolver(text[:-2] if free else text)
    except ValueError:
        raise CLIError(f"{flag} {text!r} must be an IP address and port, e.g. {DEFAULT_LISTEN}") from None
    return host, 0 if free else port


def _pair(text: str, flag: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value:
        raise CLIError(f"{flag} {text!r} must be NAME=VALUE, e.g. {flag} 'app.demo.test=127.0.0.1'")
    return name.strip(), value


def _add_records(server: DNSServer, args: argparse.Namespace) -> list[str]:
    """The --a and --txt records, as lines to print; a bad address or name is one error line."""
    added: list[str] = []
    try:
        for name, value in (_pair(text, "--a") for text in args.a or []):
            address = ipaddress.ip_address(value)
            rdtype = "A" if address.version == 4 else "AAAA"
            server.add_record(name, rdtype, str(address))
            added.append(f"  {name} {rdtype} {address}")
        for name, value in (_pair(text, "--txt") for text in args.txt or []):
            server.add_txt(name, value)
            added.append(f"  {name} TXT {value}")
    except ValueError as exc:
        raise CLIError(f"cannot add the record: {exc}") from None
    return added


def dns_server(args: argparse.Namespace) -> int:
    host, port = socket_address(args.listen, "--listen")
    control_host, control_port = socket_address(args.control, "--control") if args.control else (None, None)
    server = DNSServer(host, port, zones=(), default_ipv4=None, default_ipv6=None,
                       control_port=control_port, control_host=control_host)
    records = _add_records(server, args)
    try:
        server.start()
    except OSError as exc:
        raise CLIError(f"cannot listen on {args.listen}: {exc.strerror or exc}") from None
    print(f"DNS on {server.address} (UDP and TCP), answering for:", *(records or ["  nothing yet"]), sep="\n")
    if server.control_url:
        print(f"control channel on {server.control_url}")
    print("Stop with Ctrl-C.", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    server.stop()
    return 0


def txt_record(args: argparse.Namespace) -> int:
    path = "/add-txt" if args.dev_command == "add-txt" else "/clear-txt"
    body = {"host": args.name} | ({"value": args.value} if args.value is not None else {})
    try:
        control(args.control, path, **body)
    except ControlFailed as exc:
        raise CLIError(str(exc)) from None
    return 0


DNS_DESCRIPTION = f"""\
acmeca dev dns runs a small DNS server (UDP and TCP on one port) that answers A, AAAA and TXT queries for the
records given on the command line, so that a CA on this machine can validate DNS names without a real zone:
point the CA's validation.resolver at it ('make run DEMO_RESOLVER=127.0.0.1:5353'). It is for demos and
tests, not for production.

--a NAME=IP adds an A record, or an AAAA record when IP is an IPv6 address; --txt NAME=VALUE adds a TXT
record. Both can be repeated. A name starting with '*.' answers for every name below it that has no records
of its own. A name that no record or wildcard covers gets NXDOMAIN; nothing is forwarded anywhere.

--control adds an HTTP control channel on that address, through which 'acmeca dev add-txt' and
'acmeca dev clear-txt' change TXT records while the server runs (for dns-01 hooks). It has no
authentication: keep it on loopback.

It runs in the foreground until SIGTERM or SIGINT. --listen defaults to {DEFAULT_LISTEN}; port 0 picks a
free port, printed at start."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = add_group(
        commands, "dev", summary="tools for trying the CA on one machine", dest="dev_command",
        description="""\
acmeca dev groups tools for demos and tests on one machine: a DNS server that the CA's validation can be
pointed at, and the commands that change its TXT records from an ACME client's dns-01 hooks.""",
        examples=[
            Example("Serve app.demo.test and every name under demo.test on this machine:",
                    "acmeca dev dns --listen 127.0.0.1:5353 --a 'app.demo.test=127.0.0.1' "
                    "--a '*.demo.test=127.0.0.1'"),
            Example("Add a dns-01 TXT record to it from a hook (the server runs with --control):",
                    "acmeca dev add-txt --control http://127.0.0.1:5380 -- _acme-challenge.app.demo.test VALUE"),
        ],
    )
    parser = add_command(
        sub, "dns", summary="run a DNS server for demos and tests", description=DNS_DESCRIPTION,
        examples=[
            Example("Make app.demo.test resolve to this machine, for the demo CA:",
                    "acmeca dev dns --listen 127.0.0.1:5353 --a 'app.demo.test=127.0.0.1'"),
            Example("Every name under demo.test, over IPv4 and IPv6:",
                    "acmeca dev dns --a '*.demo.test=127.0.0.1' --a '*.demo.test=::1'"),
            Example("With a control channel for dns-01 hooks:",
                    "acmeca dev dns --listen 127.0.0.1:5353 --control 127.0.0.1:5380"),
        ],
    )
    parser.add_argument("--listen", metavar="address", default=DEFAULT_LISTEN,
                        help=f"The IP address and port to answer on, UDP and TCP. Defaults to {DEFAULT_LISTEN}.")
    parser.add_argument("--a", metavar="NAME=IP", action="append",
                        help="A record (AAAA for an IPv6 address); '*.' names cover every name below. Repeatable.")
    parser.add_argument("--txt", metavar="NAME=VALUE", action="append", help="A TXT record. Repeatable.")
    parser.add_argument("--control", metavar="address",
                        help="The IP address and port of an HTTP control channel for add-txt and clear-txt.")
    parser.set_defaults(handler=dns_server)

    for name, summary, what in (
        ("add-txt", "add a TXT record to a running 'acmeca dev dns'", "adds"),
        ("clear-txt", "remove TXT records from a running 'acmeca dev dns'", "removes"),
    ):
        parser = add_command(
            sub, name, summary=summary,
            description=f"""\
acmeca dev {name} {what} a TXT record (without VALUE, clear-txt removes every TXT record of NAME) through
the control channel of a running 'acmeca dev dns --control'. It is what an ACME client's dns-01 hook runs.
Put '--' before NAME so that a value starting with '-' is not read as an option.""",
            examples=[
                Example("From a certbot manual hook:",
                        f"acmeca dev {name} --control http://127.0.0.1:5380 -- "
                        "_acme-challenge.app.demo.test \"$CERTBOT_VALIDATION\""),
                Example("From a lego exec provider script, which lego runs with the record name and value:",
                        f"acmeca dev {name} --control http://127.0.0.1:5380 -- \"$2\" \"$3\""),
            ],
        )
        parser.add_argument("--control", metavar="URL", required=True,
                            help="The control channel's URL, as 'acmeca dev dns' printed it.")
        parser.add_argument("name", metavar="NAME", help="The record's name, e.g. _acme-challenge.app.demo.test.")
        parser.add_argument("value", metavar="VALUE", nargs="?" if name == "clear-txt" else None,
                            help="The TXT value.")
        parser.set_defaults(handler=txt_record)
