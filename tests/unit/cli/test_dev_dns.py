"""``acmeca dev dns``: the server's protocols, records, wildcards and failure modes, its control channel, and
the command as the README and the dns-01 hooks run it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from acmeca.cli.devdns.control import ControlFailed, control
from acmeca.cli.devdns.server import DNSServer
from acmeca.cli.main import main

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def dns_server() -> Iterator[DNSServer]:
    with DNSServer() as server:
        yield server


def ask(server_port: int, name: str, rdtype: str, *, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    if tcp:
        return dns.query.tcp(query, "127.0.0.1", port=server_port, timeout=2)
    return dns.query.udp(query, "127.0.0.1", port=server_port, timeout=2)


@pytest.mark.parametrize("tcp", [False, True])
def test_udp_and_tcp_answer_the_same(dns_server: DNSServer, tcp: bool) -> None:
    dns_server.add_txt("x.test", "hello")
    answer = ask(dns_server.port, "x.test", "TXT", tcp=tcp)
    assert [rrset.to_text() for rrset in answer.answer] == ['x.test. 0 IN TXT "hello"']


def test_zones_limit_the_default_addresses() -> None:
    with DNSServer(zones=["test"]) as server:
        assert ask(server.port, "a.test", "A").answer
        assert ask(server.port, "a.example", "A").rcode() == dns.rcode.NXDOMAIN
        soa = ask(server.port, "test", "SOA")
        assert soa.answer[0].rdtype == dns.rdatatype.SOA
        assert ask(server.port, "nothing.test", "TXT").authority  # NODATA carries the zone's SOA


def test_wildcards_answer_below_their_name_unless_a_name_has_records() -> None:
    with DNSServer(zones=(), default_ipv4=None, default_ipv6=None) as server:
        server.add_a("*.demo.test", "127.0.0.2")
        server.add_a("own.demo.test", "127.0.0.3")
        server.add_txt("txt.demo.test", "only-txt")
        assert ask(server.port, "app.demo.test", "A").answer[0].to_text() == "app.demo.test. 0 IN A 127.0.0.2"
        assert ask(server.port, "deep.app.demo.test", "A").answer[0][0].address == "127.0.0.2"
        assert ask(server.port, "own.demo.test", "A").answer[0][0].address == "127.0.0.3"
        assert ask(server.port, "txt.demo.test", "A").answer == []  # has records of its own: no wildcard
        assert ask(server.port, "demo.test", "A").rcode() == dns.rcode.NXDOMAIN  # not below the wildcard
        assert ask(server.port, "other.test", "A").rcode() == dns.rcode.NXDOMAIN


def test_nxdomain_and_servfail(dns_server: DNSServer) -> None:
    dns_server.set_nxdomain("gone.test")
    dns_server.set_servfail("broken.test", times=1)
    assert ask(dns_server.port, "gone.test", "A").rcode() == dns.rcode.NXDOMAIN
    assert ask(dns_server.port, "broken.test", "A").rcode() == dns.rcode.SERVFAIL
    assert ask(dns_server.port, "broken.test", "A").rcode() == dns.rcode.NOERROR


def test_records_can_be_removed(dns_server: DNSServer) -> None:
    dns_server.add_txt("x.test", "one")
    dns_server.add_txt("x.test", "two")
    dns_server.remove_txt("x.test", "one")
    assert ask(dns_server.port, "x.test", "TXT").answer[0].to_text() == 'x.test. 0 IN TXT "two"'
    dns_server.remove_txt("x.test")
    assert ask(dns_server.port, "x.test", "TXT").answer == []


def test_control_channel() -> None:
    with DNSServer(control_port=0) as server:
        assert server.control_url is not None
        control(server.control_url, "/add-txt", host="_acme-challenge.h.test", value="v1")
        control(server.control_url, "/add-record", host="h.test", type="CAA", value='0 issue "ca.test"')
        assert ask(server.port, "_acme-challenge.h.test", "TXT").answer[0][0].strings == (b"v1",)
        assert ask(server.port, "h.test", "CAA").answer
        control(server.control_url, "/clear-txt", host="_acme-challenge.h.test")
        assert ask(server.port, "_acme-challenge.h.test", "TXT").answer == []
        with pytest.raises(ControlFailed, match="answered 404"):
            control(server.control_url, "/no-such-action")


def acmeca(*args: str) -> list[str]:
    return [sys.executable, "-m", "acmeca", *args]


def test_the_command_serves_its_records_and_takes_hook_changes() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        acmeca("dev", "dns", "--listen", "127.0.0.1:0", "--a", "app.demo.test=127.0.0.1",
               "--a", "*.demo.test=::1", "--txt", "t.demo.test=hello", "--control", "127.0.0.1:0"),
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        printed = "".join(process.stdout.readline() for _ in range(6))
        port = int(re.search(r"DNS on 127\.0\.0\.1:(\d+) \(UDP and TCP\)", printed).group(1))  # type: ignore[union-attr]
        url = re.search(r"control channel on (http://127\.0\.0\.1:\d+)", printed).group(1)  # type: ignore[union-attr]
        assert "  app.demo.test A 127.0.0.1\n  *.demo.test AAAA ::1\n  t.demo.test TXT hello\n" in printed
        assert ask(port, "app.demo.test", "A").answer[0][0].address == "127.0.0.1"
        assert ask(port, "x.demo.test", "AAAA", tcp=True).answer[0][0].address == "::1"
        assert ask(port, "elsewhere.test", "A").rcode() == dns.rcode.NXDOMAIN
        # As the certbot/lego hooks call it: "--" so a base64url value starting with "-" is not an option.
        subprocess.run(acmeca("dev", "add-txt", "--control", url, "--", "_acme-challenge.k.test", "-v_dash"),
                       cwd=ROOT, env=env, check=True, timeout=30)
        assert ask(port, "_acme-challenge.k.test", "TXT").answer[0][0].strings == (b"-v_dash",)
        subprocess.run(acmeca("dev", "clear-txt", "--control", url, "--", "_acme-challenge.k.test"),
                       cwd=ROOT, env=env, check=True, timeout=30)
        assert ask(port, "_acme-challenge.k.test", "TXT").rcode() == dns.rcode.NXDOMAIN
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0


@pytest.mark.parametrize(("args", "message"), [
    (["dev", "dns", "--listen", "localhost:5353"], "error: --listen 'localhost:5353' must be an IP address and port"),
    (["dev", "dns", "--a", "app.demo.test"], "error: --a 'app.demo.test' must be NAME=VALUE"),
    (["dev", "dns", "--listen", "127.0.0.1:0", "--a", "app.demo.test=nope"], "error: cannot add the record: "),
    (["dev", "add-txt", "--control", "http://127.0.0.1:9", "--", "a.test", "v"],
     "error: cannot reach the control channel http://127.0.0.1:9"),
])
def test_mistakes_are_one_line(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert err.count("\n") == 1
