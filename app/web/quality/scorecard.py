"""The CSR scorecard pages (docs/quality.md "The CSR scorecard and tenure").

- GET /quality/scorecard — "My scorecard": the signed-in CSR's own (others go to the team view).
- GET /quality/scorecard/{user_id} — a CSR's scorecard for their supervisor, an admin or a quality
  evaluator; a CSR may open only their own (another's id: 404, like a missing one).
- GET /quality/team — every CSR the viewer oversees in one table, with the team median.
- GET /api/quality/scorecard/{user_id}?view=weekly|tenure&weeks=&to=&veteran_months=[&format=csv] and
  GET /api/quality/team?weeks=&to=[&format=csv] — the figures of the charts and tables, as JSON or CSV.

Who reads whose scorecard: app/services/scope.py `evaluation_reach`; the figures: app/reports/csr_scorecard.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from app import i18n, runtime
from app.i18n import N_
from app.models import User
from app.reports import csr_scorecard as card
from app.services import scope
from app.web.auth import csrf_token, current_user, login_redirect
from app.web.reports import to_csv
from app.web.templating import console_templates, staff_language

MAX_PARAM_CHARS = 32
# The fixed words of the scorecard's results (marked here for the catalog; `_localized` shows them).
TEXT = (N_("QA score"), N_("CSAT"), N_("First response time"), N_("AHT"), N_("First-contact resolution"),
        N_("Occupancy"), N_("Adherence to schedule"), N_("Chats per hour"), N_("Weekly trends"), N_("Tenure curve"),
        N_("Team scorecard"), N_("Week"), N_("Week end"), N_("Week of tenure"), N_("From"), N_("To"), N_("CSR"),
        N_("Start date"))
AGENT_STATES = {"none": N_("Not acknowledged"), "acknowledged": N_("Acknowledged"), "disputed": N_("Disputed"),
                "decided": N_("Dispute decided")}


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _today():
    return datetime.now(ZoneInfo(runtime.current().settings.center_time_zone)).date()


def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if any(len(v) > MAX_PARAM_CHARS for v in params.values()):
        raise card.ScorecardError("A parameter is too long.")
    return params


def fmt(value: float | None, kind: str) -> str:
    """A figure as the tables show it ("—": no figure that week)."""
    if value is None:
        return "—"
    if kind == "percent":
        return f"{value * 100:.1f}%"
    if kind == "seconds":
        return i18n.gettext("%(n)s s") % {"n": f"{value:.1f}"}
    if kind == "score":
        return f"{value:.1f}"
    return f"{value:.2f}"


async def _parsed(request: Request, default_weeks: int):
    settings = runtime.current().settings
    weeks, to, months = card.parse(_params(request), today=_today(), veteran_months=settings.qa_veteran_months,
                                   default_weeks=default_weeks)
    return weeks, to, months, await card.options_from(settings, months)


# -- pages -----------------------------------------------------------------------------------------

def _page(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    response = console_templates.TemplateResponse(request, template, {
        "user": request.state.user, "csrf_token": csrf_token(request), "fmt": fmt, "metrics": card.METRICS,
        **context}, status_code=status)
    response.headers["cache-control"] = "no-store"
    return response


async def _viewer(request: Request) -> tuple[User | None, Response | None]:
    user = await current_user(request)
    if user is None:
        return None, login_redirect(request)
    staff_language(request)
    request.state.user = user
    return user, None


async def my_scorecard(request: Request) -> Response:
    """GET /quality/scorecard: the CSR's own; a supervisor, admin or evaluator goes to the team view."""
    user, refused = await _viewer(request)
    if refused is not None:
        return refused
    if user.role != "agent":
        overseer, _ = await scope.evaluation_reach(user)
        if overseer:
            return RedirectResponse("/quality/team", status_code=303)
        return Response(i18n.gettext("The scorecard is for CSRs, their supervisors and quality evaluators."),
                        status_code=403, media_type="text/plain")
    return await _scorecard_page(request, user, user)


async def csr_scorecard(request: Request) -> Response:
    """GET /quality/scorecard/{user_id}."""
    user, refused = await _viewer(request)
    if refused is not None:
        return refused
    overseer, reach = await scope.evaluation_reach(user)
    if not overseer and not reach:  # marketers, back office: none of it
        return Response(i18n.gettext("The scorecard is for CSRs, their supervisors and quality evaluators."),
                        status_code=403, media_type="text/plain")
    user_id = request.path_params["user_id"]
    csr = await card.may_read(user, user_id) if 0 < user_id < 2**31 else None
    if csr is None:
        return Response(i18n.gettext("No such CSR."), status_code=404, media_type="text/plain")
    return await _scorecard_page(request, user, csr)


async def _scorecard_page(request: Request, user: User, csr: User) -> Response:
    own = csr.id == user.id
    try:
        weeks, to, months, options = await _parsed(request, card.DEFAULT_WEEKS)
    except card.ScorecardError as exc:
        return _page(request, "quality/scorecard.html", status=400, csr=csr, own=own, error=str(exc),
                     values=dict(request.query_params), weekly=None, curve=None, evaluations=[], coaching=[])
    tenure_weeks = card.DEFAULT_TENURE_WEEKS  # the curve's last 26 weeks of tenure (the API takes `weeks`)
    weekly = await card.weekly(csr, weeks=weeks, to=to, options=options)
    curve = await card.tenure_curve(csr, weeks=tenure_weeks, to=to, options=options)
    evaluations = [{**e, "state": AGENT_STATES.get(e["agent_state"], e["agent_state"])}
                   for e in await card.evaluations_of(csr.id)]
    values = {"weeks": str(weeks), "to": to.isoformat(), "veteran_months": str(months)}
    return _page(request, "quality/scorecard.html", csr=csr, own=own, error=None, values=values, weekly=weekly,
                 curve=curve, evaluations=evaluations, coaching=await card.coaching_of(csr.id),
                 api=f"/api/quality/scorecard/{csr.id}", query=f"weeks={weeks}&to={to.isoformat()}&veteran_months={months}")


