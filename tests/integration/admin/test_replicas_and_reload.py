"""Changes reach every replica without a restart; without remote management the CLI edits ca.json and SIGHUP
reloads it."""

from __future__ import annotations

import json
import shutil
import signal
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.admin.conftest import AdminCA, start_admin_ca
from tests.support.ca_server import CAServer, free_port, init_ca
from tests.support.databases import fresh_db_config


def provisioner_names(server: CAServer) -> set[str]:
    context = ssl.create_default_context(cafile=str(server.root_path))
    with urllib.request.urlopen(f"{server.url}/provisioners", context=context, timeout=5) as response:
        return {p["name"] for p in json.loads(response.read())["provisioners"]}


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def replica_of(server: CAServer, home: Path) -> CAServer:
    """A second process on the same database and keys, on its own port."""
    shutil.copytree(server.home / "config", home / "config")
    shutil.copy(server.password_file, home / "password")
    (home / "certs").mkdir()
    shutil.copy(server.root_path, home / "certs" / "root_ca.crt")
    replica = CAServer(home=home, port=free_port(), db=server.db)
    replica.edit_config(lambda document: document.update({"address": f"127.0.0.1:{replica.port}"}))
    return replica


@pytest.mark.postgres
def test_two_replicas_on_one_postgresql_see_each_others_changes(tmp_path: Path) -> None:
    db, drop = fresh_db_config("postgresql", tmp_path)
    first = start_admin_ca(tmp_path / "a", db)
    second = replica_of(first, tmp_path / "b")
    try:
        second.start()
        admin = AdminCA(first)
        admin.admin_cli("provisioner", "add", "shared-acme", "--type", "ACME")
        assert eventually(lambda: "shared-acme" in provisioner_names(second))
        AdminCA(second).admin_cli("provisioner", "remove", "shared-acme")
        assert eventually(lambda: "shared-acme" not in provisioner_names(first))
        admin.admin_cli("policy", "authority", "x509", "deny", "dns", "blocked.test")

        def refused_by_second() -> bool:
            code, out = AdminCA(second).cli(
                "certificate", "blocked.test", str(tmp_path / "b.crt"), str(tmp_path / "b.key"), "--force",
                "--ca-url", second.url, "--provisioner", "admin",
                "--provisioner-password-file", str(second.password_file), check=False)
            return code == 1 and "not allowed" in out

        assert eventually(refused_by_second)
    finally:
        second.stop()
        first.stop()
        drop()


def test_provisioner_cli_edits_ca_json_and_sighup_reloads(tmp_path: Path) -> None:
    db, drop = fresh_db_config("sqlite", tmp_path)
    server = init_ca(tmp_path / "ca", db)
    server.start()
    try:
        result = server.cli("provisioner", "add", "extra", "--type", "ACME", "--challenge", "dns-01")
        assert result.stdout.splitlines() == [
            f"✔ CA Configuration: {server.config_path}",
            "Success! Your `step-ca` config has been updated. To pick up the new configuration SIGHUP "
            "(kill -1 <pid>) or restart the step-ca process.",
        ]
        added = [p for p in server.config()["authority"]["provisioners"] if p["name"] == "extra"]
        assert added == [{"type": "ACME", "name": "extra", "challenges": ["dns-01"]}]
        assert "extra" not in provisioner_names(server)
        assert server.process is not None
        server.process.send_signal(signal.SIGHUP)
        assert eventually(lambda: "extra" in provisioner_names(server))
        failed = server.cli("provisioner", "add", "extra", "--type", "ACME", check=False)
        assert failed.returncode == 1
        assert "already exists" in failed.stderr
        failed = server.cli("provisioner", "add", "tpl", "--type", "ACME", "--x509-template",
                            str(server.config_path), check=False)
        assert failed.returncode == 1
        assert "not supported yet" in failed.stderr
        server.cli("provisioner", "remove", "extra")
        server.process.send_signal(signal.SIGHUP)
        assert eventually(lambda: "extra" not in provisioner_names(server))
        assert server.process.poll() is None

        def certificate(name: str) -> int:
            return server.cli("certificate", name, str(tmp_path / "c.crt"), str(tmp_path / "c.key"), "--force",
                              "--provisioner", "admin", "--provisioner-password-file", str(server.password_file),
                              check=False).returncode

        server.edit_config(lambda d: d["authority"].update({"policy": {"x509": {"deny": {"dns": ["no.test"]}}}}))
        assert certificate("no.test") == 0  # not reloaded yet
        server.process.send_signal(signal.SIGHUP)
        assert eventually(lambda: certificate("no.test") == 1)  # the ca.json authority policy, reloaded
        server.edit_config(lambda d: d["authority"].update({"policy": {"x509": {"deny": {"dns": ["*.*.x"]}}}}))
        server.process.send_signal(signal.SIGHUP)  # an invalid policy is logged and ignored
        time.sleep(0.5)
        assert server.process.poll() is None
        assert certificate("no.test") == 1
        assert "configuration not reloaded" in server.log()
    finally:
        server.stop()
        drop()


def test_admin_api_is_404_without_remote_management(ca_home: CAServer) -> None:
    ca_home.start()
    context = ssl.create_default_context(cafile=str(ca_home.root_path))
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{ca_home.url}/admin/admins", context=context, timeout=5)
    assert caught.value.code == 404
    assert json.loads(caught.value.read())["type"] == "notFound"
