"""smallstep's real ``step`` CLI (0.19, ``make step-tools``) against a real ``acmeca serve`` initialised with
``acmeca init --acme --remote-management --admin-subject step``.

Every ``step beta ca admin|provisioner|acme eab`` command must exit 0 and do what it says: step decodes the
answers with protojson's strict decoder, so this is where a field linkedca 0.19 lacks, or an empty
Timestamp, shows. A key from ``step beta ca acme eab add`` then binds a lego account.

One CA (SQLite) and one STEPPATH for the module. step logs in once with the provisioner password
(``--admin-subject step --admin-provisioner admin --password-file``; each such login decrypts the provisioner
key); the other commands use the admin certificate ``step ca certificate`` got, as step's docs suggest.
Provisioners are edited both when created through the admin API and when ``init`` made them.
Without the step binary the module skips, or fails when ``CI=true`` (``tests/support/step_cli.py``).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from acmeca.cli.devdns.server import DNSServer
from tests.interop.conftest import InteropCA, check_chain, client_env, require_binary, run_client
from tests.support.ca_server import free_port, init_ca
from tests.support.databases import fresh_db_config
from tests.support.step_cli import StepCLI, bootstrapped, step_binary

pytestmark = pytest.mark.interop

SUBJECT = "step"


@dataclass
class StepAdmin:
    """step, bootstrapped against the CA, acting as its super admin ``step``."""

    cli: StepCLI
    ca: InteropCA
    admin_cert: Path
    admin_key: Path

    @property
    def steppath(self) -> Path:
        return self.cli.steppath

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = self.cli.run(*args, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"step {' '.join(args)} failed ({result.returncode}):\n{result.stdout}"
                                 f"{result.stderr}\n--- acmeca serve log ---\n{self.ca.server.log()[-3000:]}")
        return result

    def admin(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``step beta ca ...`` with the admin certificate."""
        return self.run("beta", "ca", *args, "--admin-cert", str(self.admin_cert), "--admin-key",
                        str(self.admin_key), check=check)

    def admins(self) -> list[list[str]]:
        """``step beta ca admin list``: tab-separated SUBJECT, PROVISIONER, TYPE rows."""
        lines = self.admin("admin", "list").stdout.strip().splitlines()
        assert lines[0].split() == ["SUBJECT", "PROVISIONER", "TYPE"]
        return [[cell for cell in line.split("\t") if cell] for line in lines[1:]]

    def provisioner(self, name: str) -> dict[str, Any]:
        return dict(json.loads(self.admin("provisioner", "get", name).stdout))


@pytest.fixture(scope="module")
def step(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StepAdmin]:
    step_binary()  # skips (fails in CI) before anything starts when step is not built
    directory = tmp_path_factory.mktemp("step-admin")
    db, drop = fresh_db_config("sqlite", directory, exclusive=True)
    with DNSServer() as dns:
        server = init_ca(directory / "ca", db, extra=("--remote-management", "--admin-subject", SUBJECT))
        http_port = free_port()
        validation = {"resolver": f"127.0.0.1:{dns.port}", "http01Port": http_port, "timeout": "10s"}
        server.edit_config(lambda document: document.update({"validation": validation}))
        server.start()
        try:
            cli = bootstrapped(directory / "steppath", server.url, server.fingerprint())
            admin = StepAdmin(cli, InteropCA(server, dns, http_port, free_port(), "sqlite"),
                              directory / "admin.crt", directory / "admin.key")
            admin.run("ca", "certificate", SUBJECT, str(admin.admin_cert), str(admin.admin_key), "--provisioner",
                      "admin", "--provisioner-password-file", str(server.password_file))
            yield admin
        finally:
            server.stop()
            drop()


def test_admin_list_add_update_remove(step: StepAdmin) -> None:
    login = step.run("beta", "ca", "admin", "list", "--admin-subject", SUBJECT, "--admin-provisioner", "admin",
                     "--password-file", str(step.ca.server.password_file))
    assert login.stdout.splitlines()[1].split("\t") == [SUBJECT, "admin (JWK)", "SUPER_ADMIN"]
    added = step.admin("admin", "add", "alice@example.test", "admin").stdout.splitlines()
    assert added[1].split("\t") == ["alice@example.test", "admin (JWK)", "ADMIN"]
    assert ["alice@example.test", "admin (JWK)", "ADMIN"] in step.admins()
    promoted = step.admin("admin", "update", "alice@example.test", "--super").stdout.splitlines()
    assert promoted[1].split("\t") == ["alice@example.test", "admin (JWK)", "SUPER_ADMIN"]
    demoted = step.admin("admin", "update", "alice@example.test", "--super=false").stdout.splitlines()
    assert demoted[1].split("\t") == ["alice@example.test", "admin (JWK)", "ADMIN"]
    step.admin("admin", "remove", "alice@example.test")
    assert step.admins() == [[SUBJECT, "admin (JWK)", "SUPER_ADMIN"]]


