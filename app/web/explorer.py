"""The marketers' trail explorer: the page (GET /explorer) and its data — everything the page shows
for one choice of filters in one request (GET /api/explorer?from=&to=&site=&referrer_type=
&referrer_domain=&keyword=&landing=&country=&device=&visitor=&chat=&converted=&utm_campaign=
&utm_source=&utm_medium=), one table with the same filters (GET /api/explorer/<table>[?format=csv]:
the visits' CSV streams every visit), one visitor's trail (GET /api/explorer/visitors/<id>).

For marketers, supervisors and admins. Trails and aggregates only: no transcripts."""

from __future__ import annotations

import csv
import io

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from app import i18n, runtime
from app.i18n import N_
from app.models import Site
from app.services import ServiceError, explorer, scope, tracking
from app.web.auth import csrf_token, current_user, login_redirect
from app.web.reports import _cell, _today, labels_option, localized, to_csv
from app.web.templating import console_templates, staff_language

# The fixed text of the explorer's tables (app/services/explorer.py), marked for the catalog and
# shown in the request's language (app/web/reports.py `localized`).
EXPLORER_TEXT = (
    N_("Visits"), N_("Top landing pages"), N_("Top exit pages"), N_("Top referrers"), N_("Top search keywords"),
    N_("Most common paths (page → next page)"), N_("Visits and chats per day"), N_("Invitation funnel per rule"),
    N_("Started"), N_("Visitor"), N_("Visit"), N_("Landing page"), N_("Exit page"), N_("Pages"),
    N_("Referrer type"), N_("Referrer"), N_("Keywords"), N_("UTM"), N_("Country"), N_("Device"), N_("Chat"),
    N_("Converted"), N_("Search keywords"), N_("From"), N_("To"), N_("Times"), N_("Day"), N_("Visits with a chat"),
    N_("Conversions"), N_("Rule"), N_("Sent"), N_("Shown"), N_("Accepted"), N_("Chats"), N_("Declined"),
    N_("Expired"), N_("Accepted / shown"), N_("Converted / chats"), N_("UTM campaigns"), N_("Campaign"),
    N_("Source"), N_("Medium"),
)
REFERRER_TYPES = {"direct": N_("Direct"), "internal": N_("Internal"), "search": N_("Search"),
                  "social": N_("Social"), "email": N_("Email"), "paid": N_("Paid"), "other": N_("Other"),
                  "unknown": N_("Unknown")}
DEVICES = {"desktop": N_("Desktop"), "mobile": N_("Mobile"), "tablet": N_("Tablet")}
_YES_NO = {"yes": N_("Yes"), "no": N_("No")}
EXPLORER_VALUES = {"referrer_type": REFERRER_TYPES, "device": DEVICES, "chat": _YES_NO, "converted": _YES_NO}
EXPLORER_DATA_WORDS = {v: v for v in (N_("Manual invitations"),)}


def _localized(result: dict) -> dict:
    out = localized(result, EXPLORER_VALUES, EXPLORER_DATA_WORDS, ("rule",))
    if i18n.current() != i18n.DEFAULT and any(c["key"] == "referrer" for c in out["columns"]):
        rows = []
        for row in out["rows"]:  # "search · google.com": the type is the app's word, the domain data
            kind, dot, domain = str(row.get("referrer", "")).partition(" · ")
            if dot and kind in REFERRER_TYPES:
                row = {**row, "referrer": i18n.gettext(REFERRER_TYPES[kind]) + dot + domain}
            rows.append(row)
        out["rows"] = rows
    return out

def _error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers={"cache-control": "no-store"})


