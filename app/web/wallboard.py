"""The wallboard: today's service level, queues, agents and chats in progress, for a wall screen."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app import runtime
from app.i18n import N_
from app.web.auth import csrf_token, socket_token, supervisor_page
from app.web.pages import refusal
from app.web.templating import console_templates


async def wallboard(request: Request) -> Response:
    refused = await supervisor_page(request, await refusal(request, N_("The wallboard is for supervisors and admins.")))
    if refused is not None:
        return refused
    user = request.state.user
    settings = runtime.current().settings
    response = console_templates.TemplateResponse(
        request, "wallboard.html",
        {
            "user": user,
            "socket_token": socket_token(request),
            "socket_token_seconds": settings.socket_token_seconds,
            "csrf_token": csrf_token(request),
            "time_zone": settings.center_time_zone,
        },
    )
    response.headers["cache-control"] = "no-store"
    return response
