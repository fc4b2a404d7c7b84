"""Hypothesis profiles for the fuzzers, chosen by ``HYPOTHESIS_PROFILE``.

``ci`` (the default) runs 200 examples per parser, derandomized, so a CI failure reproduces on any machine;
``fuzz`` (``make fuzz``) runs 20,000 random examples per parser for a long local hunt. Neither has a deadline:
the machine is shared and a slow example is not a bug.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {"deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", max_examples=200, derandomize=True, print_blob=True, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("fuzz", max_examples=20_000, print_blob=True, **_COMMON)  # type: ignore[arg-type]
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
