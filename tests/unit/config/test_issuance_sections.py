"""ca.json's ``weakKeys`` and ``lint`` sections and a profile's ``lint``: defaults, values, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from acmeca.config import ConfigError, load_config
from acmeca.config.issuance import LintMode
from tests.unit.config.conftest import MINIMAL, with_provisioner, write


def test_defaults_enforce_lint_and_use_no_blocklist(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.lint.mode is LintMode.ENFORCE
    assert config.weak_keys.blocklist_dir is None


def test_lint_mode_is_read_and_a_wrong_one_refused_with_its_path(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, {**MINIMAL, "lint": {"mode": "warn"}})).lint.mode is LintMode.WARN
    with pytest.raises(ConfigError, match=r"lint\.mode.*enforce"):
        load_config(write(tmp_path, {**MINIMAL, "lint": {"mode": "strict"}}))


def test_a_blocklist_dir_must_hold_badkeys_files(tmp_path: Path) -> None:
    directory = tmp_path / "badkeys"
    directory.mkdir()
    (directory / "blocklist.dat").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"weakKeys\.blocklistDir.*lacks badkeysdata\.json"):
        load_config(write(tmp_path, {**MINIMAL, "weakKeys": {"blocklistDir": str(directory)}}))
    (directory / "badkeysdata.json").write_text("{}")
    config = load_config(write(tmp_path, {**MINIMAL, "weakKeys": {"blocklistDir": str(directory)}}))
    assert config.weak_keys.blocklist_dir == directory


def test_a_profile_may_add_the_cabf_lint_set(tmp_path: Path) -> None:
    document = with_provisioner(profiles={"web": {"lint": {"cabf": True}}, "internal": {}})
    provisioner = load_config(write(tmp_path, document)).authority.provisioners[0]
    cabf = {p.name: p.lint_cabf for p in provisioner.profiles}  # type: ignore[attr-defined]
    assert cabf == {"default": False, "web": True, "internal": False}


def test_the_acme_profile_hands_its_cabf_choice_to_the_engine(tmp_path: Path) -> None:
    from acmeca.acme.service.profiles import profiles_of

    document = with_provisioner(profiles={"web": {"lint": {"cabf": True}}})
    provisioner = load_config(write(tmp_path, document)).authority.provisioners[0]
    profiles = profiles_of(provisioner)  # type: ignore[arg-type]
    assert (profiles["web"].certificate.lint_cabf, profiles["default"].certificate.lint_cabf) == (True, False)
