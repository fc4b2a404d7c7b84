"""``acmeca init --from-step-ca``: adopt a PKI made by the real ``step ca init`` and serve its old provisioner.

One step-ca is made per module (``step ca init`` plus an ACME provisioner, ~2 s); each test imports a copy.
The happy path is judged by the real step CLI: a token minted against the OLD step-ca's JWK provisioner gets a
certificate from acmeca, and the OLD root verifies it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.ca_server import CAServer, free_port, run_cli
from tests.support.step_cli import StepCLI, step_binary

PASSWORD = "step-ca password"
COPIED = ("certs/root_ca.crt", "certs/intermediate_ca.crt", "secrets/root_ca_key", "secrets/intermediate_ca_key")


@pytest.fixture(scope="module")
def step_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine $STEPPATH from the real ``step ca init`` (never modified: tests copy it)."""
    work = tmp_path_factory.mktemp("stepca")
    (work / "pw").write_text(PASSWORD + "\n")
    step = StepCLI(step_binary(), work / "step")
    step.steppath.mkdir()
    step.run("ca", "init", "--name", "Old", "--dns", "localhost", "--dns", "127.0.0.1",
             "--address", f"127.0.0.1:{free_port()}", "--provisioner", "admin",
             "--password-file", str(work / "pw"), "--provisioner-password-file", str(work / "pw"))
    step.run("ca", "provisioner", "add", "acme", "--type", "ACME")
    return step.steppath


@pytest.fixture
def steppath(step_ca: Path, tmp_path: Path) -> Path:
    """A copy of the step-ca whose ca.json names its own files (step writes absolute paths)."""
    copy = tmp_path / "step"
    shutil.copytree(step_ca, copy)
    for name in ("ca.json", "defaults.json"):
        path = copy / "config" / name
        path.write_text(path.read_text().replace(str(step_ca), str(copy)))
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    return copy


def edit(steppath: Path, change: Callable[[dict[str, Any]], None]) -> None:
    path = steppath / "config" / "ca.json"
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def env_for(home: Path) -> dict[str, str]:
    return CAServer(home=home, port=0, db={}).env


def import_into(home: Path, steppath: Path, *extra: str, check: bool = True) -> Any:
    return run_cli("init", "--from-step-ca", str(steppath), "--password-file", str(steppath.parent / "pw"),
                   *extra, env=env_for(home), check=check)


def test_imported_ca_serves_the_old_provisioner_and_chains_to_the_old_root(steppath: Path, tmp_path: Path) -> None:
    home = tmp_path / "acmeca"
    result = import_into(home, steppath)
    assert "Not imported:" in result.stdout
    assert "badgerv2" in result.stdout

    for name in COPIED:
        assert (home / name).read_bytes() == (steppath / name).read_bytes(), name
    assert (home / "secrets" / "intermediate_ca_key").stat().st_mode & 0o777 == 0o600
    assert (home / "secrets").stat().st_mode & 0o777 == 0o700
    old = json.loads((steppath / "config" / "ca.json").read_text())
    new = json.loads((home / "config" / "ca.json").read_text())
    assert new["authority"]["provisioners"] == old["authority"]["provisioners"]  # encryptedKey kept
    assert new["db"] == {"type": "sqlite", "dataSource": str(home / "db" / "acmeca.db")}
    assert (new["address"], new["dnsNames"], new["tls"]) == (old["address"], old["dnsNames"], old["tls"])
    defaults = json.loads((home / "config" / "defaults.json").read_text())
    old_defaults = json.loads((steppath / "config" / "defaults.json").read_text())
    assert (defaults["fingerprint"], defaults["ca-url"]) == (old_defaults["fingerprint"], old_defaults["ca-url"])

    port = int(old["address"].rsplit(":", 1)[1])
    server = CAServer(home=home, port=port, db=new["db"])
    shutil.copy(steppath.parent / "pw", server.password_file)
    server.start()
    try:
        # The user's existing step setup: STEPPATH of the step-ca, its root, its JWK provisioner and password.
        step = StepCLI(step_binary(), steppath)
        old_root = str(steppath / "certs" / "root_ca.crt")
        common = ("--ca-url", server.url, "--root", old_root)
        token = step.run("ca", "token", "imported.example", *common, "--provisioner", "admin",
                         "--password-file", str(steppath.parent / "pw")).stdout.strip()
        leaf, key = tmp_path / "leaf.crt", tmp_path / "leaf.key"
        step.run("ca", "certificate", "imported.example", str(leaf), str(key), "--token", token, *common)
        step.run("certificate", "verify", str(leaf), "--roots", old_root)
    finally:
        server.stop()


