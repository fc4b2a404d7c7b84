"""How long a request waits for work in flight, and what it tells a client that has to come back.

A challenge or finalize POST writes its durable job first, then gives the work up to ``settleWithin`` to
finish so the reply can carry the outcome (as step-ca's does). Work that takes longer goes on in the
background and the reply says ``processing`` with a ``Retry-After`` that grows with the time the work has
already taken: a slow validation is often one retrying with backoff (0.2 s, 0.4 s, ... 2 s), so polling
about as long again as it has run keeps the number of polls small while adding at most that much delay,
and never later than the work's own time budget ends.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta
from typing import Any

MIN_RETRY_AFTER = 1  # RFC 9110 §10.2.3: delay-seconds is a non-negative integer; 0 would invite a busy loop


def retry_after(started: datetime, budget: timedelta, now: datetime) -> int:
    """Whole seconds until work that began at ``started`` and must end by ``started + budget`` is worth a poll."""
    elapsed = (now - started).total_seconds()
    remaining = (started + budget - now).total_seconds()
    return max(MIN_RETRY_AFTER, math.ceil(min(elapsed, remaining)))


async def settled_within(task: asyncio.Task[Any], bound: timedelta) -> bool:
    """Wait up to ``bound`` for ``task`` without cancelling it (it carries on if the bound passes)."""
    if not task.done() and bound > timedelta(0):
        await asyncio.wait({task}, timeout=bound.total_seconds())
    return task.done()
