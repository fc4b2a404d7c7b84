"""Duration and renewal claims, authority-wide or per provisioner (step-ca names and defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Claims:
    """Duration claims (step-ca names); authority defaults merged with provisioner overrides."""

    min_duration: timedelta = timedelta(minutes=5)
    max_duration: timedelta = timedelta(hours=24)
    default_duration: timedelta = timedelta(hours=24)
    disable_renewal: bool = False
    allow_renewal_after_expiry: bool = False
    disable_smallstep_extensions: bool = False
