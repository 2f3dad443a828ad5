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

from app import i18n, runtime
from app.i18n import N_
from app.reports import knowledge_report, kpi_report as report, live
from app.models import Department
from app.services import scope
from app.web.auth import csrf_token, current_user, supervisor_page
from app.web.templating import console_templates, staff_language

_CSV_DANGER = ("=", "+", "-", "@", "\t", "\r")

# The fixed text of the reports' results (app/reports/kpi_report.py, workorder_report.py,
# knowledge_report.py): titles, column labels and KPI names. Marked here for the catalog (`make
# messages` extracts app/web only); `localized` shows them in the request's language. A label the
# catalog lacks (a date heading a column) stays as it is.
REPORT_TEXT = (
    # titles
    N_("Summary"), N_("Traffic"), N_("Queues"), N_("Agents"), N_("Agent state log"), N_("Missed chats"),
    N_("Satisfaction"), N_("Invitations"), N_("Open work orders by age"), N_("Work orders per day"),
    N_("Work-order SLA"), N_("Callbacks"), N_("Contact categories"), N_("Knowledge base per day"),
    N_("Searches with no result"), N_("Articles read"), N_("Canned responses used"),
    # KPIs (the summary's rows and the grouped summary's columns)
    N_("After-hours chats"), N_("After-hours abandoned"),
    N_("Offered"), N_("Answered"), N_("Abandoned"), N_("Short abandons"), N_("Abandonment rate"),
    N_("Average abandon time"), N_("Service level"), N_("ASA"), N_("Average queue time"), N_("First response time"),
    N_("AHT"), N_("Transfer rate"), N_("First-contact resolution"), N_("Answered rate"), N_("CSAT"), N_("Ratings"),
    # columns
    N_("KPI"), N_("This period"), N_("Previous period"), N_("Change"), N_("Interval"), N_("Queue"),
    N_("Longest wait"), N_("CSR"), N_("Signed in"), N_("Ready"), N_("Away"), N_("Away by reason"), N_("Chats"),
    N_("Occupancy"), N_("Concurrency"), N_("Chats per hour"), N_("Scheduled"), N_("Conformance"), N_("From"),
    N_("To"), N_("State"), N_("Reason"), N_("Duration"), N_("When"), N_("Chat"), N_("Cause"), N_("Waited"),
    N_("By"), N_("Name"), N_("Good"), N_("Neutral"), N_("Bad"), N_("Step"), N_("Age"), N_("Open orders"),
    N_("Day"), N_("Created"), N_("Reopened"), N_("Resolved"), N_("Open at end of day"), N_("Orders"),
    N_("First responses in time"), N_("First responses counted"), N_("First-response SLA"),
    N_("Resolutions in time"), N_("Resolutions counted"), N_("Resolution SLA"), N_("Average resolution time"),
    N_("90th percentile resolution time"), N_("Reopen rate"), N_("Urges per order"), N_("Escalations"),
    N_("Assignee"), N_("Due"), N_("Done"), N_("Not yet due"), N_("Overdue"), N_("Reached"), N_("Not reached"),
    N_("Satisfied"), N_("Not satisfied"), N_("Category"), N_("Classified chats"), N_("Work orders created"),
    N_("Searches"), N_("Self-service sessions"), N_("Sessions counted for deflection"), N_("Deflected sessions"),
    N_("Deflection rate"), N_("Articles inserted as a link"), N_("Articles inserted as text"),
    N_("Chats closed after an insert"), N_("Search"), N_("Last searched"), N_("Article id"), N_("Title"),
    N_("Reads"), N_("Inserted as a link"), N_("Inserted as text"), N_("Canned response id"), N_("Shortcut"),
    N_("Scope"), N_("Uses in the period"), N_("Uses ever"), N_("Department"), N_("Agent"), N_("Site"),
    N_("CSAT comments"), N_("Rating"), N_("Comment"), N_("24-hour profile"), N_("Day-of-week profile"), N_("Hour"),
    N_("Day of week"),
)

# Values that are the app's words, not data: column key → {value in the result: its text}. The
# JSON keeps them as they are for English (scripts read them); other languages get them translated.
# The CSV always keeps them as they are.
REPORT_VALUES: dict[str, dict[str, str]] = {
    "kpi": {}, "cause": {v: v for v in (
        N_("No agent online — left a note (offline form)"), N_("Outside business hours — left a note (offline form)"),
        N_("Left a note (offline form) instead of waiting"), N_("Left a note (offline form)"),
        N_("Left within the short-abandon time"), N_("Visitor left the queue"), N_("Offer not answered in time"),
        N_("Left while held outside business hours"))},
    "state": {"available": N_("Available"), "away": N_("Away"), "offline": N_("Offline")},
    "step": {"sent": N_("Sent"), "shown": N_("Shown"), "accepted": N_("Accepted"), "declined": N_("Declined"),
             "expired": N_("Expired"), "chat_started": N_("Chat started"), "converted": N_("Converted")},
    "by": {v: v for v in (N_("CSR"), N_("Department"), N_("All"), N_("Team"), N_("Handler"), N_("Category"))},
    "age": {v: v for v in (N_("< 1 day"), N_("1–3 days"), N_("3–7 days"), N_("> 7 days"), N_("Total"))},
    "scope": {"personal": N_("Personal"), "department": N_("Department"), "global": N_("Global")},
    "rating": {"good": N_("Good"), "neutral": N_("Neutral"), "bad": N_("Bad")},
}
# Columns of data (names, titles, searches …) that may hold one of the app's own words.
REPORT_DATA_WORDS = {v: v for v in (N_("Total"), N_("General"), N_("All orders"), N_("No team"), N_("Nobody"),
                                     N_("No category"), N_("Not answered"), N_("No reason"))}
