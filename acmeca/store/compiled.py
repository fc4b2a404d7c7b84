"""Statements compiled once, for the fast paths that run them straight on the driver.

``fast_read`` and ``fast_write`` mark the module-level statements every ACME request repeats. SQLAlchemy's
per-execution machinery (compile-cache lookup, execution context, result wrapping and, on asyncio, a greenlet
switch and the adapter's locks) costs several times what the statement costs the driver. Each marked
statement is compiled here once for the dialect, and bound and decoded with the processors SQLAlchemy's own
types hand out through public API (``TypeEngine.dialect_impl(dialect).bind_processor`` / ``result_processor``),
so the values that reach the driver and the rows that come back are those the ordinary path would give.

This module knows no driver: ``acmeca.store.inplace`` runs the compiled statements on sqlite3 and
``acmeca.store.postgres`` on asyncpg. A statement one of these classes cannot reproduce exactly (IN-lists and
other parameters rendered at execution time, Python-side column defaults, column names that cannot be
attributes) reports ``supported = False`` and takes the ordinary path.
"""

from __future__ import annotations

import keyword
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from acmeca.store.transaction import FAST_READ, FAST_WRITE, Params, Row, Write

Processor = Callable[[Any], Any]


class CompiledRead:
    """One ``fast_read`` SELECT compiled for one dialect."""

    def __init__(self, statement: sa.Select[Any], dialect: Dialect) -> None:
        self.statement = statement  # held, so its id() is never reused while this entry lives
        compiled = statement.compile(dialect=dialect)
        self._compiled = compiled
        self.sql = compiled.string
        self._names = tuple(compiled.positiontup or ())
        binds = compiled.binds
        fields = list(statement.selected_columns.keys())
        columns = list(statement.selected_columns)
        self.supported = (
            not compiled.post_compile_params
            and not compiled.literal_execute_params
            and all(name in binds and not binds[name].expanding for name in self._names)
            and _valid_fields(fields)
        )
        if not self.supported:
            return
        self._binds = _bind_processors(compiled, self._names, dialect)
        # The driver's description is not consulted (SQLite's carries no type codes): SQLAlchemy asks its
        # processors with None as well.
        decoders = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns]
        self._decoders = tuple((index, decode) for index, decode in enumerate(decoders) if decode is not None)
        self._first_decoder = decoders[0] if decoders else None
        self._make = _row_maker(fields)

    def bound(self, parameters: Params | None) -> list[Any]:
        """The driver's positional parameters, in the order the compiled SQL numbers them."""
        return _bound(self._compiled, self._names, self._binds, parameters)

    def row(self, raw: Sequence[Any]) -> Row:
        if not self._decoders:
            return self._make(raw)
        values = list(raw)
        for index, decode in self._decoders:
            values[index] = decode(values[index])
        return self._make(values)

    def first_value(self, raw: Any) -> Any:
        """The first column's value as the ordinary path returns it."""
        decode = self._first_decoder
        return decode(raw) if decode is not None else raw


class CompiledWrite:
    """One ``fast_write`` statement compiled for one dialect and one set of parameter names (an INSERT's
    columns depend on them). A statement with RETURNING runs through ``scalar`` only, one without through
    ``execute`` only."""

    def __init__(self, statement: Write, dialect: Dialect, keys: tuple[str, ...]) -> None:
        self.statement = statement  # held, so its id() is never reused while this entry lives
        self.dialect = dialect
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        self._compiled = compiled
        self.sql = compiled.string
        self._names = tuple(compiled.positiontup or ())
        binds = compiled.binds
        self.supported = (
            not compiled.post_compile_params
            and not compiled.literal_execute_params
            and not compiled.insert_prefetch
            and not compiled.update_prefetch
            and all(name in binds and not binds[name].expanding for name in self._names)
        )
        returning = compiled.effective_returning or ()
        self.returns = bool(returning)
        if self.supported:
            self._binds = _bind_processors(compiled, self._names, dialect)
            self._first_decoder = (
                returning[0].type.dialect_impl(dialect).result_processor(dialect, None) if returning else None
            )

    def bound(self, parameters: Params | None) -> list[Any]:
        return _bound(self._compiled, self._names, self._binds, parameters)

    def first_value(self, raw: Any) -> Any:
        """The first RETURNING column's value as the ordinary path returns it."""
        decode = self._first_decoder
        return decode(raw) if decode is not None else raw


