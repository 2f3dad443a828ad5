"""An admin's data protection requests for one visitor:
GET /api/admin/visitors/<id>/export (everything we hold, as a JSON download) and
POST /api/admin/visitors/<id>/erase (delete everything; the X-CSRF-Token header or a csrf_token
form field carries the session's CSRF token)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.services import ServiceError, privacy
from app.web.auth import check_csrf, current_user

_STATUS = {"forbidden": 403, "not_found": 404}


def _error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers={"cache-control": "no-store"})


async def export(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return _error("unauthorized", "Sign in first.", 401)
    visitor_id = request.path_params["visitor_id"]
    if len(visitor_id) > 40:
        return _error("bad_request", "Not a visitor id.", 400)
    try:
        data = await privacy.export(user, visitor_id)
    except ServiceError as exc:
        return _error(exc.code, exc.message, _STATUS.get(exc.code, 400))
    return JSONResponse(data, headers={
        "cache-control": "no-store", "content-disposition": f'attachment; filename="visitor-{visitor_id}.json"'})


async def erase(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return _error("unauthorized", "Sign in first.", 401)
    submitted = request.headers.get("x-csrf-token")
    if submitted is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        submitted = str((await request.form()).get("csrf_token") or "")
    if not check_csrf(request, submitted):
        return _error("csrf", "The form expired; reload the page and try again.", 403)
    visitor_id = request.path_params["visitor_id"]
    if len(visitor_id) > 40:
        return _error("bad_request", "Not a visitor id.", 400)
    try:
        deleted = await privacy.erase(user, visitor_id)
    except ServiceError as exc:
        return _error(exc.code, exc.message, _STATUS.get(exc.code, 400))
    return JSONResponse({"ok": True, "deleted": deleted}, headers={"cache-control": "no-store"})
