"""Admin page: the audit log — every supervisory and admin action (who, what, on which chat, user,
site or setting, before → after, when), filtered by actor, action and dates (in the center's time
zone), newest first, 100 a page, and the same rows as CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import runtime
from app.clock import iso
from app.i18n import N_
from app.services import audit
from app.web.admin.common import Message, admin_user, digits, render
from app.web.reports import _cell as csv_cell

PATH = "/admin/audit"
CSV_ROWS = 50_000


class BadFilter(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def _day(raw: str, field: str, zone: ZoneInfo) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.combine(date.fromisoformat(raw), time(0), tzinfo=zone)
    except ValueError:
        raise BadFilter(field, Message(N_("%(value)s is not a date such as 2026-12-01."), value=repr(raw[:20]))) from None


def parse(params: Any, zone: ZoneInfo) -> audit.Filters:
    actor = params.get("actor", "")
    if actor and not digits(actor):
        raise BadFilter("actor", N_("Choose someone from the list."))
    action = params.get("action", "")
    if len(action) > 32:
        raise BadFilter("action", N_("Choose an action from the list."))
    since = _day(params.get("from", ""), "from", zone)
    until = _day(params.get("to", ""), "to", zone)
    if since and until and until < since:
        raise BadFilter("to", N_("The end date is before the start date."))
    before = params.get("before", "")
    return audit.Filters(actor_id=int(actor) if actor else None, action=action or None, since=since,
                         until=until + timedelta(days=1) if until else None,
                         before_id=int(before) if digits(before, 18) else None)


def _shown(params: Any) -> dict[str, str]:
    return {k: params.get(k, "")[:40] for k in ("actor", "action", "from", "to")}


async def page(request: Request) -> Response:
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    zone_name = runtime.current().settings.center_time_zone
    zone = ZoneInfo(zone_name)
    values = _shown(request.query_params)
    context: dict[str, Any] = {"values": values, "actions": await audit.actions_in_log(),
                               "labels": audit.ACTION_LABELS, "actors": await audit.actors_in_log(),
                               "zone": zone_name, "entries": [], "older": None}
    try:
        filters = parse(request.query_params, zone)
    except BadFilter as exc:
        return render(request, user, "admin/audit.html", PATH, status=400, errors={exc.field: exc.message}, **context)
    entries = await audit.search(filters, audit.PAGE_SIZE + 1)
    more = len(entries) > audit.PAGE_SIZE
    entries = entries[: audit.PAGE_SIZE]
    for entry in entries:
        entry["local"] = entry["at"].astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        entry["iso"] = iso(entry["at"])
    query = {k: v for k, v in values.items() if v}
    context.update(entries=entries, filtered=bool(query),
                   older=f"{PATH}?{urlencode({**query, 'before': entries[-1]['id']})}" if more else None,
                   csv_url=f"{PATH}.csv" + (f"?{urlencode(query)}" if query else ""))
    return render(request, user, "admin/audit.html", PATH, **context)


def _changes(entry: dict) -> str:
    return "; ".join(f"{k}: {_plain(b)} → {_plain(a)}" for k, b, a in entry["changes"])


def _plain(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (list, dict)):
        import json

        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


async def export(request: Request) -> Response:
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    zone = ZoneInfo(runtime.current().settings.center_time_zone)
    try:
        filters = parse(request.query_params, zone)
    except BadFilter as exc:
        return Response(str(exc), status_code=400, media_type="text/plain")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["at", "actor", "actor_email", "action", "action_label", "conversation_id", "target",
                     "changes", "details"])
    for entry in await audit.search(filters, CSV_ROWS):
        writer.writerow([csv_cell(v) for v in (
            iso(entry["at"]), entry["actor"], entry["actor_email"], entry["action"], entry["label"],
            entry["conversation_id"], entry["target"], _changes(entry),
            "; ".join(f"{k}: {_plain(v)}" for k, v in sorted(entry["details"].items())))])
    await audit.record(user, "export_audit", filters={k: v for k, v in _shown(request.query_params).items() if v})
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": 'attachment; filename="audit-log.csv"',
                             "cache-control": "no-store"})


ROUTES = [Route(PATH, page, methods=["GET"]), Route(f"{PATH}.csv", export, methods=["GET"])]
