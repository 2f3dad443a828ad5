"""Workforce planning pages: GET /staffing (chart, methods, daily summary) and GET /staffing.csv.

Query parameters (all optional; percentages as numbers such as 80 or 92.5):

| name | default | meaning |
|---|---|---|
| service_level | 80 | target share of chats answered within the threshold, in % (above 0, below 100) |
| threshold | SERVICE_LEVEL_THRESHOLD_SECONDS (20) | the service-level threshold in seconds (0–3,600) |
| max_occupancy | 85 | the most of their time CSRs may spend in chats, in % (above 0, at most 100) |
| shrinkage | 30 | time paid but not on the queue (breaks, training, absence), in % (0 to below 100) |
| weeks | 8 | weeks of history to forecast from (2–26) |
| model | erlang_c | the queueing model: erlang_c (nobody abandons) or erlang_a (visitors abandon) |
| max_abandon | 5 | Erlang A: the most visitors who may give up waiting, in % (above 0, below 100) |
| patience | 120 | Erlang A: the visitors' mean patience in seconds (above 0, at most 3,600) |

Neither model staffs fewer agents than the offered load (docs/kpis.md, "Staffing").
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from app import i18n, runtime
from app.i18n import N_
from app.kpi.forecast import METHODS
from app.kpi.erlang import MODEL_ERLANG_A, MODEL_ERLANG_C
from app.kpi.planning import (
    CSV_COLUMNS, MAX_WEEKS, METHOD_NAMES, MIN_WEEKS, StaffingTargets, daily_summary, to_csv, to_json,
)
from app.reports.planning import staffing_plan
from app.services import scope
from app.web.auth import csrf_token, supervisor_page
from app.web.reports import labels_option
from app.web.templating import console_templates, staff_language

FIELDS = {
    # name: (label, default or None for the settings' threshold). A label is a message the template
    # formats (newstyle gettext): its percent sign is written %%.
    "service_level": (N_("Service-level target (%%)"), 80.0),
    "threshold": (N_("Threshold (seconds)"), None),
    "max_occupancy": (N_("Maximum occupancy (%%)"), 85.0),
    "shrinkage": (N_("Shrinkage (%%)"), 30.0),
    "weeks": (N_("History (weeks)"), 8.0),
    "max_abandon": (N_("Erlang A: maximum abandonment (%%)"), 5.0),
    "patience": (N_("Erlang A: mean patience (seconds)"), 120.0),
}
MODEL_LABEL = N_("Queueing model")
MODEL_NAMES = {  # value: name on the page (app/kpi/erlang.py MODEL_*)
    MODEL_ERLANG_C: N_("Erlang C (nobody abandons)"),
    MODEL_ERLANG_A: N_("Erlang A (visitors abandon)"),
}
DEFAULT_MODEL = MODEL_ERLANG_C
# The CSV's columns (app/kpi/planning.py CSV_COLUMNS) by name, for its optional row of names in the
# user's language (`labels=1`).
CSV_LABELS = {
    "slot_start_local": N_("Slot start (local time)"), "slot_start_utc": N_("Slot start (UTC)"),
    "forecast_chats": N_("Forecast chats"), "agents": N_("Required agents"), "staff": N_("Staff to schedule"),
    "service_level": N_("Service level"), "occupancy": N_("Occupancy"), "asa_seconds": N_("ASA (seconds)"),
    "abandonment": N_("Abandonment"),
}
METHOD_TEXT = {  # app/kpi/planning.py METHOD_NAMES, for the catalog
    "seasonal_naive": N_("Seasonal naive (same slot last week)"),
    "seasonal_mean": N_("Seasonal mean (same slot, up to 4 weeks)"),
    "holt_winters": N_("Holt-Winters smoothing (statsmodels)"),
}


def csv_label_row() -> str:
    """The CSV columns' names in the request's language, as a CSV line."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([i18n.gettext(CSV_LABELS[c]) for c in CSV_COLUMNS])
    return out.getvalue()


class BadParameter(ValueError):
    """A bad target: `str()` is the English sentence (the CSV's 400), `translated()` the page's."""

    def __init__(self, message: str, **params: str) -> None:
        self.message, self.params = message, params
        english = {k: v.replace("%%", "%") if k == "label" else v for k, v in params.items()}
        super().__init__(message % english if params else message)

    def translated(self) -> str:
        params = {k: i18n.gettext(v).replace("%%", "%") if k == "label" else v for k, v in self.params.items()}
        text = i18n.gettext(self.message)
        return text % params if params else text


# The targets' own checks (app/kpi/planning.py StaffingTargets), for the catalog.
TARGET_ERRORS = (
    N_("The service-level target must be above 0 % and below 100 %."),
    N_("The threshold must be between 0 and 3,600 seconds."),
    N_("The maximum occupancy must be above 0 % and at most 100 %."),
    N_("Shrinkage must be at least 0 % and below 100 %."),
    N_("The maximum abandonment must be above 0 % and below 100 %."),
    N_("The mean patience must be above 0 and at most 3,600 seconds."),
)


def _number(query: Mapping[str, str], name: str, default: float) -> float:
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        return default
    label = FIELDS[name][0]
    if len(raw) > 20:
        raise BadParameter(N_("%(label)s: too long."), label=label)
    try:
        value = float(raw)
    except ValueError:
        raise BadParameter(N_("%(label)s: %(value)s is not a number."), label=label, value=repr(raw)) from None
    if not math.isfinite(value):
        raise BadParameter(N_("%(label)s: must be a finite number."), label=label)
    return value


