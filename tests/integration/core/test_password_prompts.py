"""Every password prompt, run without a terminal, ends in one line naming the flag (and the demo's file).

Before, getpass fell back to stdin and the user saw a GetPassWarning and ``error: EOFError:``. Each command
runs in a new session with stdin from /dev/null, as from a script or CI: no terminal, no controlling tty.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ca_server import CAServer, init_ca
from tests.support.databases import fresh_db_config


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CAServer]:
    """A CA whose ACMECA_PATH holds ``password``, as the demo's .acmeca does; started by the test that needs it."""
    home = tmp_path_factory.mktemp("prompts")
    db, drop = fresh_db_config("sqlite", home)
    server = init_ca(home / "ca", db)
    yield server
    server.stop()
    drop()


def no_terminal(*args: str, env: dict[str, str], cwd: Path) -> str:
    """``acmeca <args>`` without a terminal; its stderr, which must be exactly one line."""
    result = subprocess.run(
        [sys.executable, "-m", "acmeca", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Warning" not in result.stderr
    assert "EOFError" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def elsewhere(ca: CAServer, tmp_path: Path) -> dict[str, str]:
    """An environment whose ACMECA_PATH has no password file (and a cwd without .acmeca/)."""
    return {**ca.env, "ACMECA_PATH": str(tmp_path / "client")}


def test_token_names_the_provisioner_password_flag(ca: CAServer, tmp_path: Path) -> None:
    args = ("token", "app.example", "--offline", "--ca-config", str(ca.config_path))
    assert no_terminal(*args, env=elsewhere(ca, tmp_path), cwd=tmp_path) == (
        "error: cannot prompt for the password of provisioner 'admin' without a terminal: "
        "pass --provisioner-password-file <file>"
    )
    assert no_terminal(*args, env=ca.env, cwd=tmp_path).endswith(
        f"pass --provisioner-password-file <file> (the make run demo's password is in {ca.home / 'password'})"
    )


def test_demo_password_in_the_working_directory_is_named(ca: CAServer, tmp_path: Path) -> None:
    (tmp_path / ".acmeca").mkdir()
    (tmp_path / ".acmeca" / "password").write_text("x\n")
    line = no_terminal("token", "app.example", "--offline", "--ca-config", str(ca.config_path),
                       env=elsewhere(ca, tmp_path), cwd=tmp_path)
    assert line.endswith("(the make run demo's password is in .acmeca/password)")


def test_serve_names_password_file(ca: CAServer, tmp_path: Path) -> None:
    line = no_terminal("serve", "--config", str(ca.config_path), env=elsewhere(ca, tmp_path), cwd=tmp_path)
    assert line == ("error: cannot prompt for the intermediate key's password without a terminal: "
                    "pass --password-file <file>")


def test_admin_commands_name_the_admin_password_flag(ca: CAServer, tmp_path: Path) -> None:
    ca.start()
    try:
        line = no_terminal("admin", "list", "--ca-url", ca.url, "--root", str(ca.root_path),
                           "--admin-provisioner", "admin", env=elsewhere(ca, tmp_path), cwd=tmp_path)
    finally:
        assert ca.stop() == 0
    assert line == ("error: cannot prompt for the password of provisioner 'admin' without a terminal: "
                    "pass --admin-password-file <file>")


def test_init_without_password_file_names_it(tmp_path: Path) -> None:
    line = no_terminal("init", "--name", "X", "--dns", "localhost", "--address", ":9443", "--provisioner", "admin",
                       env={**os.environ, "ACMECA_PATH": str(tmp_path / "ca")}, cwd=tmp_path)
    assert line == "error: missing --password-file: init needs a password for the CA keys"
