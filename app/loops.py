"""The worker's own background loops and when each last did its work, for `/readyz`.

A loop that raises keeps running (it logs and retries), so "the task is alive" says nothing:
what counts is its last *success*. Each loop reports `succeeded(name)` after a pass that did
its work; the readiness check calls a loop stalled when that is older than `STALL_AFTER`
times its interval, at least `MIN_STALL_SECONDS` (counted from the loop's start before its first
success). The trail's batch writer is not periodic: it reports `waiting` when rows start to wait
and `succeeded` when they are written, and is stalled when rows have waited
`WRITER_STALL_SECONDS` (docs/operations.md, "Readiness").

On the server's runtime (`app.runtime`), so two servers in one process keep theirs apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from app import runtime

STALL_AFTER = 5  # intervals without a success
MIN_STALL_SECONDS = 10.0  # a loop of a very short interval gets this much slack
WRITER_STALL_SECONDS = 30.0  # an on-demand writer (interval 0) whose work waits this long


@dataclass
class Loop:
    interval: float
    started: float  # monotonic
    last_success: float | None = None
    waiting_since: float | None = None  # the batch writer: rows wait since then
    last_error: str | None = None

    @property
    def stall_seconds(self) -> float:
        if self.interval == 0:
            return WRITER_STALL_SECONDS
        return max(MIN_STALL_SECONDS, STALL_AFTER * self.interval)

    def overdue(self, now: float) -> float | None:
        """Seconds past the last sign of progress when the loop is stalled, else None."""
        if self.waiting_since is not None:
            since = self.waiting_since
        elif self.interval == 0:
            return None  # an on-demand writer with nothing to write
        else:
            since = self.last_success if self.last_success is not None else self.started
        idle = now - since
        return idle if idle > self.stall_seconds else None


class Loops(dict):
    """name → Loop, for this server."""


def _loops() -> Loops | None:
    rt = runtime.installed()
    return rt.state(Loops) if rt is not None else None


def started(name: str, interval: float) -> None:
    """A periodic loop begins (every `interval` seconds); an on-demand writer passes 0."""
    loops = _loops()
    if loops is not None:
        loops[name] = Loop(interval=interval, started=time.monotonic())


def succeeded(name: str) -> None:
    loop = (_loops() or {}).get(name)
    if loop is not None:
        loop.last_success = time.monotonic()
        loop.waiting_since = None
        loop.last_error = None


def failed(name: str, error: BaseException) -> None:
    loop = (_loops() or {}).get(name)
    if loop is not None:
        loop.last_error = f"{type(error).__name__}: {error}"[:300]


def waiting(name: str) -> None:
    """Work is waiting for an on-demand writer (kept from the first time until it succeeds)."""
    loops = _loops()
    if loops is None:
        return
    loop = loops.get(name) or loops.setdefault(name, Loop(interval=0, started=time.monotonic()))
    if loop.waiting_since is None:
        loop.waiting_since = time.monotonic()


def snapshot() -> dict[str, Loop]:
    return dict(_loops() or {})