def _nothing_written(home: Path, result: Any) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not home.exists() or not any(home.iterdir()), sorted(home.rglob("*"))
    assert not any(p.name.startswith(f".{home.name}.") for p in home.parent.iterdir())


def _kms(document: dict[str, Any]) -> None:
    document["kms"] = {"type": "pkcs11", "uri": "pkcs11:module-path=/usr/lib/softhsm/libsofthsm2.so;token=ca"}


def _kms_key(document: dict[str, Any]) -> None:
    document["key"] = "pkcs11:id=7331;object=intermediate-key"


def _admin(document: dict[str, Any]) -> None:
    document["authority"]["enableAdmin"] = True


@pytest.mark.parametrize(("case", "change", "message"), [
    ("kms", _kms, "KMS"),
    ("kms-key", _kms_key, "KMS URI"),
    ("enable-admin", _admin, "step ca provisioner list"),
])
def test_refuses_a_step_ca_whose_keys_or_provisioners_it_cannot_read(
    steppath: Path, tmp_path: Path, case: str, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    edit(steppath, change)
    home = tmp_path / "acmeca"
    result = import_into(home, steppath, check=False)
    _nothing_written(home, result)
    assert message in result.stderr, result.stderr


def test_refuses_a_wrong_password(steppath: Path, tmp_path: Path) -> None:
    (steppath.parent / "pw").write_text("not the password\n")
    home = tmp_path / "acmeca"
    result = import_into(home, steppath, check=False)
    _nothing_written(home, result)
    assert "wrong password" in result.stderr


def test_refuses_a_folder_that_is_not_a_step_ca(steppath: Path, tmp_path: Path) -> None:
    home = tmp_path / "acmeca"
    (steppath / "certs" / "intermediate_ca.crt").unlink()
    missing_cert = import_into(home, steppath, check=False)
    _nothing_written(home, missing_cert)
    assert "intermediate certificate" in missing_cert.stderr
    (steppath / "config" / "ca.json").unlink()
    no_config = import_into(home, steppath, check=False)
    _nothing_written(home, no_config)
    assert "is not a step-ca" in no_config.stderr


def test_refuses_to_replace_an_acmeca_pki_without_force(steppath: Path, tmp_path: Path) -> None:
    home = tmp_path / "acmeca"
    (home / "config").mkdir(parents=True)
    (home / "config" / "ca.json").write_text("{}")
    result = import_into(home, steppath, check=False)
    assert result.returncode == 1
    assert "--force" in result.stderr
    assert sorted(p.name for p in home.rglob("*")) == ["ca.json", "config"]
    assert (home / "config" / "ca.json").read_text() == "{}"


def test_a_moved_step_ca_is_read_from_its_own_folder(steppath: Path, tmp_path: Path) -> None:
    """ca.json names absolute paths of the machine step-ca ran on; a copied STEPPATH still imports."""
    edit(steppath, lambda d: d.update({k: f"/elsewhere/{name}" for k, name in (
        ("root", "certs/root_ca.crt"), ("crt", "certs/intermediate_ca.crt"), ("key", "secrets/intermediate_ca_key"))}))
    home = tmp_path / "acmeca"
    import_into(home, steppath)
    for name in COPIED:
        assert (home / name).read_bytes() == (steppath / name).read_bytes(), name


def test_flags_for_a_new_pki_are_refused(steppath: Path, tmp_path: Path) -> None:
    home = tmp_path / "acmeca"
    result = import_into(home, steppath, "--name", "New", "--acme", check=False)
    _nothing_written(home, result)
    assert "--name, --acme" in result.stderr
