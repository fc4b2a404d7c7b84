"""The running configuration, replaced as a whole when SIGHUP brings a new one that parses.

Services that honour a reload read their settings through this holder at the moment they act (a challenge
about to be validated reads ``current.validation``), instead of keeping a copy from start-up.
"""

from __future__ import annotations

from acmeca.config.loader import CAConfig


class LiveConfig:
    def __init__(self, config: CAConfig) -> None:
        self._current = config

    @property
    def current(self) -> CAConfig:
        return self._current

    def replace(self, config: CAConfig) -> None:
        self._current = config
