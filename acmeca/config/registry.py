"""The registry of ca.json keys and the reader every section parser goes through.

Every key acmeca reads is declared here once, in a :class:`Section`, with its doc text and whether SIGHUP
applies it. The :class:`Reader` only hands out declared keys and, when a section is finished, refuses any key
the section does not declare, naming its full JSON path and the nearest declared spelling. Keys that step-ca
defines and acmeca does not use are declared as *ignored*: accepted, and listed once at start-up, so a
step-ca ca.json still loads but nothing is dropped silently.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, TypeVar

from acmeca.config.errors import ConfigError
from acmeca.domain.durations import format_duration, parse_duration
from acmeca.domain.errors import Malformed

T = TypeVar("T")


class Reload(StrEnum):
    """When a changed value takes effect in a running server."""

    SIGHUP = "SIGHUP"
    RESTART = "restart"


@dataclass(frozen=True)
class Key:
    name: str  # exactly as spelled in ca.json
    kind: str  # for the reference: "string", "duration", "port", "object", ...
    doc: str
    reload: Reload = Reload.SIGHUP
    default: str = ""  # as an operator would write it; "" when there is none


@dataclass(frozen=True)
class Section:
    """One JSON object of ca.json: the keys acmeca reads and the step-ca keys it accepts and ignores."""

    path: str  # as documented, e.g. "authority.provisioners[].validation"
    doc: str
    keys: tuple[Key, ...]
    ignored: frozenset[str] = frozenset()

    def key(self, name: str) -> Key:
        for key in self.keys:
            if key.name == name:
                return key
        raise KeyError(f"{self.path}: {name} is not a declared key")  # a programming error, not bad input

    @property
    def names(self) -> frozenset[str]:
        return frozenset(k.name for k in self.keys)


SECTIONS: list[Section] = []


def section(path: str, doc: str, keys: Sequence[Key], ignored: Sequence[str] = ()) -> Section:
    """Declare a section; the reference (docs/configuration.md) is generated from the declared list."""
    declared = Section(path, doc, tuple(keys), frozenset(ignored))
    SECTIONS.append(declared)
    return declared


@dataclass
class LoadNotes:
    """What loading noticed without refusing: ignored step-ca keys, inactive provisioners (logged once)."""

    ignored_keys: list[str] = field(default_factory=list)
    inactive_provisioners: list[str] = field(default_factory=list)


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value is False or value == [] or value == {}


class Reader:
    """Typed access to one JSON object of ca.json, bound to its JSON path and its declared section."""

    def __init__(self, value: Any, path: str, spec: Section, notes: LoadNotes) -> None:
        if not isinstance(value, Mapping):
            raise ConfigError(path, f"must be an object, not {_describe(value)}")
        self._document = value
        self.path = path
        self._spec = spec
        self.notes = notes
        self._refuse_unknown()

    def at(self, key: str) -> str:
        return join(self.path, key)

    def raw(self, key: str) -> Any:
        self._spec.key(key)
        return self._document.get(key)

    def has(self, key: str) -> bool:
        return self.raw(key) is not None

    def fail(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.at(key), reason)

    def string(self, key: str, default: str = "", *, required: bool = False) -> str:
        value = self.raw(key)
        if value is None or value == "":
            if required:
                raise self.fail(key, "is required")
            return default
        if not isinstance(value, str):
            raise self.fail(key, f"must be a string, not {_describe(value)}")
        return value

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {_describe(value)}")
        return value

    def integer(self, key: str, default: int, *, minimum: int, maximum: int) -> int:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
            raise self.fail(key, f"must be a whole number from {minimum} to {maximum}, not {_describe(value)}")
        return value

    def number(self, key: str, default: float) -> float:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number, not {_describe(value)}")
        return float(value)

    def port(self, key: str, default: int) -> int:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            raise self.fail(key, f"must be a port number from 1 to 65535, not {_describe(value)}")
        return value

    def duration(self, key: str, default: timedelta, *, minimum: timedelta | None = None) -> timedelta:
        value = self.raw(key)
        if value is None or value == "":
            return default
        try:
            parsed = parse_duration(value)
        except Malformed:
            raise self.fail(key, f'must be a duration such as "10s" or "24h", not {_describe(value)}') from None
        if minimum is not None and parsed < minimum:
            raise self.fail(key, f"{_at_least(minimum)}, not {value!r}")
        return parsed

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.raw(key)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"must be a list of strings, not {_describe(value)}")
        return tuple(value)

    def parsed(self, key: str, parse: Callable[[Any], T], default: T) -> T:
        """A value checked by a domain parser that raises ValueError naming what is wrong."""
        value = self.raw(key)
        if value is None or value == "":
            return default
        try:
            return parse(value)
        except ValueError as exc:
            raise self.fail(key, str(exc)) from None

    def child(self, key: str, spec: Section) -> Reader:
        """The nested object at ``key`` (an absent or null one reads as empty)."""
        value = self.raw(key)
        return Reader({} if value is None else value, self.at(key), spec, self.notes)

    def items(self, key: str) -> Iterator[tuple[str, Any]]:
        """(path, element) for each element of the list at ``key``."""
        value = self.raw(key)
        if value is None:
            return
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list, not {_describe(value)}")
        for index, element in enumerate(value):
            yield join(self.at(key), index), element

    def entries(self, key: str) -> Iterator[tuple[str, str, Any]]:
        """(path, name, value) for each member of the object at ``key``."""
        value = self.raw(key)
        if value is None:
            return
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be an object, not {_describe(value)}")
        for name, element in value.items():
            yield join(self.at(key), str(name)), str(name), element

    def _refuse_unknown(self) -> None:
        declared = self._spec.names
        for key, value in self._document.items():
            if key in declared:
                continue
            if key in self._spec.ignored:
                if not _is_empty(value):
                    self.notes.ignored_keys.append(self.at(key))
                continue
            raise ConfigError(self.at(str(key)), "unknown key" + _suggestion(str(key), declared | self._spec.ignored))


def _at_least(minimum: timedelta) -> str:
    if minimum == timedelta(0):
        return "must not be negative"
    if minimum < timedelta(seconds=1):
        return "must be positive"
    return f"must be at least {format_duration(minimum)}"


def _suggestion(key: str, known: frozenset[str]) -> str:
    by_case = {k.lower(): k for k in known}
    if key.lower() in by_case:
        return f" (did you mean {by_case[key.lower()]}?)"
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]}?)"
    if known:
        return f" (known keys: {', '.join(sorted(known))})"
    return ""


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return repr(value)
