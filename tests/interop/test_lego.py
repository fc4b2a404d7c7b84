"""lego (Debian package 4.9.1) against acmeca: http-01, tls-alpn-01, dns-01 via the exec provider, wildcard,
renew, revoke, and its IP-address-as-dns-identifier being refused.

lego is always given the test DNS server as its resolver (``--dns.resolvers``) so it never falls back to a
public resolver, and ``--dns.disable-cp`` because its authoritative-server check would query port 53.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from tests.interop.conftest import (
    BACKENDS,
    SQLITE_ONLY,
    CAPool,
    InteropCA,
    check_chain,
    client_env,
    require_binary,
    run_client,
)

pytestmark = pytest.mark.interop


class Lego:
    """One lego data directory (account + certificates) talking to one CA."""

    def __init__(self, ca: InteropCA, home: Path) -> None:
        self.ca = ca
        self.home = home
        self.binary = require_binary("lego")
        self.exec_script = home / "dns-hook.sh"

    def run(self, names: list[str], solver: list[str], *command: str, check: bool = True) -> str:
        args = [
            self.binary,
            "--server",
            self.ca.directory,
            "--email",
            "interop@example.test",
            "--accept-tos",
            "--path",
            str(self.home),
            "--key-type",
            "ec256",
            "--dns.resolvers",
            self.ca.dns.address,
            *[f"--domains={n}" for n in names],
            *solver,
            *command,
        ]
        result = run_client(args, client_env(self.ca, **self._exec_env()), check=check)
        return result.stdout + result.stderr

    def http(self) -> list[str]:
        return ["--http", "--http.port", f"127.0.0.1:{self.ca.http01_port}"]

    def tls(self) -> list[str]:
        return ["--tls", "--tls.port", f"127.0.0.1:{self.ca.tls_alpn01_port}"]

    def dns(self) -> list[str]:
        """The exec provider: lego runs ``script present|cleanup <fqdn> <value>``."""
        python = shlex.quote(sys.executable)
        control = shlex.quote(self.ca.dns.control_url or "")
        self.home.mkdir(parents=True, exist_ok=True)
        self.exec_script.write_text(
            "#!/bin/sh\nset -e\n"
            'case "$1" in present) action=add-txt ;; cleanup) action=clear-txt ;; *) exit 0 ;; esac\n'
            f'exec {python} -m acmeca dev "$action" --control {control} -- "$2" "$3"\n'
        )
        self.exec_script.chmod(0o755)
        return ["--dns", "exec", "--dns.disable-cp"]

    def _exec_env(self) -> dict[str, str]:
        return {
            "EXEC_PATH": str(self.exec_script),
            "EXEC_PROPAGATION_TIMEOUT": "20",
            "EXEC_POLLING_INTERVAL": "1",
            "EXEC_SEQUENCE_INTERVAL": "1",  # lego waits 60 s between two challenges of one name by default
        }

    def fullchain(self, name: str) -> bytes:
        return (self.home / "certificates" / f"{name.replace('*', '_')}.crt").read_bytes()


@pytest.fixture
def lego_for(ca_pool: CAPool, tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(backend: str) -> Lego:
        return Lego(ca_pool.get(backend), tmp_path / "lego")

    return make


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_http01(lego_for, backend: str) -> None:  # type: ignore[no-untyped-def]
    lego: Lego = lego_for(backend)
    names = [f"http.{backend}.lego.test", f"www.http.{backend}.lego.test"]
    lego.run(names, lego.http(), "run")
    check_chain(lego.fullchain(names[0]), lego.ca, dns_names=set(names))


@pytest.mark.parametrize("backend", BACKENDS)
def test_tls_alpn01_renew_revoke(lego_for, backend: str) -> None:  # type: ignore[no-untyped-def]
    lego: Lego = lego_for(backend)
    names = [f"tls.{backend}.lego.test"]
    lego.run(names, lego.tls(), "run")
    first = check_chain(lego.fullchain(names[0]), lego.ca, dns_names=set(names))

    lego.run(names, lego.tls(), "renew", "--days", "3650", "--no-random-sleep")
    renewed = check_chain(lego.fullchain(names[0]), lego.ca, dns_names=set(names))
    assert renewed.serial_number != first.serial_number

    lego.run(names, lego.tls(), "revoke", "--reason", "4", "--keep")
    again = lego.run(names, lego.tls(), "revoke", check=False)
    assert "alreadyRevoked" in again or "already revoked" in again.lower(), again


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_dns01_exec_provider(lego_for, backend: str) -> None:  # type: ignore[no-untyped-def]
    lego: Lego = lego_for(backend)
    name = f"dns.{backend}.lego.test"
    lego.run([name], lego.dns(), "run")
    check_chain(lego.fullchain(name), lego.ca, dns_names={name})
    assert (f"_acme-challenge.{name}.", "TXT") in lego.ca.dns.queries


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_wildcard_via_dns01(lego_for, backend: str) -> None:  # type: ignore[no-untyped-def]
    lego: Lego = lego_for(backend)
    base = f"wild.{backend}.lego.test"
    lego.run([f"*.{base}", base], lego.dns(), "run")
    check_chain(lego.fullchain(f"*.{base}"), lego.ca, dns_names={f"*.{base}", base})


@pytest.mark.parametrize("backend", SQLITE_ONLY)
def test_ip_address_sent_as_dns_identifier_is_refused(lego_for, backend: str) -> None:  # type: ignore[no-untyped-def]
    lego: Lego = lego_for(backend)
    output = lego.run(["127.0.0.1"], lego.http(), "run", check=False)
    assert "rejectedIdentifier" in output or "malformed" in output, output
    assert not (lego.home / "certificates" / "127.0.0.1.crt").exists()
