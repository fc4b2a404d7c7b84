"""alternateChains in ca.json: loaded and checked at start, offered by the engine."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from acmeca.config import load_config
from acmeca.engine.trust import load_alternate_chains, load_signing_authority
from tests.support.ca_server import PASSWORD, CAServer, init_ca
from tests.support.databases import fresh_db_config
from tests.support.pki import make_cross_signed_chain


@pytest.fixture
def sqlite_ca(tmp_path: Path) -> CAServer:
    db, _ = fresh_db_config("sqlite", tmp_path)
    return init_ca(tmp_path / "ca", db)


def test_cross_signed_chain_is_accepted_in_order(sqlite_ca: CAServer) -> None:
    cross, other_root = make_cross_signed_chain(sqlite_ca.home, PASSWORD.encode())
    sqlite_ca.edit_config(lambda d: d.update({"alternateChains": [["certs/intermediate_cross.crt",
                                                                     "certs/other_root.crt"]]}))
    config = load_config(sqlite_ca.config_path)
    assert config.alternate_chains == ((cross.resolve(), other_root.resolve()),)
    authority = load_alternate_chains(load_signing_authority(config.crt, config.key, PASSWORD.encode()),
                                      config.alternate_chains)
    (chain,) = authority.alternate_chains
    assert chain[0].subject == authority.certificate.subject
    assert chain[1].subject.rfc4514_string() == "CN=Other Root CA"
    assert chain[0].not_valid_after_utc - chain[0].not_valid_before_utc == timedelta(days=30)


def test_a_chain_for_another_key_stops_the_server_with_one_line(sqlite_ca: CAServer) -> None:
    make_cross_signed_chain(sqlite_ca.home, PASSWORD.encode())
    sqlite_ca.edit_config(lambda d: d.update({"alternateChains": [["certs/other_root.crt"]]}))
    result = subprocess.run(
        [sys.executable, "-m", "acmeca", "serve", "--config", str(sqlite_ca.config_path),
         "--password-file", str(sqlite_ca.password_file)],
        env=sqlite_ca.env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        f"error: alternateChains: {sqlite_ca.home / 'certs/other_root.crt'} does not certify the issuing key and "
        "name, so leaves would not chain"
    )
