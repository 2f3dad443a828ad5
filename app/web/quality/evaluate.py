"""The evaluation form: an evaluator scores a draft (the transcript beside the scorecard)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.models import Evaluation, User
from app.web.auth import csrf_token
from app.web.templating import console_templates

ROUTES: list[Route] = []


async def page(request: Request, user: User, evaluation: Evaluation) -> Response:
    return console_templates.TemplateResponse(request, "quality/evaluate.html", {
        "user": user, "csrf_token": csrf_token(request), "evaluation": evaluation})
