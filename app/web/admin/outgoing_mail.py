"""Admin page: Outgoing mail — every mail the product sent or would send (without SMTP_URL the
outbox), newest first, 50 a page, filtered by status; each row's body opens as text."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import runtime
from app.clock import iso
from app.i18n import N_
from app.services import mail
from app.web.admin.common import admin_user, digits, render

PATH = "/admin/outgoing-mail"
PAGE_SIZE = 50
# The status filter: (value, label); "queued" also shows the mail being sent.
FILTERS = (("", N_("All")), ("outbox", N_("Outbox")), ("queued", N_("Queued")), ("sent", N_("Sent")), ("failed", N_("Failed")))
STATUS_LABELS = {"outbox": N_("Outbox"), "queued": N_("Queued"), "sending": N_("Sending"), "sent": N_("Sent"),
                 "failed": N_("Failed")}


def _url(status: str, offset: int) -> str:
    query = {k: v for k, v in (("status", status), ("offset", str(offset) if offset else "")) if v}
    return PATH + (f"?{urlencode(query)}" if query else "")


async def page(request: Request) -> Response:
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    zone_name = runtime.current().settings.center_time_zone
    zone = ZoneInfo(zone_name)
    status = request.query_params.get("status", "")
    raw_offset = request.query_params.get("offset", "")
    context: dict[str, Any] = {"filters": FILTERS, "chosen": status[:20], "zone": zone_name, "mails": [],
                               "newer": None, "older": None, "smtp": bool(runtime.current().settings.smtp_url)}
    if status not in dict(FILTERS):
        return render(request, user, "admin/outgoing_mail.html", PATH, status=400,
                      errors={"status": N_("Choose a status from the list.")}, **context)
    offset = int(raw_offset) if digits(raw_offset, 9) else 0
    rows = await mail.outbox(limit=PAGE_SIZE + 1, offset=offset, status=status or None)
    for row in rows:
        row["status_label"] = STATUS_LABELS.get(row["status"], row["status"])
        for key in ("created_at", "sent_at"):
            moment = row[key]
            row[key.replace("_at", "_local")] = moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else None
            row[key.replace("_at", "_iso")] = iso(moment)
    context.update(mails=rows[:PAGE_SIZE],
                   newer=_url(status, max(0, offset - PAGE_SIZE)) if offset else None,
                   older=_url(status, offset + PAGE_SIZE) if len(rows) > PAGE_SIZE else None)
    return render(request, user, "admin/outgoing_mail.html", PATH, **context)


ROUTES = [Route(PATH, page, methods=["GET"])]
