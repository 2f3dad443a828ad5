"""Work orders over HTTP: the staff's JSON API (docs/protocol.md "Work orders"), the Work orders
pages, and the customer's status link.

Every staff call needs a signed-in session; every POST the session's CSRF token in the
`X-CSRF-Token` header (or a `csrf_token` form field for uploads). Errors are
`{"ok": false, "error": {"code", "message", "field"}}` with 400 (bad input), 401, 403 (CSRF, a
role or team that may not act), 404 (an id that does not exist or may not be read), 409 (a move the
workflow does not allow), 413 (a file over 10 MB, a JSON body over 64 KiB), 415 (a file that is not an
image or a PDF).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from app import runtime
from app.i18n import N_
from app.models import Site, User
from app.services import ServiceError, scope, work_setup, workorders
from app.web.admin.common import digits
from app.web import jsonapi
from app.web.auth import check_csrf, client_address, csrf_token, current_user, login_redirect
from app.web.pages import socket_context
from app.web.templating import console_templates
from app.workorders import workflow

MAX_JSON = 64 * 1024
MAX_JSON_DEPTH = 20
MAX_UPLOAD = 10 * 1024 * 1024 + 64 * 1024  # the file and the form around it
PAGE_ROLES = ("agent", "supervisor", "admin", "handler")
CUSTOMER_REPLIES_PER_HOUR = 30


async def _json(request: Request) -> dict[str, Any]:
    return await jsonapi.read_json(request, max_bytes=MAX_JSON, max_depth=MAX_JSON_DEPTH)


def _order_id(request: Request) -> int:
    raw = request.path_params["order_id"]
    if not digits(raw, 18):
        raise ServiceError("not_found", "No such work order.")
    return int(raw)


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if not digits(raw, 9):
        raise ServiceError("bad_request", "%(name)s is a number.", name, name=name)
    return int(raw)


def api(post: bool = True):
    """A staff JSON endpoint: sign-in, role and CSRF checked; a ServiceError becomes its error reply
    (in the user's language, app/web/jsonapi.py)."""
    return jsonapi.endpoint(lambda user: user.role in PAGE_ROLES, N_("Work orders are for staff."), post=post)


# -- reading ---------------------------------------------------------------------------------------

@api(post=False)
async def list_orders(request: Request, user: User) -> Response:
    q = request.query_params
    status = q.get("status") or "open"
    if status not in (*workflow.STATUSES, "open", "all"):
        raise ServiceError("bad_request", "Unknown status.", "status")
    priority = q.get("priority") or None
    if priority is not None and priority not in workflow.PRIORITIES:
        raise ServiceError("bad_request", "Unknown priority.", "priority")
    search = (q.get("q") or "").strip()
    if len(search) > 200:
        raise ServiceError("bad_request", "The search is too long.", "q")
    limit = _int_param(request, "limit") or 50
    offset = _int_param(request, "offset") or 0
    filters = workorders.Filters(
        status=status, team_id=_int_param(request, "team"), handler_id=_int_param(request, "handler"),
        category_id=_int_param(request, "category"), priority=priority, overdue=q.get("overdue") == "1",
        mine=q.get("mine") == "1", site_id=_int_param(request, "site"), search=search)
    return jsonapi.ok(await workorders.search(user, filters, limit=min(limit, 200), offset=offset))


@api(post=False)
async def get_order(request: Request, user: User) -> Response:
    return jsonapi.ok({"order": await workorders.detail(user, _order_id(request))})


@api(post=False)
async def options(request: Request, user: User) -> Response:
    """What the pickers offer: teams (with members), categories, staff, sites the user serves."""
    reach = await scope.reach(user) if user.role != "handler" else None
    sites = await Site.filter(disabled_at=None).values("id", "name")
    if reach is not None and reach.sites is not None:
        sites = [s for s in sites if s["id"] in reach.sites]
    if user.role == "handler":
        sites = []
    staff = await User.filter(is_active=True, role__in=workorders.STAFF_ROLES).order_by("display_name") \
        .values("id", "display_name", "role")
    return jsonapi.ok({"teams": await work_setup.teams(), "categories": await work_setup.categories(active_only=True),
                "staff": [{"id": s["id"], "name": s["display_name"], "role": s["role"]} for s in staff],
                "sites": sites, "statuses": [{"id": s, "label": workflow.LABELS[s]} for s in workflow.STATUSES],
                "priorities": [{"id": p, "label": workflow.PRIORITY_LABELS[p]} for p in workflow.PRIORITIES],
                "me": user.id})


@api(post=False)
async def draft(request: Request, user: User) -> Response:
    conversation_id = _int_param(request, "conversation_id")
    if conversation_id is None:
        raise ServiceError("bad_request", "Which conversation?", "conversation_id")
    return jsonapi.ok({"draft": await workorders.from_conversation_draft(user, conversation_id)})


@api(post=False)
async def of_visitor(request: Request, user: User) -> Response:
    visitor_id = request.path_params["visitor_id"]
    if len(visitor_id) > 40:
        raise ServiceError("not_found", "No such visitor.")
    if user.role != "handler":
        await scope.read_visitor(user, visitor_id)
    return jsonapi.ok({"orders": await workorders.of_visitor(user, visitor_id, open_only=request.query_params.get("all") != "1")})


# -- acting ----------------------------------------------------------------------------------------

@api()
async def create_order(request: Request, user: User) -> Response:
    data = await _json(request)
    source = "chat" if data.get("conversation_id") is not None else "manual"
    order = await workorders.create(user, data, source=source)
    return jsonapi.ok({"order": await workorders.detail(user, order.id)}, status=201)


@api()
async def change_order(request: Request, user: User) -> Response:
    order = await workorders.change(user, _order_id(request), await _json(request))
    return jsonapi.ok({"order": await workorders.detail(user, order.id)})


@api()
async def dispatch_order(request: Request, user: User) -> Response:
    data = await _json(request)
    order = await workorders.dispatch(user, _order_id(request), team_id=data.get("team_id"),
                                      handler_id=data.get("handler_id"), reason=data.get("reason"),
                                      transfer=data.get("transfer") is True)
    return jsonapi.ok({"order": await workorders.detail(user, order.id)})


@api()
async def move_order(request: Request, user: User) -> Response:
    data = await _json(request)
    order = await workorders.move(user, _order_id(request), data.get("status"))
    return jsonapi.ok({"order": await workorders.detail(user, order.id)})


@api()
async def post_entry(request: Request, user: User) -> Response:
    data = await _json(request)
    order_id = _order_id(request)
    entry = await workorders.post(user, order_id, data.get("kind"), data.get("body"))
    return jsonapi.ok({"entry_id": entry.id, "order": await workorders.detail(user, order_id)}, status=201)


@api()
async def urge_order(request: Request, user: User) -> Response:
    data = await _json(request)
    order = await workorders.urge(user, _order_id(request), data.get("note"))
    return jsonapi.ok({"order": await workorders.detail(user, order.id)})


@api()
async def watch_order(request: Request, user: User) -> Response:
    data = await _json(request)
    order_id = _order_id(request)
    await workorders.watch(user, order_id, data.get("user_id"), on=data.get("on", True) is not False)
    return jsonapi.ok({"order": await workorders.detail(user, order_id)})


@api()
async def add_callback(request: Request, user: User) -> Response:
    data = await _json(request)
    order_id = _order_id(request)
    callback = await workorders.add_callback(user, order_id, assignee_id=data.get("assignee_id"),
                                             due_at=data.get("due_at"), note=data.get("note"))
    return jsonapi.ok({"callback_id": callback.id, "order": await workorders.detail(user, order_id)}, status=201)


@api()
async def record_callback(request: Request, user: User) -> Response:
    data = await _json(request)
    raw = request.path_params["callback_id"]
    callback = await workorders.record_callback(user, int(raw) if digits(raw, 18) else None,
                                                outcome=data.get("outcome"), note=data.get("note"))
    return jsonapi.ok({"order": await workorders.detail(user, callback.work_order_id)})


@api()
async def bulk_assign(request: Request, user: User) -> Response:
    """Dispatch several orders at once; each is checked on its own and the reply says which were not."""
    data = await _json(request)
    ids = data.get("ids")
    if not isinstance(ids, list) or not ids or len(ids) > 200 or not all(type(i) is int for i in ids):
        raise ServiceError("bad_request", "Pick 1 to 200 orders.", "ids")
    done, refused = [], []
    for order_id in ids:
        try:
            await workorders.dispatch(user, order_id, team_id=data.get("team_id"), handler_id=data.get("handler_id"),
                                      reason=data.get("reason"), transfer=False)
            done.append(order_id)
        except ServiceError as exc:
            if exc.field in ("team_id", "handler_id") and exc.code == "bad_request":
                raise
            refused.append({"id": order_id, "code": exc.code, "message": exc.message})
    return jsonapi.ok({"done": done, "refused": refused})


async def _upload(request: Request) -> tuple[str, bytes]:
    if int(request.headers.get("content-length") or 0) > MAX_UPLOAD:
        raise ServiceError("too_large", "A file is at most 10 MB.", "file")
    form = await request.form(max_files=1, max_fields=5, max_part_size=MAX_UPLOAD)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise ServiceError("bad_request", "Choose a file.", "file")
    data = await upload.read(MAX_UPLOAD)
    return upload.filename or "", data


async def upload_attachment(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return jsonapi.error("unauthorized", "Sign in first.")
    if user.role not in PAGE_ROLES:
        return jsonapi.error("forbidden", "Work orders are for staff.")
    if not check_csrf(request, request.headers.get("x-csrf-token")):
        return jsonapi.error("csrf", "The page expired; reload it and try again.")
    try:
        order = await workorders.get(user, _order_id(request))
        name, data = await _upload(request)
        attachment = await workorders.attach(order, name, data, actor=user)
    except ServiceError as exc:
        return jsonapi.error(exc.code, exc.message, exc.field)
    return jsonapi.ok({"attachment_id": attachment.id}, status=201)


def _file_response(attachment, path) -> Response:
    """An attachment as a download: its sniffed type, never shown inline as a page, sandboxed."""
    if not path.exists():
        return PlainTextResponse("The file is missing.", status_code=404)
    disposition = "inline" if attachment.content_type.startswith("image/") else "attachment"
    return FileResponse(path, media_type=attachment.content_type, filename=attachment.filename,
                        content_disposition_type=disposition,
                        headers={"x-content-type-options": "nosniff", "cache-control": "private, no-store",
                                 "content-security-policy": "default-src 'none'; sandbox"})


async def download_attachment(request: Request) -> Response:
    user = await current_user(request)
    if user is None or user.role not in PAGE_ROLES:
        return PlainTextResponse("Sign in first.", status_code=401 if user is None else 403)
    try:
        order = await workorders.get(user, _order_id(request))
        raw = request.path_params["attachment_id"]
        attachment, path = await workorders.attachment_file(order, int(raw) if digits(raw, 18) else None)
    except ServiceError as exc:
        return PlainTextResponse(exc.message, status_code=jsonapi.STATUS.get(exc.code, 400))
    return _file_response(attachment, path)


# -- pages -----------------------------------------------------------------------------------------

async def _page(request: Request, template: str, **context: Any) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    if user.role not in PAGE_ROLES:
        return PlainTextResponse("Work orders are for staff.", status_code=403)
    response = console_templates.TemplateResponse(
        request, template, {"user": user, "csrf_token": csrf_token(request), **socket_context(request), **context})
    response.headers["cache-control"] = "no-store"
    return response


async def list_page(request: Request) -> Response:
    return await _page(request, "workorders.html")


async def order_page(request: Request) -> Response:
    raw = request.path_params["order_id"]
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    if not digits(raw, 18):
        return PlainTextResponse("No such work order.", status_code=404)
    try:
        if user.role in PAGE_ROLES:
            await workorders.get(user, int(raw))
    except ServiceError:
        return PlainTextResponse("No such work order.", status_code=404)
    return await _page(request, "workorder.html", order_id=int(raw))


# -- the customer's status link (no account: the signed token is the key) -------------------------

async def _customer_order(request: Request):
    return await workorders.order_of_token(request.path_params["token"])


def _customer_page(request: Request, order_view: dict | None, *, status: int = 200, error: str | None = None,
                   sent: bool = False, token: str = "") -> Response:
    response = console_templates.TemplateResponse(
        request, "request_status.html", {"order": order_view, "error": error, "sent": sent, "token": token},
        status_code=status)
    response.headers["cache-control"] = "no-store"
    response.headers["referrer-policy"] = "no-referrer"  # the link is the key: never leak it
    return response


async def customer_page(request: Request) -> Response:
    try:
        order = await _customer_order(request)
    except ServiceError:
        return _customer_page(request, None, status=404, error="This link is not valid.")
    return _customer_page(request, await workorders.public_view(order), sent=request.query_params.get("sent") == "1",
                          token=request.path_params["token"])


async def customer_reply(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        order = await _customer_order(request)
    except ServiceError:
        return _customer_page(request, None, status=404, error="This link is not valid.")
    limiter = runtime.current().rate_limiter
    if await limiter.hit(f"wo:customer:{order.id}", CUSTOMER_REPLIES_PER_HOUR, 3600) is not None \
            or await limiter.hit(f"wo:customer-ip:{client_address(request)}", CUSTOMER_REPLIES_PER_HOUR, 3600) is not None:
        return _customer_page(request, await workorders.public_view(order), status=429,
                              error="Too many replies for now. Please try again later.", token=token)
    try:
        form = await request.form(max_files=1, max_fields=5, max_part_size=MAX_UPLOAD)
        body = form.get("body")
        upload = form.get("file")
        data = None
        if upload is not None and not isinstance(upload, str) and upload.filename:
            data = await upload.read(MAX_UPLOAD)
            workorders.check_file(data)  # a refused file stores nothing, not even the reply
        entry = await workorders.customer_reply(order, body if isinstance(body, str) else None, via="link")
        if data is not None:
            await workorders.attach(order, upload.filename, data, actor=None, entry_id=entry.id)
    except ServiceError as exc:
        return _customer_page(request, await workorders.public_view(order), status=jsonapi.STATUS.get(exc.code, 400),
                              error=exc.message, token=token)
    return RedirectResponse(f"/requests/{token}?sent=1", status_code=303)


async def customer_attachment(request: Request) -> Response:
    try:
        order = await _customer_order(request)
        raw = request.path_params["attachment_id"]
        attachment, path = await workorders.attachment_file(order, int(raw) if digits(raw, 18) else None,
                                                            customer=True)
    except ServiceError:
        return PlainTextResponse("Not found.", status_code=404)
    return _file_response(attachment, path)


ROUTES = [
    Route("/work-orders", list_page, methods=["GET"]),
    Route("/work-orders/{order_id:str}", order_page, methods=["GET"]),
    Route("/api/work-orders", list_orders, methods=["GET"]),
    Route("/api/work-orders", create_order, methods=["POST"]),
    Route("/api/work-orders/options", options, methods=["GET"]),
    Route("/api/work-orders/draft", draft, methods=["GET"]),
    Route("/api/work-orders/bulk-assign", bulk_assign, methods=["POST"]),
    Route("/api/work-orders/callbacks/{callback_id:str}", record_callback, methods=["POST"]),
    Route("/api/work-orders/{order_id:str}", get_order, methods=["GET"]),
    Route("/api/work-orders/{order_id:str}", change_order, methods=["POST"]),
    Route("/api/work-orders/{order_id:str}/dispatch", dispatch_order, methods=["POST"]),
    Route("/api/work-orders/{order_id:str}/status", move_order, methods=["POST"]),
    Route("/api/work-orders/{order_id:str}/posts", post_entry, methods=["POST"]),
    Route("/api/work-orders/{order_id:str}/urge", urge_order, methods=["POST"]),
    Route("/api/work-orders/{order_id:str}/watchers", watch_order, methods=["POST"]),
    Route("/api/work-orders/{order_id:str}/callbacks", add_callback, methods=["POST"]),
    Route("/api/work-orders/{order_id:str}/attachments", upload_attachment, methods=["POST"]),
    Route("/api/work-orders/{order_id:str}/attachments/{attachment_id:str}", download_attachment, methods=["GET"]),
    Route("/api/visitors/{visitor_id:str}/work-orders", of_visitor, methods=["GET"]),
    Route("/requests/{token:str}", customer_page, methods=["GET"]),
    Route("/requests/{token:str}", customer_reply, methods=["POST"]),
    Route("/requests/{token:str}/attachments/{attachment_id:str}", customer_attachment, methods=["GET"]),
]