async def team_page(request: Request) -> Response:
    """GET /quality/team: supervisors (their staff), admins and quality evaluators (every CSR)."""
    user, refused = await _viewer(request)
    if refused is not None:
        return refused
    overseer, _ = await scope.evaluation_reach(user)
    if not overseer:
        return Response(i18n.gettext("The team scorecard is for supervisors, admins and quality evaluators."),
                        status_code=403, media_type="text/plain")
    try:
        weeks, to, months, options = await _parsed(request, 4)
    except card.ScorecardError as exc:
        return _page(request, "quality/team.html", status=400, error=str(exc), values=dict(request.query_params),
                     team=None)
    result = await card.team(user, weeks=weeks, to=to, options=options)
    return _page(request, "quality/team.html", error=None, team=result,
                 values={"weeks": str(weeks), "to": to.isoformat()}, query=f"weeks={weeks}&to={to.isoformat()}")


# -- the data ----------------------------------------------------------------------------------------

def _localized(result: dict[str, Any]) -> dict[str, Any]:
    out = dict(result)
    out["title"] = i18n.gettext(result["title"])
    out["columns"] = [{**c, "label": _label(c["label"])} for c in result["columns"]]
    if "metrics" in result:
        out["metrics"] = [{**m, "label": i18n.gettext(m["label"])} for m in result["metrics"]]
    return out


def _label(label: str) -> str:
    for suffix, word in ((" (team median)", N_("%(metric)s (team median)")), (" (veterans)", N_("%(metric)s (veterans)"))):
        if label.endswith(suffix):
            return i18n.gettext(word) % {"metric": i18n.gettext(label[: -len(suffix)])}
    return i18n.gettext(label)


def _reply(request: Request, result: dict[str, Any], filename: str) -> Response:
    if request.query_params.get("format", "json") == "csv":
        return Response(to_csv(result), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{filename}.csv"',
                                 "cache-control": "no-store"})
    return JSONResponse(_localized(result), headers={"cache-control": "no-store"})


async def _api_viewer(request: Request) -> tuple[User | None, Response | None]:
    user = await current_user(request)
    if user is None:
        return None, _error(401, "unauthorized", "Sign in first.")
    staff_language(request)
    if request.query_params.get("format", "json") not in ("json", "csv"):
        return None, _error(400, "bad_request", "'format' must be json or csv.")
    return user, None


async def scorecard_api(request: Request) -> Response:
    user, refused = await _api_viewer(request)
    if refused is not None:
        return refused
    user_id = request.path_params["user_id"]
    csr = await card.may_read(user, user_id) if 0 < user_id < 2**31 else None
    if csr is None:
        overseer, reach = await scope.evaluation_reach(user)
        if not overseer and not reach:  # marketers, back office: none of it
            return _error(403, "forbidden", "The scorecard is for CSRs, their supervisors and quality evaluators.")
        return _error(404, "not_found", "No such CSR.")
    view = request.query_params.get("view") or "weekly"
    if view not in ("weekly", "tenure"):
        return _error(400, "bad_request", "'view' must be weekly or tenure.")
    try:
        weeks, to, _, options = await _parsed(request, card.DEFAULT_WEEKS if view == "weekly"
                                              else card.DEFAULT_TENURE_WEEKS)
    except card.ScorecardError as exc:
        return _error(400, "bad_request", str(exc))
    if view == "weekly":
        result = await card.weekly(csr, weeks=weeks, to=to, options=options)
    else:
        result = await card.tenure_curve(csr, weeks=weeks, to=to, options=options)
    return _reply(request, result, f"switchboard-scorecard-{csr.id}-{view}-{to.isoformat()}")


async def team_api(request: Request) -> Response:
    user, refused = await _api_viewer(request)
    if refused is not None:
        return refused
    overseer, _ = await scope.evaluation_reach(user)
    if not overseer:
        return _error(403, "forbidden", "The team scorecard is for supervisors, admins and quality evaluators.")
    try:
        weeks, to, _, options = await _parsed(request, 4)
    except card.ScorecardError as exc:
        return _error(400, "bad_request", str(exc))
    result = await card.team(user, weeks=weeks, to=to, options=options)
    if request.query_params.get("format") == "csv":
        result = {**result, "rows": [*result["rows"], {"csr": "Team median", **result["median"]}]}
    return _reply(request, result, f"switchboard-team-scorecard-{to.isoformat()}")


ROUTES = [
    Route("/quality/scorecard", my_scorecard, methods=["GET"]),
    Route("/quality/scorecard/{user_id:int}", csr_scorecard, methods=["GET"]),
    Route("/quality/team", team_page, methods=["GET"]),
    Route("/api/quality/scorecard/{user_id:int}", scorecard_api, methods=["GET"]),
    Route("/api/quality/team", team_api, methods=["GET"]),
]
