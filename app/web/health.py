"""Probes and metrics for operators (docs/operations.md).

- `/healthz` (app/web/pages.py): liveness — the process answers. Never touches the database.
- `/readyz`: readiness — 200 `{"ok": true, "checks": {…}}` when the database is reachable and
  migrated, Redis (when configured) answers PING, and the worker's loops are not stalled; else
  503 with the same shape and a `reason` in each failed check.
- `/metrics`: this worker's Prometheus metrics, for `Authorization: Bearer <METRICS_TOKEN>`;
  without METRICS_TOKEN the endpoint does not exist (404).
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from app import metrics, runtime
from app.services import operations

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store"}


async def readyz(request: Request) -> Response:
    checks = await operations.readiness()
    ok = all(check["ok"] for check in checks.values())
    return JSONResponse({"ok": ok, "checks": checks}, status_code=200 if ok else 503, headers=NO_STORE)


def _authorized(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # Constant time: how much of a guess matches must not show in the time taken.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def metrics_endpoint(request: Request) -> Response:
    rt = runtime.current()
    token = rt.settings.metrics_token
    if not token:
        return PlainTextResponse("Not Found", status_code=404)
    if not _authorized(request, token):
        return PlainTextResponse("A bearer token (METRICS_TOKEN) is required.", status_code=401,
                                 headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    series = metrics.current()
    if rt.sio is not None:
        series.set_connections(rt.sio.manager.rooms)
    try:
        figures = await asyncio.wait_for(operations.center_figures(), operations.CHECK_SECONDS)
    except Exception as exc:  # the worker's own series still go out; the center's wait for the database
        log.warning("metrics: the center's figures are unavailable: %s: %s", type(exc).__name__, exc)
    else:
        series.set_queues(figures["queues"])
        series.set_today(figures["service_level"], figures["offered"])
    return Response(series.exposition(), media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)
