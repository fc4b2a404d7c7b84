"""The identifier value types, kept apart from their parsing (identifiers.py).

errors.py names an identifier in each subproblem and identifiers.py raises errors while parsing; with the
types here, both import this module and neither imports the other, so the dependency runs one way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class IdentifierType(StrEnum):
    DNS = "dns"
    IP = "ip"


@dataclass(frozen=True, order=True)
class Identifier:
    type: IdentifierType
    value: str

    @property
    def is_wildcard(self) -> bool:
        return self.type is IdentifierType.DNS and self.value.startswith("*.")

    @property
    def base(self) -> Identifier:
        """The identifier an authorization is about: a wildcard's base name, else itself."""
        if self.is_wildcard:
            return Identifier(self.type, self.value[2:])
        return self

    def to_json(self) -> dict[str, str]:
        return {"type": self.type.value, "value": self.value}
