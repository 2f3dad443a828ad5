"""A submitted evaluation as its readers see it: the score, the answers, the CSR's acknowledgement and
disputes, a supervisor's decisions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.models import Evaluation, User
from app.web.auth import csrf_token
from app.web.templating import console_templates

ROUTES: list[Route] = []


async def page(request: Request, user: User, evaluation: Evaluation) -> Response:
    return console_templates.TemplateResponse(request, "quality/result.html", {
        "user": user, "csrf_token": csrf_token(request), "evaluation": evaluation})
