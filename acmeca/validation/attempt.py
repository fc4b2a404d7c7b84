"""One validation attempt's inputs: where to look, how long, and the record of what was seen."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from acmeca.config import ValidationSettings
from acmeca.domain.identifiers import Identifier
from acmeca.validation.outcome import Deadline
from acmeca.validation.resolver import Resolver


@dataclass
class Attempt:
    """What every validator receives: where to look, how long, and where to note what it saw.

    ``records`` collects one entry per host contacted (Boulder's ``validationRecord``); it survives
    failures so the verdict can show how far validation got.
    """

    identifier: Identifier
    token: str
    key_authorization: str
    settings: ValidationSettings
    resolver: Resolver
    deadline: Deadline
    records: list[dict[str, Any]] = field(default_factory=list)
