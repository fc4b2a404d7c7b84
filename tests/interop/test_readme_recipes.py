"""The README's "Get a certificate with certbot" recipes, run exactly as written with the real clients.

The commands are read from README.md (the fenced block after each ``<!-- recipe: NAME -->``) and run by bash
in a copy of the repository's demo layout: the Makefile, ``.venv`` (this interpreter's), and the ``.acmeca/``
that the first ``make run`` creates. Only the ports change, to free ones: 8443 becomes a free port that
``make run`` gets as ``DEMO_PORT=`` (the README's variable for it), 5353 and 8080 become free ports wherever
they appear. Every ``make run`` after the first one meets an existing ``.acmeca/`` with another port, so the
recipes also prove that ``DEMO_PORT`` is honoured on every run and that the printed lines match what is served.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509

from tests.interop.conftest import require_binary
from tests.support.ca_server import free_port

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RECIPE = re.compile(r"<!-- recipe: (?P<name>[\w-]+) -->\n```sh\n(?P<body>.*?)```", re.DOTALL)
README_PORTS = ("8443", "5353", "8080")
BACKGROUND = ("make run", ".venv/bin/acmeca dev dns")  # the commands that run until stopped
READY_WITHIN = 90.0
CLIENT_TIMEOUT = 120


def recipes() -> dict[str, list[str]]:
    """Recipe name -> its shell commands, continuation lines joined."""
    found = {m["name"]: m["body"].replace("\\\n", " ").splitlines() for m in RECIPE.finditer(README.read_text())}
    return {name: [line.strip() for line in lines if line.strip()] for name, lines in found.items()}


class Background:
    """A long-running recipe command in its own process group, its output collected as it comes."""

    def __init__(self, command: str, cwd: Path, env: dict[str, str]) -> None:
        self.command = command
        self.output = ""
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            ["bash", "-c", command], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.output += line
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, marker: str) -> None:
        with self._changed:
            ready = self._changed.wait_for(
                lambda: marker in self.output or self.process.poll() is not None, timeout=READY_WITHIN
            )
        if not ready or marker not in self.output:
            raise AssertionError(f"no {marker!r} from {self.command!r}:\n{self.output[-4000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)
        self._reader.join(timeout=30)
        assert self.process.stdout is not None
        self.process.stdout.close()


@dataclass
class Demo:
    """A directory laid out as the repository is for ``make run``."""

    path: Path
    env: dict[str, str]
    running: list[Background] = field(default_factory=list)

    def run_recipe(self, name: str, ports: dict[str, int]) -> None:
        """Each command as written, ports replaced; background ones wait until they serve."""
        for command in recipes()[name]:
            for readme_port, port in ports.items():
                command = re.sub(rf"(?<!\d){readme_port}(?!\d)", str(port), command)
            if command.startswith("make run"):
                command += f" DEMO_PORT={ports['8443']}"
            if command.startswith(BACKGROUND):
                self.start(command, ready="Stop with Ctrl-C." if "dev dns" in command else
                           f"acmeca is serving on https://localhost:{ports['8443']}")
            else:
                self.run(command)

    def start(self, command: str, *, ready: str) -> Background:
        background = Background(command, self.path, self.env)
        self.running.append(background)
        background.wait_for(ready)
        return background

    def run(self, command: str) -> None:
        result = subprocess.run(["bash", "-c", command], cwd=self.path, env=self.env, capture_output=True,
                                text=True, timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"

    def stop_all(self) -> None:
        while self.running:
            self.running.pop().stop()

    def leaf(self, path: str) -> x509.Certificate:
        chain = x509.load_pem_x509_certificates((self.path / path).read_bytes())
        root = x509.load_pem_x509_certificate((self.path / ".acmeca/certs/root_ca.crt").read_bytes())
        for child, parent in itertools.pairwise([*chain, root]):
            child.verify_directly_issued_by(parent)
        return chain[0]


def fresh_ports() -> dict[str, int]:
    return {port: free_port() for port in README_PORTS}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The repository's demo layout, and a first ``make run`` (it creates ``.acmeca/``), stopped again."""
    require_binary("certbot")
    path = tmp_path_factory.mktemp("readme")
    for name in ("Makefile", "pyproject.toml"):
        (path / name).write_bytes((ROOT / name).read_bytes())
    (path / ".venv").mkdir()
    (path / ".venv" / "bin").symlink_to(Path(sys.executable).parent)
    (path / ".venv" / ".installed").touch()  # newer than pyproject.toml: make installs nothing
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ACMECA_", "REQUESTS_", "LEGO_", "MAKE"))}
    env["PYTHONPATH"] = str(ROOT)  # this checkout's acmeca, whatever the venv has installed
    made = Demo(path, env)
    port = free_port()
    made.start(f"make run DEMO_PORT={port}", ready=f"acmeca is serving on https://localhost:{port}")
    made.stop_all()
    yield made
    made.stop_all()


def test_ip_address_recipe(demo: Demo) -> None:
    ports = fresh_ports()
    try:
        demo.run_recipe("ip", ports)
        printed = demo.running[0].output
    finally:
        demo.stop_all()
    assert f"ACME directory: https://localhost:{ports['8443']}/acme/acme/directory" in printed
    assert f"--ca-url https://localhost:{ports['8443']} " in printed
    assert f"Validation: resolver /etc/hosts, then /etc/resolv.conf, http-01 port {ports['8080']}" in printed
    leaf = demo.leaf(".certbot/config/live/127.0.0.1/fullchain.pem")
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_dns_name_recipe_then_lego(demo: Demo) -> None:
    require_binary("lego")
    ports = fresh_ports()
    try:
        demo.run_recipe("dns", ports)
        printed = demo.running[1].output
        demo.run_recipe("lego", ports)
    finally:
        demo.stop_all()
    assert f"Validation: resolver 127.0.0.1:{ports['5353']}, http-01 port {ports['8080']}" in printed
    assert f"ACME directory: https://localhost:{ports['8443']}/acme/acme/directory" in printed
    for path in (".certbot/config/live/app.demo.test/fullchain.pem", ".lego/certificates/app.demo.test.crt"):
        san = demo.leaf(path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["app.demo.test"], path


def test_the_recipes_are_in_the_readme() -> None:
    """What the tests above run: a missing marker would make them run nothing."""
    found = recipes()
    assert set(found) == {"ip", "dns", "lego"}
    assert [shlex.split(c)[0] for c in found["dns"]] == [
        ".venv/bin/acmeca", "make", "REQUESTS_CA_BUNDLE=.acmeca/certs/root_ca.crt",
    ]
