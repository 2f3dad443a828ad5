"""POST /api/track: the trail's beacon endpoint. The widget sends what must survive the page going
away (time on page, a page view made while its socket was down) with `navigator.sendBeacon`:

    {"site": "<site key>", "token": "<visitor token>",
     "events": [{"type": "page_time", "view_id": "…", "active_ms": 1234},
                {"type": "page_view", "url": "…", "title": "…", "referrer": "…", "view_id": "…"},
                {"type": "track", "name": "signup", "props": {…}}]}

The body is JSON sent as text/plain (a beacon cannot send other types without a CORS preflight),
at most 16 KiB and 20 events. Every event is checked before any is kept: a bad one refuses the
whole beacon (400 with `{error: {code, message, index}}`), nothing is half-stored. 403 for a page
whose origin the site does not allow (or a disabled site, `site_disabled`; a replaced key past
its grace period, `site_key_expired`), 401 for a bad token, 429 past the rate limit (30 beacons a
minute per visitor), 204 when accepted (also when the site keeps no trail: nothing is stored).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app import jsonsafe, runtime
from app.models import Visitor
from app.realtime import validation as v
from app.realtime.visitor import origin_allowed, site_by_key
from app.security import TokenError
from app.services import ServiceError, invitations, sites, tracking
from app.tracking import live

MAX_BODY = 16 * 1024
MAX_EVENTS = 20
MAX_DEPTH = 6  # {events: [{props: {…}}]} is 4 deep; anything deeper is refused before parsing


TYPES = ("page_view", "page_time", "track")


def _error(code: str, message: str, status: int, headers: dict | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status,
                        headers={"cache-control": "no-store", **(headers or {})})


async def _body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _check(event: Any) -> dict[str, Any]:
    """One event of a beacon, checked like its socket twin (app/realtime/visitor.py)."""
    data = v.payload(event)
    kind = data.get("type")
    if kind not in TYPES:
        raise ServiceError("bad_request", "'type' must be one of %(types)s.", types=", ".join(TYPES))
    if kind == "page_time":
        return {"type": kind, "view_id": v.client_id(data, "view_id"),
                "active_ms": v.integer(data, "active_ms", minimum=0)}
    if kind == "page_view":
        return {"type": kind, "url": v.url(data, "url", required=True),
                "title": v.text(data, "title", max_len=512, required=False),
                "referrer": v.url(data, "referrer", required=False),
                "view_id": v.client_id(data, "view_id", required=False)}
    return {"type": kind, "name": v.event_name(data, "name"), "props": tracking.check_props(data.get("props"))}


async def beacon(request: Request) -> Response:
    origin = (request.headers.get("origin") or "").rstrip("/") or None
    raw = await _body(request)
    if raw is None:
        return _error("too_large", f"The body is larger than {MAX_BODY} bytes.", 413)
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        return _error("bad_request", "The body is not UTF-8 JSON.", 400)
    try:
        data = jsonsafe.loads(text, max_depth=MAX_DEPTH)
    except jsonsafe.UnsafeJSON as exc:
        return _error("bad_request", str(exc), 400)
    if not isinstance(data, dict) or not isinstance(data.get("site"), str) or len(data["site"]) > 64:
        return _error("bad_request", "'site' (the site key) is required.", 400)
    if not isinstance(data.get("token"), str) or len(data["token"]) > 512:
        return _error("bad_request", "'token' (the visitor token) is required.", 400)
    events = data.get("events")
    if not isinstance(events, list) or not events:
        return _error("bad_request", "'events' must be a non-empty list.", 400)
    if len(events) > MAX_EVENTS:
        return _error("too_large", f"At most {MAX_EVENTS} events per beacon.", 413)
    site = await site_by_key(data["site"])
    if site is None:
        return _error("unknown_site", "No site has this key.", 404)
    refused = sites.refusal(site, data["site"])  # disabled, or a replaced key past its grace
    if refused is not None:
        return _error(*refused, 404 if refused[0] == "unknown_site" else 403)
    environ = {"HTTP_HOST": request.headers.get("host")}
    if not origin_allowed(site, origin, environ):
        return _error("origin_not_allowed", "This page's origin is not allowed for the site.", 403)
    cors = {"access-control-allow-origin": origin or "", "vary": "Origin"}
    rt = runtime.current()
    try:
        visitor_id = rt.signer.read_visitor_token(data["token"], site.id, rt.settings.visitor_token_max_age)
    except TokenError as exc:
        return _error(exc.code, exc.message, 401, cors)
    checked = []
    for index, event in enumerate(events):
        try:
            checked.append(_check(event))
        except ServiceError as exc:
            return _error(exc.code, exc.message, 400, cors, index=index)
    retry_after = await rt.rate_limiter.hit(f"beacon:{visitor_id}", 30, 60.0)
    if retry_after is not None:
        return _error("rate_limited", "Too many beacons; slow down.", 429,
                      {**cors, "retry-after": str(max(1, round(retry_after)))})
    settings = tracking.settings_of(site)
    dnt = request.headers.get("dnt") == "1" or request.headers.get("sec-gpc") == "1"
    visitor = await Visitor.get_or_none(id=visitor_id, site_id=site.id)
    if visitor is None or not settings.enabled or (settings.respect_dnt and dnt):
        return Response(status_code=204, headers=cors)
    for event in checked:
        if event["type"] == "page_time":
            await tracking.page_time(visitor, settings, event["view_id"], event["active_ms"])
        elif event["type"] == "page_view":
            viewed = await tracking.page_view(visitor, settings, event["url"], event["title"], event["referrer"],
                                              event["view_id"])
            if viewed is not None and live.row(visitor.id) is not None:
                await live.page_viewed(visitor, visitor.current_url or event["url"], visitor.current_title,
                                       event["referrer"], viewed.visit, viewed.new_visit)
        else:
            await invitations.record_event(visitor, settings, event["name"], event["props"])
    return Response(status_code=204, headers=cors)
