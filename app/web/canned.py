"""Canned responses over HTTP: the JSON API the console's reply box and the Canned responses page
call (docs/canned_responses.md), and that page.

Every call needs a signed-in session of chat staff (CSR, supervisor, admin; marketers and handlers:
403); every POST the session's CSRF token in the `X-CSRF-Token` header. Errors are
`{"ok": false, "error": {"code", "message", "field"}}` with 400 (bad input), 401, 403 (CSRF, a scope
the user may not write), 404 (an id that does not exist or may not be used), 409 (a duplicate
shortcut), 413 (a JSON body over 64 KiB). Who uses and writes which response is decided in
app/services/canned.py.

    GET  /api/canned                  the responses the user uses (?manage=1: and those they write)
    POST /api/canned                  create {shortcut, title, body, scope, department_id}
    POST /api/canned/{id}             edit (the fields given)
    POST /api/canned/{id}/delete      delete
    POST /api/canned/{id}/use         {conversation_id} → {text}: the body with its variables filled
    GET  /canned                      the Canned responses page
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from app.knowledge import canned as rules
from app.models import User
from app.services import ServiceError, canned
from app.web.admin.common import digits
from app.web import jsonapi
from app.web.auth import csrf_token, current_user, login_redirect
from app.web.templating import console_templates

MAX_JSON = 64 * 1024
MAX_JSON_DEPTH = 10


async def _json(request: Request) -> dict[str, Any]:
    return await jsonapi.read_json(request, max_bytes=MAX_JSON, max_depth=MAX_JSON_DEPTH)


def _response_id(request: Request) -> int:
    raw = request.path_params["response_id"]
    if not digits(raw, 9):
        raise ServiceError("not_found", "No such canned response.")
    return int(raw)


def api(post: bool = True):
    """A JSON endpoint of chat staff (app/web/jsonapi.py): signed in, a chat role, CSRF on a POST."""
    return jsonapi.endpoint(lambda user: user.role in canned.CHAT_ROLES, "Canned responses are for the staff who chat.",
                            post=post)


async def _one(user: User, response) -> dict[str, Any]:
    return (await canned.view(user, [response]))[0]


@api(post=False)
async def list_responses(request: Request, user: User) -> Response:
    manage = request.query_params.get("manage") == "1"
    responses = await (canned.manageable(user) if manage else canned.usable(user))
    departments = await canned.writable_departments(user)
    return jsonapi.ok({
        "responses": await canned.view(user, responses),
        "may": await canned.rights(user),
        "departments": [{"id": d.id, "name": d.name, "site": d.site.name} for d in departments],
        "variables": [{"name": "{" + name + "}", "meaning": meaning} for name, meaning in rules.VARIABLES.items()],
    })


@api()
async def create_response(request: Request, user: User) -> Response:
    response = await canned.save(user, None, await _json(request))
    return jsonapi.ok({"response": await _one(user, response)}, status=201)


@api()
async def edit_response(request: Request, user: User) -> Response:
    response_id = _response_id(request)
    response = await canned.save(user, response_id, await _json(request))
    return jsonapi.ok({"response": await _one(user, response)})


@api()
async def delete_response(request: Request, user: User) -> Response:
    await canned.delete(user, _response_id(request))
    return jsonapi.ok()


@api()
async def use_response(request: Request, user: User) -> Response:
    response_id = _response_id(request)
    data = await _json(request)
    return jsonapi.ok(await canned.use(user, response_id, data.get("conversation_id")))


async def page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    if user.role not in canned.CHAT_ROLES:
        return PlainTextResponse("Canned responses are for the staff who chat.", status_code=403)
    response = console_templates.TemplateResponse(
        request, "canned.html", {"user": user, "csrf_token": csrf_token(request)})
    response.headers["cache-control"] = "no-store"
    return response


ROUTES = [
    Route("/canned", page, methods=["GET"]),
    Route("/api/canned", list_responses, methods=["GET"]),
    Route("/api/canned", create_response, methods=["POST"]),
    Route("/api/canned/{response_id:str}", edit_response, methods=["POST"]),
    Route("/api/canned/{response_id:str}/delete", delete_response, methods=["POST"]),
    Route("/api/canned/{response_id:str}/use", use_response, methods=["POST"]),
]
