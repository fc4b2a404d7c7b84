"""The test DNS server itself: protocols, failure modes, and the control channel used by client hook scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest

from tests.support.dnsserver import DNSTestServer, control

ROOT = Path(__file__).resolve().parents[3]


def ask(server_port: int, name: str, rdtype: str, *, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    if tcp:
        return dns.query.tcp(query, "127.0.0.1", port=server_port, timeout=2)
    return dns.query.udp(query, "127.0.0.1", port=server_port, timeout=2)


@pytest.mark.parametrize("tcp", [False, True])
def test_udp_and_tcp_answer_the_same(dns_server: DNSTestServer, tcp: bool) -> None:
    dns_server.add_txt("x.test", "hello")
    answer = ask(dns_server.port, "x.test", "TXT", tcp=tcp)
    assert [rrset.to_text() for rrset in answer.answer] == ['x.test. 0 IN TXT "hello"']


def test_zones_limit_the_default_addresses() -> None:
    with DNSTestServer(zones=["test"]) as server:
        assert ask(server.port, "a.test", "A").answer
        assert ask(server.port, "a.example", "A").rcode() == dns.rcode.NXDOMAIN
        soa = ask(server.port, "test", "SOA")
        assert soa.answer[0].rdtype == dns.rdatatype.SOA
        assert ask(server.port, "nothing.test", "TXT").authority  # NODATA carries the zone's SOA


def test_nxdomain_and_servfail(dns_server: DNSTestServer) -> None:
    dns_server.set_nxdomain("gone.test")
    dns_server.set_servfail("broken.test", times=1)
    assert ask(dns_server.port, "gone.test", "A").rcode() == dns.rcode.NXDOMAIN
    assert ask(dns_server.port, "broken.test", "A").rcode() == dns.rcode.SERVFAIL
    assert ask(dns_server.port, "broken.test", "A").rcode() == dns.rcode.NOERROR


def test_records_can_be_removed(dns_server: DNSTestServer) -> None:
    dns_server.add_txt("x.test", "one")
    dns_server.add_txt("x.test", "two")
    dns_server.remove_txt("x.test", "one")
    assert ask(dns_server.port, "x.test", "TXT").answer[0].to_text() == 'x.test. 0 IN TXT "two"'
    dns_server.remove_txt("x.test")
    assert ask(dns_server.port, "x.test", "TXT").answer == []


def test_control_channel() -> None:
    with DNSTestServer(control_port=0) as server:
        assert server.control_url is not None
        control(server.control_url, "/add-txt", host="_acme-challenge.h.test", value="v1")
        control(server.control_url, "/add-record", host="h.test", type="CAA", value='0 issue "ca.test"')
        assert ask(server.port, "_acme-challenge.h.test", "TXT").answer[0][0].strings == (b"v1",)
        assert ask(server.port, "h.test", "CAA").answer
        control(server.control_url, "/clear-txt", host="_acme-challenge.h.test")
        assert ask(server.port, "_acme-challenge.h.test", "TXT").answer == []


def test_standalone_process_with_cli_hooks() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.dnsserver", "--port", "0", "--control-port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        port = int(ready["dns"].rsplit(":", 1)[1])
        # As the certbot/lego hooks call it: "--" so a base64url value starting with "-" is not an option.
        subprocess.run(
            [sys.executable, "-m", "tests.support.dnsserver", "add-txt", "--control", ready["control"], "--",
             "k.test", "-v_starts-with-a-dash"],
            cwd=ROOT,
            check=True,
            timeout=30,
        )
        assert ask(port, "k.test", "TXT").answer[0][0].strings == (b"-v_starts-with-a-dash",)
    finally:
        process.terminate()
        process.communicate(timeout=10)
