"""certbot (PyPI) against acmeca: http-01 standalone, dns-01 through hooks, wildcard, IP address, renew, revoke."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest
from cryptography import x509

from tests.interop.conftest import (
    BACKENDS,
    SQLITE_ONLY,
    CAPool,
    InteropCA,
    check_chain,
    client_env,
    ipv6_loopback,
    require_binary,
    run_client,
)

pytestmark = pytest.mark.interop


class Certbot:
    """One certbot installation (config, work and log directories) talking to one CA."""

    def __init__(self, ca: InteropCA, home: Path) -> None:
        self.ca = ca
        self.home = home
        self.binary = require_binary("certbot")

    def run(self, *args: str, check: bool = True) -> str:
        command = [
            self.binary,
            *args,
            "--server",
            self.ca.directory,
            "--config-dir",
            str(self.home / "config"),
            "--work-dir",
            str(self.home / "work"),
            "--logs-dir",
            str(self.home / "logs"),
            "--non-interactive",
            "--agree-tos",
            "--register-unsafely-without-email",
            "--no-random-sleep-on-renew",
            "--key-type",
            "ecdsa",
        ]
        result = run_client(command, client_env(self.ca), check=check)
        return result.stdout + result.stderr

    def standalone(self, cert_name: str, *names: str, ips: tuple[str, ...] = (), listen: str = "127.0.0.1") -> str:
        flags = [f"-d={n}" for n in names] + [f"--ip-address={a}" for a in ips]
        return self.run(
            "certonly",
            "--standalone",
            "--http-01-port",
            str(self.ca.http01_port),
            "--http-01-address",
            listen,
            "--cert-name",
            cert_name,
            *flags,
        )

    def manual_dns(self, cert_name: str, *names: str, record: str = "_acme-challenge.$CERTBOT_DOMAIN") -> str:
        """dns-01 through certbot's manual hooks, which write ``record`` into the test DNS server."""
        control = shlex.quote(self.ca.dns.control_url or "")
        python = shlex.quote(sys.executable)
        hook = f"{python} -m acmeca dev {{}} --control {control}"
        # "--": a base64url TXT value may start with "-" and must not be read as an option.
        auth = hook.format("add-txt") + f' -- "{record}" "$CERTBOT_VALIDATION"'
        cleanup = hook.format("clear-txt") + f' -- "{record}" "$CERTBOT_VALIDATION"'
        flags = [f"-d={n}" for n in names]
        return self.run(
            "certonly",
            "--manual",
            "--preferred-challenges",
            "dns",
            "--manual-auth-hook",
            auth,
            "--manual-cleanup-hook",
            cleanup,
            "--cert-name",
            cert_name,
            *flags,
        )

    def fullchain(self, cert_name: str) -> bytes:
        return (self.home / "config" / "live" / cert_name / "fullchain.pem").read_bytes()

    def leaf(self, cert_name: str) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.fullchain(cert_name))


@pytest.fixture
def certbot_for(ca_pool: CAPool, tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(backend: str) -> Certbot:
        return Certbot(ca_pool.get(backend), tmp_path / "certbot")

    return make


@pytest.mark.parametrize("backend", BACKENDS)
def test_http01_standalone_renew_revoke(certbot_for, backend: str) -> None:  # type: ignore[no-untyped-def]
    certbot: Certbot = certbot_for(backend)
    names = {f"www.http.{backend}.certbot.test", f"http.{backend}.certbot.test"}
    certbot.standalone("http", *sorted(names))
    first = check_chain(certbot.fullchain("http"), certbot.ca, dns_names=names)

    certbot.run("renew", "--cert-name", "http", "--force-renewal")
    renewed = check_chain(certbot.fullchain("http"), certbot.ca, dns_names=names)
    assert renewed.serial_number != first.serial_number

    certbot.run("revoke", "--cert-name", "http", "--reason", "superseded", "--no-delete-after-revoke")
    again = certbot.run("revoke", "--cert-name", "http", "--no-delete-after-revoke", check=False)
    assert "alreadyRevoked" in again or "already revoked" in again.lower(), again


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_dns01_manual_hooks(certbot_for, backend: str) -> None:  # type: ignore[no-untyped-def]
    certbot: Certbot = certbot_for(backend)
    name = f"dns.{backend}.certbot.test"
    certbot.manual_dns("dns", name)
    check_chain(certbot.fullchain("dns"), certbot.ca, dns_names={name})
    assert (f"_acme-challenge.{name}.", "TXT") in certbot.ca.dns.queries  # the CA looked, through our DNS


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_dns01_through_a_cname_delegation(certbot_for, backend: str) -> None:  # type: ignore[no-untyped-def]
    """``_acme-challenge`` delegated by CNAME to a zone the client may write (smallstep/certificates#2311)."""
    certbot: Certbot = certbot_for(backend)
    name = f"delegated.{backend}.certbot.test"
    certbot.ca.dns.add_cname(f"_acme-challenge.{name}", f"{name}.acme-zone.test")
    try:
        certbot.manual_dns("delegated", name, record="$CERTBOT_DOMAIN.acme-zone.test")
    finally:
        certbot.ca.dns.remove_record(f"_acme-challenge.{name}", "CNAME")
    check_chain(certbot.fullchain("delegated"), certbot.ca, dns_names={name})


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_wildcard_via_dns01(certbot_for, backend: str) -> None:  # type: ignore[no-untyped-def]
    certbot: Certbot = certbot_for(backend)
    base = f"wild.{backend}.certbot.test"
    certbot.manual_dns("wild", f"*.{base}", base)
    check_chain(certbot.fullchain("wild"), certbot.ca, dns_names={f"*.{base}", base})


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_ip_address_http01(certbot_for, backend: str) -> None:  # type: ignore[no-untyped-def]
    certbot: Certbot = certbot_for(backend)
    certbot.standalone("ip", ips=("127.0.0.1",))
    leaf = check_chain(certbot.fullchain("ip"), certbot.ca, ips={"127.0.0.1"})
    assert not leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)  # never an IP in the CN


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback on this machine")
@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_ipv6_address_http01(certbot_for, backend: str) -> None:  # type: ignore[no-untyped-def]
    certbot: Certbot = certbot_for(backend)
    certbot.standalone("ip6", ips=("::1",), listen="::1")
    check_chain(certbot.fullchain("ip6"), certbot.ca, ips={"::1"})


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_failed_http01_is_reported(certbot_for, backend: str) -> None:  # type: ignore[no-untyped-def]
    certbot: Certbot = certbot_for(backend)
    name = f"gone.{backend}.certbot.test"
    certbot.ca.dns.set_nxdomain(name)
    try:
        output = certbot.run(
            "certonly",
            "--standalone",
            "--http-01-port",
            str(certbot.ca.http01_port),
            "--http-01-address",
            "127.0.0.1",
            "--cert-name",
            "gone",
            f"-d={name}",
            check=False,
        )
    finally:
        certbot.ca.dns.clear_failure(name)
    assert "urn:ietf:params:acme:error:dns" in output or "DNS problem" in output or "NXDOMAIN" in output, output
    assert not (certbot.home / "config" / "live" / "gone").exists()
