"""The Quality pages (docs/quality.md). Each module of this package is one part of quality monitoring and
lists its routes in `ROUTES`; `routes()` gathers them for app/web/app.py.

One URL shows an evaluation, /quality/evaluations/{id}: its evaluator, while it is a draft, gets the
scoring form (`evaluate.page`); everyone else who may read it — the evaluated CSR, evaluators, the CSR's
supervisor — gets the result (`result.page`: the score, the answers, acknowledgement and disputes).
Who may read what is app/services/evaluations.py `get` (app/services/scope.py for quality)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import i18n
from app.services import ServiceError, evaluations
from app.web.auth import current_user, login_redirect
from app.web.quality import calibration, coaching, evaluate, queue, reports, result, rules, scorecard, scorecards
from app.web.templating import staff_language


async def evaluation_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    staff_language(request)
    try:
        evaluation = await evaluations.get(user, request.path_params["evaluation_id"])
    except ServiceError as error:
        return Response(error.said(i18n.gettext), status_code=404, media_type="text/plain")
    request.state.user = user
    if evaluation.status == "draft" and evaluation.evaluator_id == user.id:
        return await evaluate.page(request, user, evaluation)
    return await result.page(request, user, evaluation)


def routes() -> list[Route]:
    return [
        Route("/quality/evaluations/{evaluation_id:int}", evaluation_page, methods=["GET"]),
        *evaluate.ROUTES,
        *result.ROUTES,
        *scorecards.ROUTES,
        *calibration.ROUTES,
        *coaching.ROUTES,
        *scorecard.ROUTES,
        *queue.ROUTES,
        *rules.ROUTES,
        *reports.ROUTES,
    ]