class CompiledStatements:
    """The per-database cache of compiled fast statements, keyed by ``id()`` of the module-level statements
    (which live for the life of the process; each entry holds its statement, so an id is never reused while
    its entry lives) and, for writes, by the parameter names."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._reads: dict[int, CompiledRead] = {}
        self._writes: dict[tuple[int, tuple[str, ...]], CompiledWrite] = {}

    def read(self, statement: sa.Executable) -> CompiledRead | None:
        """The compiled form of a ``fast_read`` SELECT, or None when it must take the ordinary path."""
        compiled = self._reads.get(id(statement))
        if compiled is None or compiled.statement is not statement:
            if not isinstance(statement, sa.Select) or not statement.get_execution_options().get(FAST_READ):
                return None
            compiled = self._reads[id(statement)] = CompiledRead(statement, self.dialect)
        return compiled if compiled.supported else None

    def write(
        self, statement: sa.Executable, parameters: Params | Sequence[Params] | None, *, returns: bool = False
    ) -> CompiledWrite | None:
        """The compiled form of a ``fast_write`` statement for these parameter names, or None."""
        if not isinstance(statement, sa.Insert | sa.Update | sa.Delete):
            return None
        if not statement.get_execution_options().get(FAST_WRITE):
            return None
        keys = write_keys(parameters)
        if keys is None:
            return None
        compiled = self._writes.get((id(statement), keys))
        if compiled is None or compiled.statement is not statement:
            compiled = self._writes[(id(statement), keys)] = CompiledWrite(statement, self.dialect, keys)
        return compiled if compiled.supported and compiled.returns == returns else None


    def compiled_writes(self) -> list[CompiledWrite]:
        """The writes compiled so far that run on the fast path (for tests and diagnostics)."""
        return [compiled for compiled in self._writes.values() if compiled.supported]


def write_keys(parameters: Params | Sequence[Params] | None) -> tuple[str, ...] | None:
    """The parameter names a write is compiled for; None when a parameter list mixes names."""
    if parameters is None:
        return ()
    if isinstance(parameters, Sequence):
        if not parameters:
            return None
        keys = tuple(sorted(parameters[0]))
        return keys if all(tuple(sorted(p)) == keys for p in parameters[1:]) else None
    return tuple(sorted(parameters))


def _bind_processors(compiled: Any, names: tuple[str, ...], dialect: Dialect) -> tuple[Processor | None, ...]:
    binds = compiled.binds
    return tuple(binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)


def _bound(
    compiled: Any, names: tuple[str, ...], binds: tuple[Processor | None, ...], parameters: Params | None
) -> list[Any]:
    values = compiled.construct_params(parameters or {})
    return [
        bind(values[name]) if bind is not None else values[name]
        for name, bind in zip(names, binds, strict=True)
    ]


def _row_maker(fields: list[str]) -> Callable[[Sequence[Any]], Row]:
    """A named tuple type for these columns (rows read ``row.name`` as SQLAlchemy's do); returns its _make."""
    factory: Callable[..., type[Any]] = namedtuple  # called with fields known only at run time
    make: Callable[[Sequence[Any]], Row] = factory("Row", fields)._make
    return make


def _valid_fields(fields: list[str]) -> bool:
    return len(set(fields)) == len(fields) and all(
        f.isidentifier() and not keyword.iskeyword(f) and not f.startswith("_") for f in fields
    )
