"""Quality reports (/quality/reports): QA score by CSR, team, criterion and week, critical failures,
disputes, evaluations done vs planned, QA score against CSAT — charts and a table each, and each table as
CSV (/quality/reports.csv?table=…&from=&to=&department=[&labels=1], the columns as app/web/reports.py
writes them). Supervisors (their staff), qa users and admins (everyone); app/services/quality_reports.py."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import i18n, runtime
from app.i18n import N_
from app.models import Department, User
from app.services import quality_reports, scope
from app.web.admin.common import digits
from app.web.auth import csrf_token, current_user, login_redirect
from app.web.reports import labels_option, to_csv
from app.web.templating import console_templates, staff_language

MAX_DAYS = 366
RATING_LABELS = {"good": N_("Good"), "neutral": N_("Neutral"), "bad": N_("Bad")}


def _period(request: Request) -> tuple[date, date, int | None, dict[str, str]]:
    q = request.query_params
    zone = ZoneInfo(runtime.current().settings.center_time_zone)
    today = datetime.now(zone).date()
    errors: dict[str, str] = {}

    def day(name: str, default: date) -> date:
        raw = q.get(name) or ""
        if not raw:
            return default
        try:
            return date.fromisoformat(raw[:10]) if len(raw) == 10 else date.fromisoformat("x")
        except ValueError:
            errors[name] = i18n.gettext("A date, YYYY-MM-DD.")
            return default

    end = day("to", today)
    start = day("from", end - timedelta(days=27))
    if not errors and start > end:
        errors["from"] = i18n.gettext("The start is after the end.")
    elif not errors and (end - start).days >= MAX_DAYS:
        errors["from"] = i18n.gettext("At most %(days)s days.") % {"days": MAX_DAYS}
    if errors:
        start, end = today - timedelta(days=27), today
    department = q.get("department") or ""
    department_id = None
    if department:
        if digits(department):
            department_id = int(department)
        else:
            errors["department"] = i18n.gettext("Choose a department from the list.")
    return start, end, department_id, errors


async def _user(request: Request) -> User | Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    staff_language(request)
    if not scope.may_evaluate(user):
        return Response(i18n.gettext("Quality reports are for evaluators, supervisors and admins."),
                        status_code=403, media_type="text/plain")
    request.state.user = user
    return user


async def _departments(user: User) -> list[dict]:
    query = Department.all()
    reach = await scope.reach(user) if user.role == "supervisor" else None
    if reach is not None and reach.departments is not None:
        query = query.filter(id__in=list(reach.departments))
    return await query.order_by("name").values("id", "name")


async def _compute(request: Request, user: User):
    start, end, department_id, errors = _period(request)
    departments = await _departments(user)
    if department_id is not None and department_id not in {d["id"] for d in departments}:
        errors["department"] = i18n.gettext("Choose a department from the list.")
        department_id = None
    zone = ZoneInfo(runtime.current().settings.center_time_zone)
    begin = datetime(start.year, start.month, start.day, tzinfo=zone)
    stop = datetime(end.year, end.month, end.day, tzinfo=zone) + timedelta(days=1)
    result = await quality_reports.compute(user, begin, stop, department_id)
    return result, start, end, department_id, departments, errors


def _bars(rows: list[dict], label: str, value: str, most: float | None = None) -> list[dict]:
    """Bars of a chart: label, value, width in % of the largest (or `most`)."""
    values = [r[value] for r in rows if isinstance(r.get(value), (int, float))]
    top = most or (max(values) if values else 0) or 1
    return [{"label": str(r.get(label) if r.get(label) is not None else "—"), "value": r.get(value),
             "width": round(100 * r[value] / top, 1) if isinstance(r.get(value), (int, float)) else 0}
            for r in rows]


async def reports_page(request: Request) -> Response:
    user = await _user(request)
    if isinstance(user, Response):
        return user
    result, start, end, department_id, departments, errors = await _compute(request, user)
    tables = result["tables"]
    charts = {
        "agents": _bars(tables["agents"]["rows"], "agent", "qa_score", 100),
        "teams": _bars(tables["teams"]["rows"], "team", "qa_score", 100),
        "criteria": _bars(tables["criteria"]["rows"], "criterion", "score", 100),
        "weeks": _bars(tables["weeks"]["rows"], "week", "qa_score", 100),
        "evaluators": _bars(tables["evaluators"]["rows"], "evaluator", "done_rate", 100),
        "csat": _bars([{**r, "rating": i18n.gettext(RATING_LABELS[r["rating"]])} for r in result["correlation"]["by_rating"]],
                      "rating", "qa_score", 100),
    }
    query = f"from={start.isoformat()}&to={end.isoformat()}" + (f"&department={department_id}" if department_id else "")
    response = console_templates.TemplateResponse(request, "quality/reports.html", {
        "user": user, "csrf_token": csrf_token(request), "result": result, "tables": tables, "charts": charts,
        "start": start.isoformat(), "end": end.isoformat(), "department_id": department_id,
        "departments": departments, "errors": errors, "query": query,
        "time_zone": runtime.current().settings.center_time_zone,
    }, status_code=400 if errors else 200)
    response.headers["cache-control"] = "no-store"
    return response


async def reports_csv(request: Request) -> Response:
    user = await _user(request)
    if isinstance(user, Response):
        return user
    table = request.query_params.get("table") or ""
    if table not in quality_reports.TABLES:
        return Response(i18n.gettext("Unknown table."), status_code=400, media_type="text/plain")
    labels = labels_option(request)
    if labels is None:
        return Response(i18n.gettext("'labels' must be 0 or 1."), status_code=400, media_type="text/plain")
    result, start, end, _, _, errors = await _compute(request, user)
    if errors:
        return Response("\n".join(errors.values()), status_code=400, media_type="text/plain")
    filename = f"switchboard-quality-{table}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(to_csv(result["tables"][table], labels), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"', "cache-control": "no-store"})


ROUTES = [
    Route("/quality/reports", reports_page, methods=["GET"]),
    Route("/quality/reports.csv", reports_csv, methods=["GET"]),
]
