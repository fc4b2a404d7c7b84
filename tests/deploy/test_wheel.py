"""A release is a wheel: built with `pip wheel --no-deps .`, installed into a clean venv, it runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import acmeca

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_installs_into_a_clean_venv_and_inits_a_ca(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy, so the build leaves no egg-info in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "acmeca", source / "acmeca", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), "."],
                   check=True, timeout=120, cwd=source, env=clean_env)
    (wheel,) = wheels.glob("acmeca-*.whl")
    assert wheel.name.startswith(f"acmeca-{acmeca.__version__}-py3-none-any")
    clean = tmp_path / "venv"
    venv.create(clean, with_pip=True)
    python = clean / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
                   check=True, timeout=300, cwd=tmp_path, env=clean_env)
    env = {"PATH": f"{clean / 'bin'}:{os.environ['PATH']}", "HOME": str(tmp_path), "ACMECA_PATH": str(tmp_path / "ca")}
    version = subprocess.run(["acmeca", "--version"], env=env, capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"acmeca {acmeca.__version__}"
    (tmp_path / "password").write_text("wheel test password\n")
    init = subprocess.run(
        ["acmeca", "init", "--name", "Wheel", "--dns", "localhost", "--address", ":8443", "--provisioner", "admin",
         "--password-file", str(tmp_path / "password"), "--acme"],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    assert (tmp_path / "ca" / "config" / "ca.json").exists()
    assert oct((tmp_path / "ca" / "secrets" / "intermediate_ca_key").stat().st_mode & 0o777) == "0o600"
    migrations = subprocess.run(["acmeca", "db", "migrate"], env=env, capture_output=True, text=True, timeout=60)
    assert migrations.returncode == 0, migrations.stderr  # the alembic scripts ship inside the wheel
