"""The wallboard: today's service level, queues, agents and chats in progress, for a wall screen."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from app import runtime
from app.services.supervision import SUPERVISOR_ROLES
from app.web.auth import csrf_token, current_user, login_redirect
from app.web.templating import console_templates


async def wallboard(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    if user.role not in SUPERVISOR_ROLES:
        return PlainTextResponse("The wallboard is for supervisors and admins.", status_code=403)
    settings = runtime.current().settings
    response = console_templates.TemplateResponse(
        request, "wallboard.html",
        {
            "user": user,
            "socket_token": runtime.current().signer.socket_token(user.id),
            "csrf_token": csrf_token(request),
            "time_zone": settings.center_time_zone,
        },
    )
    response.headers["cache-control"] = "no-store"
    return response
