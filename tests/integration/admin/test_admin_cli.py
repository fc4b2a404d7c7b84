"""Remote management end to end: the real CLI against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import re
import ssl
import time
import urllib.request
from pathlib import Path

from cryptography import x509

from tests.integration.admin.conftest import SUPER, AdminCA


def _get_json(admin_ca: AdminCA, path: str) -> tuple[int, object]:
    context = ssl.create_default_context(cafile=str(admin_ca.server.root_path))
    try:
        with urllib.request.urlopen(admin_ca.server.url + path, context=context, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


def test_first_super_admin_and_admin_crud(admin_ca: AdminCA, tmp_path: Path) -> None:
    code, out = admin_ca.admin_cli("admin", "list")
    assert code == 0
    crt, key = admin_ca.certificate(SUPER, tmp_path)  # step's other way: an admin certificate at hand
    assert out == admin_ca.cli("admin", "list", "--admin-cert", str(crt), "--admin-key", str(key))[1]
    assert out.split("\n")[0].split() == ["SUBJECT", "PROVISIONER", "TYPE"]
    assert [SUPER, "admin", "(JWK)", "SUPER_ADMIN"] in rows(out)
    assert ["bob", "admin", "(JWK)", "ADMIN"] in rows(admin_ca.admin_cli("admin", "add", "bob", "admin")[1])
    code, out = admin_ca.admin_cli("admin", "add", "carol", "admin", subject="bob", check=False)
    assert code == 1
    assert "must have super admin access" in out
    code, out = admin_ca.admin_cli("admin", "add", "bob", "admin", check=False)
    assert code == 1
    assert "already exists" in out
    code, out = admin_ca.admin_cli("admin", "add", "x", "no-such-provisioner", check=False)
    assert code == 1
    assert "not found" in out
    code, out = admin_ca.admin_cli("admin", "remove", SUPER, check=False)
    assert code == 1
    assert "last super admin" in out
    admin_ca.admin_cli("admin", "update", "bob", "--super")
    admin_ca.admin_cli("admin", "remove", SUPER, subject="bob")
    code, out = admin_ca.admin_cli("admin", "list", subject="bob")
    assert rows(out)[1:] == [["bob", "admin", "(JWK)", "SUPER_ADMIN"]]
    audit = [line for line in admin_ca.server.log().splitlines() if "acmeca.audit" in line]
    created = f"event=admin.admin_created serial=None identifiers=[] requester_kind=admin requester_id={SUPER} "
    deleted = "event=admin.admin_deleted serial=None identifiers=[] requester_kind=admin requester_id=bob "
    assert any("admin created" in line and created in line and "target=bob" in line for line in audit)
    assert any("admin deleted" in line and deleted in line and f"target={SUPER}" in line for line in audit)
    code, out = admin_ca.admin_cli("admin", "list", check=False)  # the removed admin is locked out
    assert code == 1
    assert "is not an admin" in out


def test_provisioner_added_remotely_is_served_without_restart(admin_ca: AdminCA) -> None:
    admin_ca.admin_cli("provisioner", "add", "team-acme", "--type", "ACME", "--challenge", "http-01")
    deadline = time.monotonic() + 5
    while True:
        status, directory = _get_json(admin_ca, "/acme/team-acme/directory")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200
    assert "newAccount" in str(directory)
    code, out = admin_ca.admin_cli("provisioner", "add", "team-acme", "--type", "ACME", check=False)
    assert code == 1
    assert "already exists" in out
    code, out = admin_ca.admin_cli("provisioner", "add", "bad", "--type", "ACME", "--x509-min-dur", "forever",
                                   check=False)
    assert code == 1
    assert "invalid duration" in out
    admin_ca.admin_cli("provisioner", "update", "team-acme", "--require-eab")
    status, listing = _get_json(admin_ca, "/provisioners")
    acme = next(p for p in listing["provisioners"] if p["name"] == "team-acme")  # type: ignore[index]
    assert acme["requireEAB"] is True
    assert acme["challenges"] == ["http-01"]
    admin_ca.admin_cli("provisioner", "remove", "team-acme")
    code, out = admin_ca.admin_cli("provisioner", "remove", "team-acme", check=False)
    assert code == 1
    assert "not found" in out


def test_authority_policy_refuses_names_at_sign(admin_ca: AdminCA, tmp_path: Path) -> None:
    code, out = admin_ca.admin_cli("policy", "authority", "view", check=False)
    assert code == 1
    assert "certificate issuance policy does not exist" in out
    code, out = admin_ca.admin_cli("policy", "authority", "x509", "allow", "dns", "*.corp.test", check=False)
    assert code == 1
    assert "would lock out" in out
    code, out = admin_ca.admin_cli("policy", "authority", "x509", "allow", "dns", "*.corp.test", SUPER,
                                   "127.0.0.1", check=False)
    assert code == 1
    assert "CA's own name 'localhost'" in out
    code, out = admin_ca.admin_cli("policy", "authority", "x509", "allow", "dns", "*.*.corp.test", check=False)
    assert code == 1
    assert "wildcard" in out
    code, out = admin_ca.admin_cli("policy", "authority", "x509", "allow", "dns", "*.corp.test", SUPER,
                                   "localhost", "127.0.0.1")
    assert json.loads(out)["x509"]["allow"] == {"dns": ["*.corp.test", SUPER, "localhost"], "ips": ["127.0.0.1"]}
    admin_ca.certificate("web.corp.test", tmp_path)
    code, out = admin_ca.cli("certificate", "web.evil.test", str(tmp_path / "e.crt"), str(tmp_path / "e.key"),
                             "--provisioner", "admin", "--provisioner-password-file",
                             str(admin_ca.server.password_file), check=False)
    assert code == 1
    assert 'name "web.evil.test" not allowed' in out
    admin_ca.admin_cli("policy", "authority", "x509", "deny", "dns", "web.corp.test")
    code, out = admin_ca.cli("certificate", "web.corp.test", str(tmp_path / "w.crt"), str(tmp_path / "w.key"),
                             "--provisioner", "admin", "--provisioner-password-file",
                             str(admin_ca.server.password_file), "--force", check=False)
    assert code == 1
    assert "not allowed" in out
    code, out = admin_ca.admin_cli("policy", "authority", "ssh", "user", "allow", "email", "example.com")
    assert json.loads(out)["ssh"] == {"user": {"allow": {"emails": ["example.com"]}}}
    code, out = admin_ca.admin_cli("policy", "authority", "ssh", "host", "deny", "ip", "10.0.0.0/40", check=False)
    assert code == 1
    assert "cannot parse ip constraint" in out
    assert admin_ca.admin_cli("policy", "authority", "remove")[1].strip() == "policy deleted"
    admin_ca.certificate("web.evil.test", tmp_path)


def test_provisioner_policy_is_served_although_upstream_answers_501(admin_ca: AdminCA) -> None:
    admin_ca.admin_cli("provisioner", "add", "acme-eab", "--type", "ACME", "--require-eab")
    code, out = admin_ca.admin_cli("policy", "provisioner", "x509", "allow", "dns", "*.team.test",
                                   "--provisioner", "acme-eab")
    assert code == 0
    assert json.loads(out)["x509"]["allow"]["dns"] == ["*.team.test"]
    code, out = admin_ca.admin_cli("acme", "eab", "add", "acme-eab", "team-a")
    lines = out.strip().splitlines()  # step's "%-36s%-28s%-48s%s" columns, in step's order
    assert lines[0] == f"{'Key ID':36}{'Provisioner':28}{'Key (base64, raw url encoded)':48}Reference"
    key_id, provisioner, hmac_key, reference = lines[1].split()
    assert lines[1] == f"{key_id:36}{provisioner:28}{hmac_key:48}{reference}"
    assert (provisioner, reference) == ("acme-eab", "team-a")
    assert re.fullmatch(r"[A-Za-z0-9]{32}", key_id)
    assert len(base64.urlsafe_b64decode(hmac_key + "=")) == 32  # raw url base64 of step-ca's 32 random bytes
    code, out = admin_ca.admin_cli("policy", "acme", "x509", "allow", "dns", "a.team.test", "--provisioner",
                                   "acme-eab", "--eab-key-reference", "team-a")
    assert code == 0
    code, out = admin_ca.admin_cli("policy", "acme", "view", "--provisioner", "acme-eab", "--eab-key-id", key_id)
    assert json.loads(out)["x509"]["allow"]["dns"] == ["a.team.test"]
    code, out = admin_ca.admin_cli("acme", "eab", "list", "acme-eab")
    header, row = out.strip().splitlines()
    assert header.split("  ")[0] == "Key ID"
    assert [c.strip() for c in re.split(r"\s{2,}", header)] == [
        "Key ID", "Provisioner", "Key (masked)", "Created At", "Bound At", "Account", "Reference"]
    assert row.startswith(f"{key_id:36}{'acme-eab':28}{'*****':16}")
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+00:00 {4}$", row[80:110])  # created, never 1970
    assert row[110:140].strip() == ""  # not bound yet
    assert row.endswith("team-a")
    assert hmac_key not in out
    assert admin_ca.admin_cli("acme", "eab", "remove", "acme-eab", key_id)[1].strip() == "Key was deleted successfully!"
    code, out = admin_ca.admin_cli("acme", "eab", "list", "acme-eab")
    assert out.strip() == "No ACME EAB keys stored for provisioner acme-eab"
    code, out = admin_ca.admin_cli("acme", "eab", "add", "acme", check=False)
    assert code == 1
    assert "ACME EAB not enabled for provisioner 'acme'" in out


def test_deleting_a_provisioner_keeps_its_certificates_revocable(admin_ca: AdminCA, tmp_path: Path) -> None:
    password = str(admin_ca.server.password_file)
    admin_ca.admin_cli("provisioner", "add", "temp", "--type", "JWK", "--create", "--password-file", password)
    crt = tmp_path / "t.crt"
    admin_ca.cli("certificate", "svc.test", str(crt), str(tmp_path / "t.key"), "--provisioner", "temp",
                 "--provisioner-password-file", password)
    admin_ca.admin_cli("provisioner", "remove", "temp")
    code, out = admin_ca.cli("certificate", "svc2.test", str(tmp_path / "u.crt"), str(tmp_path / "u.key"),
                             "--provisioner", "temp", "--provisioner-password-file", password, check=False)
    assert code == 1  # the provisioner is gone...
    serial = str(x509.load_pem_x509_certificate(crt.read_bytes()).serial_number)
    code, out = admin_ca.cli("revoke", serial, "--provisioner", "admin", "--provisioner-password-file", password)
    assert f"Certificate with Serial Number {serial} has been revoked." in out  # ...its certificates are not
