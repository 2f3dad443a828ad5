"""What an operator asks a worker: is it ready to serve (`readiness`), and the center's figures
its metrics show when scraped (`center_figures`). docs/operations.md says what each answer means.

Every check has its own time limit, and they run side by side: a database that hangs makes
`/readyz` answer "database: timed out" within CHECK_SECONDS, never hang the probe.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

from tortoise.functions import Count

from app import db, loops, runtime
from app.models import Conversation, Department
from app.reports import live

CHECK_SECONDS = 2.0


async def _database() -> dict[str, Any]:
    settings = runtime.current().settings
    connection = db.current_connection(settings)
    await connection.execute_query("SELECT 1")
    status = await db.migration_status(connection)
    answer: dict[str, Any] = {"ok": status.current, "applied": len(status.applied)}
    if status.pending:
        # This code needs tables the database lacks: run `migrate` before sending it traffic.
        answer["reason"] = f"{len(status.pending)} migration(s) not applied: {', '.join(status.pending)}"
        answer["pending"] = status.pending
    if status.unknown:
        # A newer release migrated the database (a rolling upgrade): this worker still serves.
        answer["newer"] = status.unknown
    return answer


async def _redis() -> dict[str, Any]:
    rt = runtime.current()
    if rt.redis is None:
        return {"ok": True, "configured": False}
    await rt.redis.ping()
    return {"ok": True}


def _loops() -> dict[str, Any]:
    now = time.monotonic()
    found: dict[str, Any] = {}
    for name, loop in sorted(loops.snapshot().items()):
        overdue = loop.overdue(now)
        state: dict[str, Any] = {"ok": overdue is None}
        if loop.last_success is not None:
            state["last_success_seconds_ago"] = round(now - loop.last_success, 1)
        if overdue is not None:
            what = "rows waiting to be written" if loop.interval == 0 else "no successful pass"
            state["reason"] = f"stalled: {what} for {overdue:.0f} s (limit {loop.stall_seconds:.0f} s)"
            if loop.last_error:
                state["last_error"] = loop.last_error
        found[name] = state
    return {"ok": all(s["ok"] for s in found.values()), "loops": found}


async def _bounded(check: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    try:
        return await asyncio.wait_for(check(), CHECK_SECONDS)
    except asyncio.TimeoutError:
        return {"ok": False, "reason": f"timed out after {CHECK_SECONDS:g} s"}
    except Exception as exc:  # the reason is the answer: no traceback for a probe
        return {"ok": False, "reason": f"{type(exc).__name__}: {str(exc)[:300]}"}


async def readiness() -> dict[str, dict[str, Any]]:
    """check name → {"ok": bool, "reason": … when not ok, details}."""
    database, redis = await asyncio.gather(_bounded(_database), _bounded(_redis))
    return {"database": database, "redis": redis, "loops": _loops()}


async def center_figures() -> dict[str, Any]:
    """The whole center's figures for metrics: chats waiting per department, today's service level."""
    settings = runtime.current().settings
    waiting = {row["department_id"]: row["n"] for row in await Conversation.filter(status="waiting")
               .annotate(n=Count("id")).group_by("department_id").values("department_id", "n")}
    queues = [(d["id"], d["name"], waiting.pop(d["id"], 0)) for d in await Department.all().values("id", "name")]
    queues += [(None, "(none)", n) for n in waiting.values() if n]  # chats of no (or a deleted) department
    today = await live.today(time_zone=settings.center_time_zone,
                             threshold_seconds=settings.service_level_threshold_seconds,
                             short_abandon_seconds=settings.short_abandon_seconds)
    return {"queues": queues, "service_level": today["service_level"], "offered": today["offered"]}
