"""RLIMIT_NOFILE at start: the soft limit is raised to the hard one; a cap even that cannot hold is refused.

Each case runs in a child process whose limits are lowered first, so the test never changes its own.
"""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest

from acmeca.server.file_limit import RESERVED_FILES, FileLimit, needed_files, target_soft_limit

PROBE = """
import resource, sys
from acmeca.server.database import StartupError
from acmeca.server.file_limit import ensure_file_limit
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])))
try:
    print("soft", ensure_file_limit(int(sys.argv[3])), resource.getrlimit(resource.RLIMIT_NOFILE)[0])
except StartupError as exc:
    print("refused", exc)
"""


def _probe(soft: int, hard: int, cap: int) -> str:
    result = subprocess.run([sys.executable, "-c", PROBE, str(soft), str(hard), str(cap)],
                            capture_output=True, text=True, check=True, timeout=30)
    return result.stdout.strip()


def _hard() -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)


def test_the_soft_limit_is_raised_to_the_hard_limit() -> None:
    hard = _hard()
    assert _probe(512, hard, 100) == f"soft {hard} {hard}"


def test_a_cap_the_hard_limit_cannot_hold_is_refused_in_one_line() -> None:
    hard = _hard()
    output = _probe(512, hard, hard)
    assert output.startswith(f"refused server.maxConnections {hard} needs {hard + RESERVED_FILES} open files")
    assert f"the open-file limit is {hard};" in output
    assert "\n" not in output


@pytest.mark.parametrize(("soft", "hard", "expected"), [
    (1024, 524288, 524288),
    (1024, resource.RLIM_INFINITY, needed_files(4096)),
    (8192, resource.RLIM_INFINITY, 8192),
    (resource.RLIM_INFINITY, resource.RLIM_INFINITY, resource.RLIM_INFINITY),
])
def test_the_target_soft_limit(soft: int, hard: int, expected: int) -> None:
    assert target_soft_limit(FileLimit(soft, hard), needed_files(4096)) == expected


CAP_PROBE = """
import logging, resource, sys
from acmeca.server.database import StartupError
from acmeca.server.file_limit import connection_cap
logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stdout)
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[1])))
try:
    print("cap", connection_cap(1024, explicit=sys.argv[2] == "explicit"))
except StartupError as exc:
    print("refused", exc)
"""


@pytest.mark.parametrize(("how", "expected"), [
    ("default", f"server.maxConnections lowered to what the open-file limit holds\ncap {1000 - RESERVED_FILES}"),
    ("explicit", "refused server.maxConnections 1024 needs"),
])
def test_a_low_hard_limit_lowers_the_default_cap_and_refuses_a_configured_one(how: str, expected: str) -> None:
    result = subprocess.run([sys.executable, "-c", CAP_PROBE, "1000", how], capture_output=True, text=True,
                            check=True, timeout=30)
    assert result.stdout.strip().startswith(expected)
