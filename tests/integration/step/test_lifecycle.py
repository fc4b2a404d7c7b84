"""The done-when test: the real CLI against a real server, on SQLite and PostgreSQL.

init → serve → token → certificate → renew (mTLS and bearer) → rekey → revoke → the serial is in the CRL and
its renewal is refused.
"""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509

from acmeca.crypto import certs
from tests.support.ca_server import CAServer
from tests.support.https import call

TEST_CLAIMS = {"minTLSCertDuration": "10s", "defaultTLSCertDuration": "1h", "maxTLSCertDuration": "2h"}


@pytest.fixture
def step_ca(ca_home: CAServer) -> Iterator[CAServer]:
    """A running CA with short claims and the CRL regenerated on every revocation."""
    def change(document: dict[str, object]) -> None:
        authority = document["authority"]
        assert isinstance(authority, dict)
        authority["claims"] = TEST_CLAIMS
        document["crl"] = {"enabled": True, "generateOnRevoke": True, "cacheDuration": "1h"}

    ca_home.edit_config(change)
    ca_home.start()
    yield ca_home
    assert ca_home.stop() == 0, ca_home.log()


def leaf(path: Path) -> x509.Certificate:
    return certs.load_pem_bundle(path.read_bytes())[0]


def _refused(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr
    return result.stderr.strip()


def crl_serials(server: CAServer) -> set[int]:
    reply = call(f"{server.url}/1.0/crl", root=server.root_path)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/pkix-crl"
    return {entry.serial_number for entry in x509.load_der_x509_crl(reply.body)}


def test_certificate_lifecycle_through_the_cli(step_ca: CAServer, tmp_path: Path) -> None:
    crt, key = tmp_path / "svc.crt", tmp_path / "svc.key"
    pw = str(step_ca.password_file)
    token = step_ca.cli("token", "svc.local", "--provisioner", "admin", "--provisioner-password-file", pw).stdout
    token = token.strip()
    assert token.count(".") == 2

    issued = step_ca.cli("certificate", "svc.local", str(crt), str(key), "--token", token, "--not-after", "30m")
    assert issued.stdout.splitlines() == [f"✔ Certificate: {crt}", f"✔ Private Key: {key}"]
    assert oct(crt.stat().st_mode & 0o777) == "0o600"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    first = leaf(crt)
    assert first.not_valid_after_utc - first.not_valid_before_utc == timedelta(minutes=31)
    assert len(certs.load_pem_bundle(crt.read_bytes())) == 2  # leaf + intermediate
    points = first.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [p.full_name for p in points] == [[x509.UniformResourceIdentifier(f"{step_ca.url}/1.0/crl")]]

    replay = step_ca.cli("certificate", "svc.local", str(tmp_path / "b.crt"), str(tmp_path / "b.key"),
                         "--token", token, check=False)
    assert "token already used" in _refused(replay)

    step_ca.cli("renew", str(crt), str(key), "--force")
    by_mtls = leaf(crt)
    assert by_mtls.serial_number != first.serial_number
    assert by_mtls.public_key() == first.public_key()

    renewed = step_ca.cli("renew", str(crt), str(key), "--mtls=false", "--force")
    assert renewed.stdout.strip() == f"Your certificate has been saved in {crt}."
    by_bearer = leaf(crt)
    assert by_bearer.serial_number != by_mtls.serial_number

    step_ca.cli("rekey", str(crt), str(key), "--force")
    rekeyed = leaf(crt)
    assert rekeyed.public_key() != by_bearer.public_key()
    assert rekeyed.subject == first.subject

    serial = str(rekeyed.serial_number)
    revoked = step_ca.cli("revoke", hex(rekeyed.serial_number), "--reasonCode", "key compromise",
                          "--provisioner-password-file", pw)
    assert revoked.stdout.strip() == f"Certificate with Serial Number {serial} has been revoked."
    assert rekeyed.serial_number in crl_serials(step_ca)
    assert "certificate has been revoked" in _refused(step_ca.cli("renew", str(crt), str(key), "--force",
                                                                  check=False))
    again = step_ca.cli("revoke", serial, "--provisioner-password-file", pw, check=False)
    assert f"certificate with serial number '{serial}' is already revoked" in _refused(again)


def test_revoke_with_the_certificate_itself(step_ca: CAServer, tmp_path: Path) -> None:
    crt, key = tmp_path / "m.crt", tmp_path / "m.key"
    step_ca.cli("certificate", "mtls.local", str(crt), str(key), "--provisioner-password-file",
                str(step_ca.password_file))
    step_ca.cli("revoke", "--cert", str(crt), "--key", str(key), "--reasonCode", "4")
    assert leaf(crt).serial_number in crl_serials(step_ca)
    pem = call(f"{step_ca.url}/crl?pem", root=step_ca.root_path)
    assert pem.body.startswith(b"-----BEGIN X509 CRL-----\n")
    assert pem.headers["Content-Disposition"] == 'attachment; filename="crl.pem"'
    assert pem.headers["Expires"].endswith(" GMT")
    crl = x509.load_pem_x509_crl(pem.body)
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == timedelta(hours=1)


def test_sign_and_durations_outside_the_claims(step_ca: CAServer, tmp_path: Path) -> None:
    from acmeca.crypto.csr import build_csr_pem
    from acmeca.crypto.keys import KeySpec, generate_key

    csr = tmp_path / "req.csr"
    csr.write_bytes(build_csr_pem(generate_key(KeySpec()), "csr.local", ["csr.local", "alt.local"], ["10.1.2.3"]))
    pw = str(step_ca.password_file)
    signed = step_ca.cli("sign", str(csr), str(tmp_path / "s.crt"), "--provisioner-password-file", pw)
    assert signed.stdout.strip() == f"✔ Certificate: {tmp_path / 's.crt'}"
    names = leaf(tmp_path / "s.crt").extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {"csr.local", "alt.local"}
    too_long = step_ca.cli("sign", str(csr), str(tmp_path / "l.crt"), "--provisioner-password-file", pw,
                           "--not-after", "3h", check=False)
    assert "more than the authorized maximum certificate duration of 2h1m0s" in _refused(too_long)  # max + backdate
    assert not (tmp_path / "l.crt").exists()


def test_mtls_is_optional_on_the_same_port(step_ca: CAServer) -> None:
    context = ssl.create_default_context(cafile=str(step_ca.root_path))
    reply = call(f"{step_ca.url}/1.0/renew", root=None, method="POST", context=context)
    assert reply.status == 400
    assert reply.json() == {"status": 400,
                            "message": "The request could not be completed: missing client certificate."}


def test_offline_token_and_offline_certificate(step_ca: CAServer, tmp_path: Path) -> None:
    pw = str(step_ca.password_file)
    offline_token = step_ca.cli("token", "ot.local", "--offline", "--provisioner-password-file", pw).stdout.strip()
    step_ca.cli("certificate", "ot.local", str(tmp_path / "ot.crt"), str(tmp_path / "ot.key"), "--token",
                offline_token)
    crt, key = tmp_path / "off.crt", tmp_path / "off.key"
    step_ca.cli("certificate", "off.local", str(crt), str(key), "--offline", "--provisioner-password-file", pw)
    assert len(certs.load_pem_bundle(crt.read_bytes())) == 2
    step_ca.cli("renew", str(crt), str(key), "--force")  # the server knows the offline certificate
    assert leaf(crt).subject.rfc4514_string() == "CN=off.local"


def test_renew_and_revoke_tokens_from_the_token_command(step_ca: CAServer, tmp_path: Path) -> None:
    from acmeca.crypto.keys import KeySpec, generate_key, save_private_key

    crt, key = tmp_path / "t.crt", tmp_path / "t.key"
    pw = str(step_ca.password_file)
    step_ca.cli("certificate", "tok.local", str(crt), str(key), "--provisioner-password-file", pw)
    bearer = step_ca.cli("token", "tok.local", "--renew", "--x5c-cert", str(crt), "--x5c-key", str(key)).stdout
    renewed = call(f"{step_ca.url}/renew", root=step_ca.root_path, method="POST",
                   headers={"Authorization": f"Bearer {bearer.strip()}"})
    assert renewed.status == 201, renewed.body
    assert list(renewed.json()) == ["crt", "ca", "certChain", "tlsOptions"]

    new_key = tmp_path / "new.key"
    chosen = generate_key(KeySpec("EC", "P-384"))
    save_private_key(new_key, chosen)
    step_ca.cli("rekey", str(crt), str(key), "--private-key", str(new_key), "--out-cert", str(tmp_path / "r.crt"),
                "--out-key", str(tmp_path / "r.key"))
    rekeyed = leaf(tmp_path / "r.crt")
    assert rekeyed.public_key() == chosen.public_key()
    assert (tmp_path / "r.key").read_bytes() == new_key.read_bytes()

    serial = str(rekeyed.serial_number)
    token_file = tmp_path / "revoke.tok"
    step_ca.cli("token", serial, "--revoke", "--provisioner-password-file", pw, "--output-file", str(token_file))
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    step_ca.cli("revoke", serial, "--token", token_file.read_text().strip(), "--reason", "rotated",
                "--reasonCode", "superseded")
    assert rekeyed.serial_number in crl_serials(step_ca)


def test_offline_revoke(step_ca: CAServer, tmp_path: Path) -> None:
    crt = tmp_path / "o.crt"
    pw = str(step_ca.password_file)
    step_ca.cli("certificate", "orev.local", str(crt), str(tmp_path / "o.key"), "--provisioner-password-file", pw)
    serial = str(leaf(crt).serial_number)
    out = step_ca.cli("revoke", serial, "--offline", "--provisioner-password-file", pw, "--reasonCode", "1")
    assert out.stdout.strip() == f"Certificate with Serial Number {serial} has been revoked."
    assert int(serial) in crl_serials(step_ca)  # the offline CLI stored the new CRL; the server serves it
    assert "certificate has been revoked" in _refused(step_ca.cli("renew", str(crt), str(tmp_path / "o.key"),
                                                                  check=False))