def parse_targets(query: Mapping[str, str], default_threshold: float) -> tuple[StaffingTargets, dict[str, str]]:
    """The targets from the query string (BadParameter with a message on bad input), and the
    values to show back in the form."""
    unknown = sorted(set(query) - set(FIELDS) - {"model"})
    if unknown:
        raise BadParameter(N_("Unknown parameter: %(name)s."), name=unknown[0][:40])
    sl = _number(query, "service_level", 80.0)
    threshold = _number(query, "threshold", default_threshold)
    occupancy = _number(query, "max_occupancy", 85.0)
    shrinkage = _number(query, "shrinkage", 30.0)
    weeks = _number(query, "weeks", 8.0)
    max_abandon = _number(query, "max_abandon", 5.0)
    patience = _number(query, "patience", 120.0)
    model = (query.get("model") or "").strip() or DEFAULT_MODEL
    if model not in MODEL_NAMES:
        raise BadParameter(N_("%(label)s: choose Erlang C or Erlang A."), label=MODEL_LABEL)
    if weeks != int(weeks):
        raise BadParameter(N_("History (weeks): must be a whole number."))
    try:
        targets = StaffingTargets(target_sl=sl / 100, threshold_seconds=threshold, max_occupancy=occupancy / 100,
                                  shrinkage=shrinkage / 100, weeks=int(weeks), model=model,
                                  max_abandon=max_abandon / 100, patience_seconds=patience)
    except ValueError as exc:
        if not MIN_WEEKS <= weeks <= MAX_WEEKS:  # the same sentence as StaffingTargets', translatable
            raise BadParameter(N_("The history must be %(min)s to %(max)s weeks."),
                               min=str(MIN_WEEKS), max=str(MAX_WEEKS)) from None
        raise BadParameter(str(exc)) from None
    shown = {"service_level": _plain(sl), "threshold": _plain(threshold), "max_occupancy": _plain(occupancy),
             "shrinkage": _plain(shrinkage), "weeks": str(int(weeks)), "model": model,
             "max_abandon": _plain(max_abandon), "patience": _plain(patience)}
    return targets, shown


def _plain(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


async def _authorized(request: Request) -> Response | None:
    return await supervisor_page(request, "Workforce planning is for supervisors and admins.")


async def _plan(request: Request, targets: StaffingTargets):
    """The plan for the queues the user supervises (app/services/scope.py; admins: the center)."""
    settings = runtime.current().settings
    return await staffing_plan(time_zone=settings.center_time_zone, targets=targets,
                               concurrency_override=settings.staffing_concurrency,
                               reach=await scope.reach(request.state.user))


async def staffing_csv(request: Request) -> Response:
    refused = await _authorized(request)
    if refused is not None:
        return refused
    staff_language(request)
    labels = labels_option(request)
    if labels is None:
        return PlainTextResponse("'labels' must be 0 or 1.", status_code=400)
    targets_query = {k: v for k, v in request.query_params.items() if k != "labels"}
    try:
        targets, _ = parse_targets(targets_query, runtime.current().settings.service_level_threshold_seconds)
    except BadParameter as exc:
        return PlainTextResponse(str(exc), status_code=400)
    plan = await _plan(request, targets)
    return Response(
        (csv_label_row() if labels else "") + to_csv(plan), media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="staffing-{plan.slots[0].label[:10]}.csv"',
            "cache-control": "no-store",
        },
    )


async def staffing(request: Request) -> Response:
    refused = await _authorized(request)
    if refused is not None:
        return refused
    staff_language(request)  # the messages this handler translates (the template's follow it too)
    user = request.state.user
    settings = runtime.current().settings
    context = {
        "user": user, "csrf_token": csrf_token(request), "fields": FIELDS, "error": None, "plan": None,
        "model_label": MODEL_LABEL, "models": MODEL_NAMES,
        "values": {"service_level": "80", "threshold": _plain(settings.service_level_threshold_seconds),
                   "max_occupancy": "85", "shrinkage": "30", "weeks": "8", "model": DEFAULT_MODEL,
                   "max_abandon": "5", "patience": "120"},
    }
    try:
        targets, shown = parse_targets(request.query_params, settings.service_level_threshold_seconds)
    except BadParameter as exc:
        context["error"] = exc.translated()
        context["values"].update({k: v[:20] for k, v in request.query_params.items() if k in FIELDS or k == "model"})
        response = console_templates.TemplateResponse(request, "staffing.html", context, status_code=400)
        response.headers["cache-control"] = "no-store"
        return response
    plan = await _plan(request, targets)
    methods = [
        {"name": METHOD_TEXT.get(m, METHOD_NAMES[m]), "wape": plan.choice.wape.get(m), "used": m == plan.method} for m in METHODS
    ]
    context.update(
        values=shown, plan=plan, methods=methods, days=daily_summary(plan), chart=to_json(plan),
        busy_slots=[s for s in plan.slots if s.agents > 0],
        csv_url="/staffing.csv?" + urlencode(shown), time_zone=settings.center_time_zone,
    )
    response = console_templates.TemplateResponse(request, "staffing.html", context)
    response.headers["cache-control"] = "no-store"
    return response