_DATA_WORD_KEYS = ("name", "queue", "day", "assignee", "category", "group", "department")
# The columns whose every value is the app's word (the page may translate them; the rest is data).
_WORD_KEYS = frozenset(REPORT_VALUES) | {"away_by_reason"}


def _away_by_reason(text: str) -> str:
    """"Lunch: 30 min; No reason: 5 min" in the request's language (reasons are admins' names)."""
    parts = []
    for part in text.split("; "):
        reason, _, minutes = part.rpartition(": ")
        if not reason or not minutes.endswith(" min"):
            return text
        reason = i18n.gettext(reason) if reason == "No reason" else reason
        parts.append(i18n.gettext("%(reason)s: %(minutes)s min") % {"reason": reason, "minutes": minutes[:-4]})
    return "；".join(parts)


def localized(result: dict, values: dict[str, dict[str, str]] | None = None,
              data_words: dict[str, str] | None = None, data_keys=_DATA_WORD_KEYS) -> dict:
    """A copy of a report's result for the page, in the request's language: its title, its columns'
    labels, the app's words among its values (`values` by column key; `data_words` in the data columns
    `data_keys`), and each column saying whether its values are data (`"data": true`: names, titles …,
    shown untranslated). The same for the results it carries (the knowledge lists, the aging table)."""
    values = REPORT_VALUES if values is None else values
    data_words = REPORT_DATA_WORDS if data_words is None else data_words
    english = i18n.current() == i18n.DEFAULT
    out = dict(result)
    if isinstance(result.get("title"), str):
        out["title"] = i18n.gettext(result["title"])
    columns = result.get("columns") or []
    out["columns"] = [{**c, "label": i18n.gettext(c["label"]),
                       # away_by_reason: admins' reason names with minutes already in the page's language
                       "data": c.get("kind") == "text" and c["key"] not in values}
                      for c in columns]
    if not english and "rows" in result:
        rows = []
        for row in result["rows"]:
            row = dict(row)
            for key, value in list(row.items()):
                if not isinstance(value, str):
                    continue
                if key == "kpi":
                    row[key] = i18n.gettext(value)
                elif key == "away_by_reason" and value:
                    row[key] = _away_by_reason(value)
                elif key in values and value in values[key]:
                    row[key] = i18n.gettext(values[key][value])
                    row[key + "_key"] = value  # the value as English has it (the page styles by it)
                elif key in data_keys and value in data_words:
                    row[key] = i18n.gettext(data_words[value])
            rows.append(row)
        out["rows"] = rows
    for key, value in result.items():
        if isinstance(value, dict) and "columns" in value:
            out[key] = localized(value, values, data_words, data_keys)
    return out


def labels_option(request: Request) -> bool | None:
    """The CSV's `labels` parameter: 1 → a first row of the columns' names in the user's language
    (the machine header follows); absent, empty or 0 → none. None for any other value (a 400)."""
    value = request.query_params.get("labels", "")
    return {"": False, "0": False, "1": True}.get(value)


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


def to_csv(result: dict, labels: bool = False) -> str:
    """The result as CSV: a header row of stable names (the labels in English, or the machine keys
    where the report asks for it), then the rows. `labels`: first a row of the columns' names in the
    request's language."""
    out = io.StringIO()
    writer = csv.writer(out)
    columns = result["columns"]
    if labels:
        writer.writerow([_cell(i18n.gettext(c["label"])) for c in columns])
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
    staff_language(request)
    name = request.path_params["name"]
    fmt = request.query_params.get("format") or "json"
    if fmt not in ("json", "csv"):
        return JSONResponse({"error": {"code": "bad_request", "message": "'format' must be json or csv."}},
                            status_code=400)
    labels = labels_option(request)
    if labels is None:
        return JSONResponse({"error": {"code": "bad_request", "message": "'labels' must be 0 or 1."}},
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
                                   fcr_window_hours=settings.fcr_window_hours,
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
    thresholds = await live.department_thresholds()
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
        return Response(to_csv(result, labels), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": f'attachment; filename="{filename}"',
                                 "cache-control": "no-store"})
    return JSONResponse(localized(result), headers={"cache-control": "no-store"})
