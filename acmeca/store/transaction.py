"""The one interface every repository runs on: a transaction its caller opened.

Services own transaction boundaries: they open ``async with db.write() as tx:`` (or ``db.read()``) and pass
``tx`` to repository functions, so whatever must commit together is visibly inside one ``async with``.
Repositories never open transactions themselves.

Two implementations stand behind :class:`Transaction`: ``PostgresTransaction`` (``acmeca.store.postgres``),
which runs on asyncpg, and ``InPlaceTransaction`` (``acmeca.store.inplace``), which runs SQLite statements in
place on the event loop thread. Reads return every row at once (no cursor outlives the
call, so nothing can pin an old SQLite snapshot); writes return how many rows they touched.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa

Params = Mapping[str, Any]
Write = sa.Insert | sa.Update | sa.Delete | sa.TextClause
S = TypeVar("S", bound=sa.Executable)

FAST_READ = "acmeca_fast_read"
FAST_WRITE = "acmeca_fast_write"
W = TypeVar("W", bound=sa.Insert | sa.Update | sa.Delete)


def fast_read(statement: S) -> S:
    """Mark a module-level SELECT for the fast path (compiled once, run straight on sqlite3 or asyncpg). On
    PostgreSQL that includes a SELECT over data-modifying CTEs: one statement that writes and answers.

    SQLAlchemy's per-execution machinery costs several times the statement itself; for the handful of reads
    every ACME request repeats, the fast path binds and decodes with the same type processors itself
    (``acmeca.store.compiled``). Statements it cannot run that way (IN-lists, post-compile parameters) take
    the ordinary path.
    """
    return statement.execution_options(**{FAST_READ: True})


def fast_write(statement: W) -> W:
    """Mark a module-level INSERT, UPDATE or DELETE for the fast path (like ``fast_read``).

    Compiled once per set of parameter names, bound with SQLAlchemy's own type processors and run straight
    on the driver: on the request path SQLAlchemy's compile-cache lookup and execution context cost several
    times the statement. Statements the fast path cannot run the same way (Python-side column defaults,
    IN-lists, a list of parameter sets on PostgreSQL) take the ordinary path; one with RETURNING runs through
    ``Transaction.scalar``.
    """
    marked: W = statement.execution_options(**{FAST_WRITE: True})  # type: ignore[assignment]
    return marked


class Row(Protocol):
    """A result row: a tuple whose columns are also attributes (``row.id``, ``row[0]``, ``a, b = row``).

    ``sqlalchemy.Row`` is one; the SQLite fast path returns named tuples.
    """

    @property
    def _fields(self) -> tuple[str, ...]: ...

    def __getattr__(self, name: str) -> Any: ...

    def __getitem__(self, index: int) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


class Transaction(Protocol):
    """A transaction opened by ``Database.read()`` or ``Database.write()``; repositories run inside it."""

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``: for the few statements spelled differently per backend."""
        ...

    async def execute(self, statement: Write, parameters: Params | Sequence[Params] | None = None) -> int:
        """Run an INSERT, UPDATE or DELETE; return how many rows it touched."""
        ...

    async def all(self, statement: sa.Executable, parameters: Params | None = None) -> Sequence[Row]:
        ...

    async def first(self, statement: sa.Executable, parameters: Params | None = None) -> Row | None:
        ...

    async def scalar(self, statement: sa.Executable, parameters: Params | None = None) -> Any:
        """The first column of the first row, or None when there is no row."""
        ...

    async def scalars(self, statement: sa.Executable, parameters: Params | None = None) -> list[Any]:
        """The first column of every row."""
        ...

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A nested transaction: an exception inside rolls back to it and leaves the outer one usable."""
        ...
