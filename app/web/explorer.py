"""The marketers' trail explorer: the page (GET /explorer) and its data
(GET /api/explorer/<table>?from=&to=&site=&referrer_type=&referrer_domain=&keyword=&landing=&country=
&device=&visitor=&chat=&converted=[&format=csv], GET /api/explorer/visitors/<id>).

For marketers, supervisors and admins. Trails and aggregates only: no transcripts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from app import runtime
from app.models import Site
from app.services import ServiceError, explorer, scope
from app.web.auth import csrf_token, current_user, login_redirect
from app.web.reports import _today, to_csv
from app.web.templating import console_templates

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
        "referrer_types": explorer.REFERRER_TYPES, "devices": explorer.DEVICES,
    })
    response.headers["cache-control"] = "no-store"
    return response


async def _allowed(request: Request) -> JSONResponse | None:
    user = await current_user(request)
    if user is None:
        return _error("unauthorized", "Sign in first.", 401)
    if not scope.may_explore(user):
        return _error("forbidden", "The trail explorer is for marketers, supervisors and admins.", 403)
    return None


async def explorer_api(request: Request) -> Response:
    refused = await _allowed(request)
    if refused is not None:
        return refused
    name = request.path_params["name"]
    fmt = request.query_params.get("format") or "json"
    if fmt not in ("json", "csv"):
        return _error("bad_request", "'format' must be json or csv.", 400)
    if any(len(v) > 300 for v in request.query_params.values()):
        return _error("bad_request", "A parameter is too long.", 400)
    settings = runtime.current().settings
    try:
        filters = explorer.parse(request.query_params, settings.center_time_zone, _today(settings.center_time_zone))
        result = await explorer.table(name, filters)
    except ServiceError as exc:
        return _error(exc.code, exc.message, 404 if exc.code == "not_found" else 400)
    if fmt == "csv":
        filename = f"switchboard-{name}-{filters.start.isoformat()}-{filters.end.isoformat()}.csv"
        return Response(to_csv(result), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{filename}"',
                                 "cache-control": "no-store"})
    return JSONResponse(result, headers={"cache-control": "no-store"})


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