def test_jwk_provisioner_add_get_update_remove(step: StepAdmin) -> None:
    password = str(step.ca.server.password_file)
    created = json.loads(step.admin("provisioner", "add", "team-jwk", "--type", "JWK", "--create",
                                    "--password-file", password, "--x509-max-dur", "48h").stdout)
    assert (created["type"], created["name"]) == ("JWK", "team-jwk")
    fetched = step.provisioner("team-jwk")
    assert fetched["id"] == created["id"]
    assert fetched["details"]["JWK"]["encryptedPrivateKey"]
    assert fetched["claims"]["x509"]["durations"] == {"max": "48h"}
    step.admin("provisioner", "update", "team-jwk", "--x509-default-dur", "2h", "--disable-renewal")
    updated = step.provisioner("team-jwk")
    assert updated["claims"]["x509"]["durations"] == {"default": "2h", "max": "48h"}
    assert updated["claims"]["disableRenewal"] is True
    step.run("ca", "certificate", "svc.example.test", str(step.steppath / "svc.crt"), str(step.steppath / "svc.key"),
             "--provisioner", "team-jwk", "--provisioner-password-file", password)  # the new key signs tokens
    step.admin("provisioner", "remove", "team-jwk")
    gone = step.admin("provisioner", "get", "team-jwk", check=False)
    assert gone.returncode != 0
    assert "not found" in gone.stderr


def test_provisioners_from_init_are_read(step: StepAdmin) -> None:
    assert step.provisioner("admin")["details"]["JWK"]["publicKey"]
    assert step.provisioner("acme")["type"] == "ACME"


def test_update_of_inits_own_acme_provisioner(step: StepAdmin) -> None:
    """init --remote-management stores its provisioners in the database, so they are editable remotely."""
    step.admin("provisioner", "update", "acme", "--force-cn")
    assert step.provisioner("acme")["details"]["ACME"]["forceCn"] is True
    step.admin("provisioner", "update", "acme", "--force-cn=false")
    assert "forceCn" not in step.provisioner("acme")["details"]["ACME"]
    step.admin("provisioner", "update", "acme", "--require-eab")  # how a step user turns on EAB
    assert step.provisioner("acme")["details"]["ACME"]["requireEab"] is True
    step.admin("provisioner", "update", "acme", "--require-eab=false")
    assert "requireEab" not in step.provisioner("acme")["details"]["ACME"]


def _eab_rows(out: str) -> list[dict[str, str]]:
    """``step beta ca acme eab list``: step's "%-36s%-28s%-16s%-30s%-30s%-40s%s" columns."""
    lines = out.rstrip("\n").splitlines()
    assert lines[0].split("  ")[0] == "Key ID"
    bounds = (0, 36, 64, 80, 110, 140, 180, None)
    names = ("id", "provisioner", "key", "created", "bound", "account", "reference")
    columns = list(zip(names, bounds[:-1], bounds[1:], strict=True))
    return [{n: line[a:b].strip() for n, a, b in columns} for line in lines[1:]]


def test_acme_provisioner_with_eab_keys_binds_lego(step: StepAdmin, tmp_path: Path) -> None:
    created = json.loads(step.admin("provisioner", "add", "team-acme", "--type", "ACME", "--require-eab").stdout)
    assert created["details"]["ACME"]["requireEab"] is True
    step.admin("provisioner", "update", "team-acme", "--force-cn")
    assert step.provisioner("team-acme")["details"]["ACME"] == {"forceCn": True, "requireEab": True}

    header, row = step.admin("acme", "eab", "add", "team-acme", "lego").stdout.rstrip("\n").splitlines()
    assert header.split() == ["Key", "ID", "Provisioner", "Key", "(base64,", "raw", "url", "encoded)", "Reference"]
    kid, provisioner, hmac_key, reference = row.split()
    assert (provisioner, reference) == ("team-acme", "lego")
    assert re.fullmatch(r"[A-Za-z0-9]{32}", kid)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", hmac_key)  # 32 bytes, raw url base64
    spare = step.admin("acme", "eab", "add", "team-acme").stdout.splitlines()[1].split()[0]

    listed = {r["id"]: r for r in _eab_rows(step.admin("acme", "eab", "list", "team-acme").stdout)}
    assert set(listed) == {kid, spare}
    assert listed[kid]["key"] == "*****"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+00:00", listed[kid]["created"])
    assert not listed[kid]["created"].startswith("1970")
    assert (listed[kid]["bound"], listed[kid]["account"], listed[kid]["reference"]) == ("", "", "lego")

    name = "lego.step-admin.test"
    home = tmp_path / "lego"
    run_client([
        require_binary("lego"), "--server", f"{step.ca.server.url}/acme/team-acme/directory", "--email",
        "eab@example.test", "--accept-tos", "--path", str(home), "--key-type", "ec256", "--dns.resolvers",
        f"127.0.0.1:{step.ca.dns.port}", "--eab", "--kid", kid, "--hmac", hmac_key, f"--domains={name}", "--http",
        "--http.port", f"127.0.0.1:{step.ca.http01_port}", "run",
    ], client_env(step.ca))
    check_chain((home / "certificates" / f"{name}.crt").read_bytes(), step.ca, dns_names={name})

    (bound,) = _eab_rows(step.admin("acme", "eab", "list", "team-acme", "lego").stdout)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+00:00", bound["bound"])
    assert bound["account"]
    removed = step.admin("acme", "eab", "remove", "team-acme", spare)
    assert removed.stdout.strip() == "Key was deleted successfully!"
    assert [r["id"] for r in _eab_rows(step.admin("acme", "eab", "list", "team-acme").stdout)] == [kid]
    step.admin("provisioner", "remove", "team-acme")
