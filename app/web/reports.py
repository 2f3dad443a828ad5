"""Reports for supervisors and admins: the page (GET /reports) and its data
(GET /api/reports/<name>?from=&to=&slice=&group=&department=&agent=&variant=[&format=csv]).

Every figure comes from the event log through app/reports/kpi_report.py (the knowledge reports:
app/reports/knowledge_report.py); docs/kpis.md has the formulas.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app import runtime
from app.reports import knowledge_report, kpi_report as report
from app.models import Department
from app.services import scope
from app.web.auth import csrf_token, current_user, supervisor_page
from app.web.templating import console_templates

_CSV_DANGER = ("=", "+", "-", "@", "\t", "\r")


def _today(time_zone: str):
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(time_zone)).date()


async def reports_page(request: Request) -> Response:
    refused = await supervisor_page(request, "Reports are for supervisors and admins.")
    if refused is not None:
        return refused
    user = request.state.user
    settings = runtime.current().settings
    departments = Department.all()
    reach = await scope.reach(user)
    if reach.departments is not None:  # a supervisor: their departments only
        departments = departments.filter(id__in=list(reach.departments))
    departments = await departments.order_by("name").values("id", "name")
    response = console_templates.TemplateResponse(request, "reports.html", {
        "user": user, "csrf_token": csrf_token(request), "departments": departments,
        "today": _today(settings.center_time_zone).isoformat(), "time_zone": settings.center_time_zone,
    })
    response.headers["cache-control"] = "no-store"
    return response


def _cell(value) -> str:
    if value is None:
        return ""
    text = str(value)
    # A spreadsheet must not read a name or a comment as a formula.
    return "'" + text if text.startswith(_CSV_DANGER) else text


def to_csv(result: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    columns = result["columns"]
    # Headed by the columns' labels, or by their stable machine names where the report asks for it.
    header = "key" if result.get("csv_header") == "key" else "label"
    writer.writerow([c[header] for c in columns])
    for row in result["rows"]:
        writer.writerow([_cell(row.get(c["key"])) for c in columns])
    return out.getvalue()


async def report_api(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return JSONResponse({"error": {"code": "unauthorized", "message": "Sign in first."}}, status_code=401)
    if not scope.may_read_reports(user):
        return JSONResponse({"error": {"code": "forbidden", "message": "Reports are for supervisors and admins."}},
                            status_code=403)
    name = request.path_params["name"]
    fmt = request.query_params.get("format") or "json"
    if fmt not in ("json", "csv"):
        return JSONResponse({"error": {"code": "bad_request", "message": "'format' must be json or csv."}},
                            status_code=400)
    if name not in report.REPORTS and name not in knowledge_report.REPORTS:
        return JSONResponse({"error": {"code": "not_found", "message": f"No report {name!r}."}}, status_code=404)
    settings = runtime.current().settings
    params = {k: v for k, v in request.query_params.items() if len(v) <= 64}
    if len(params) != len(request.query_params):
        return JSONResponse({"error": {"code": "bad_request", "message": "A parameter is too long."}}, status_code=400)
    try:
        query = report.parse_query(params, time_zone=settings.center_time_zone,
                                   threshold_seconds=settings.service_level_threshold_seconds,
                                   short_abandon_seconds=settings.short_abandon_seconds,
                                   today=_today(settings.center_time_zone))
    except report.ReportError as exc:
        return JSONResponse({"error": {"code": "bad_request", "message": str(exc)}}, status_code=400)
    # A supervisor's reports are of their queues and staff (app/services/scope.py); a department or
    # CSR out of their scope is answered like one that does not exist.
    reach = await scope.reach(user)
    staff = await scope.members(user)
    if reach.departments is None:
        reach = None
    if query.department_id is not None and (
            not await Department.exists(id=query.department_id)
            or (reach is not None and query.department_id not in reach.departments)):
        return JSONResponse({"error": {"code": "not_found", "message": "No such department."}}, status_code=404)
    if query.agent_id is not None and staff is not None and query.agent_id not in staff:
        return JSONResponse({"error": {"code": "not_found", "message": "No such CSR."}}, status_code=404)
    thresholds = {d["id"]: d["sl_threshold_seconds"] for d in
                  await Department.filter(sl_threshold_seconds__isnull=False).values("id", "sl_threshold_seconds")}
    query = report.Query(**{**query.__dict__, "thresholds": thresholds, "reach": reach, "staff": staff})
    try:
        if name in knowledge_report.REPORTS:
            result = await knowledge_report.run(name, query)
        else:
            result = await report.run(name, query)
    except report.ReportError as exc:
        return JSONResponse({"error": {"code": "bad_request", "message": str(exc)}}, status_code=400)
    if fmt == "csv":
        filename = f"switchboard-{name}-{query.start.isoformat()}-{query.end.isoformat()}.csv"
        return Response(to_csv(result), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{filename}"',
                                 "cache-control": "no-store"})
    return JSONResponse(result, headers={"cache-control": "no-store"})