async def explorer_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    if not scope.may_explore(user):
        return PlainTextResponse("The trail explorer is for marketers, supervisors and admins.", status_code=403)
    settings = runtime.current().settings
    response = console_templates.TemplateResponse(request, "explorer.html", {
        "user": user, "csrf_token": csrf_token(request), "sites": await Site.all().order_by("name").values("id", "name"),
        "today": _today(settings.center_time_zone).isoformat(), "time_zone": settings.center_time_zone,
        "referrer_types": [(t, REFERRER_TYPES[t]) for t in explorer.REFERRER_TYPES],
        "devices": [(d, DEVICES[d]) for d in explorer.DEVICES],
    })
    response.headers["cache-control"] = "no-store"
    return response


async def _allowed(request: Request) -> JSONResponse | None:
    user = await current_user(request)
    if user is None:
        return _error("unauthorized", "Sign in first.", 401)
    staff_language(request)
    if not scope.may_explore(user):
        return _error("forbidden", "The trail explorer is for marketers, supervisors and admins.", 403)
    return None


def _filters(request: Request):
    """The request's filters, or the 400 that says what is wrong with them."""
    if any(len(v) > 300 for v in request.query_params.values()):
        raise ServiceError("bad_request", "A parameter is too long.")
    settings = runtime.current().settings
    return explorer.parse(request.query_params, settings.center_time_zone, _today(settings.center_time_zone))


async def explorer_all(request: Request) -> Response:
    """Every table of the page for one choice of filters: {visits, landing_pages, …, funnel}."""
    refused = await _allowed(request)
    if refused is not None:
        return refused
    try:
        result = await explorer.page(_filters(request))
    except ServiceError as exc:
        return _error(exc.code, exc.message, 404 if exc.code == "not_found" else 400)
    return JSONResponse({name: _localized(table) for name, table in result.items()},
                        headers={"cache-control": "no-store"})


def _visits_csv(filters, labels: bool):
    """Every visit that matches, streamed a chunk at a time (never all in memory)."""
    columns = explorer.VISIT_COLUMNS

    def line(cells) -> str:
        out = io.StringIO()
        csv.writer(out).writerow(cells)
        return out.getvalue()

    async def rows():
        if labels:
            yield line([_cell(i18n.gettext(c["label"])) for c in columns])
        yield line([c["label"] for c in columns])
        async for chunk in explorer.visit_chunks(filters):
            out = io.StringIO()
            writer = csv.writer(out)
            for row in chunk:
                writer.writerow([_cell(row.get(c["key"])) for c in columns])
            yield out.getvalue()

    return rows()


async def explorer_api(request: Request) -> Response:
    refused = await _allowed(request)
    if refused is not None:
        return refused
    name = request.path_params["name"]
    fmt = request.query_params.get("format") or "json"
    if fmt not in ("json", "csv"):
        return _error("bad_request", "'format' must be json or csv.", 400)
    labels = labels_option(request)
    if labels is None:
        return _error("bad_request", "'labels' must be 0 or 1.", 400)
    try:
        filters = _filters(request)
        if fmt == "csv" and name == "visits":
            await explorer.check_site(filters)
            await tracking.flush()
            filename = f"switchboard-visits-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
            return StreamingResponse(_visits_csv(filters, labels), media_type="text/csv; charset=utf-8",
                                     headers={"content-disposition": f'attachment; filename="{filename}"',
                                              "cache-control": "no-store"})
        result = await explorer.table(name, filters)
    except ServiceError as exc:
        return _error(exc.code, exc.message, 404 if exc.code == "not_found" else 400)
    if fmt == "csv":
        filename = f"switchboard-{name}-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
        return Response(to_csv(result, labels), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{filename}"',
                                 "cache-control": "no-store"})
    return JSONResponse(_localized(result), headers={"cache-control": "no-store"})


async def visitor_trail(request: Request) -> Response:
    refused = await _allowed(request)
    if refused is not None:
        return refused
    visitor_id = request.path_params["visitor_id"]
    if len(visitor_id) > 40:
        return _error("bad_request", "That is not a visitor id.", 400)
    try:
        return JSONResponse(await explorer.trail(visitor_id), headers={"cache-control": "no-store"})
    except ServiceError as exc:
        return _error(exc.code, exc.message, 404)
