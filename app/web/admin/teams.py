"""Admin page: handling teams — the back-office groups that handle work orders (not chat queues):
list, create, edit (name, description, lead, members, business hours in the team's own time zone,
holidays). Everything goes through app/services/work_setup.py, as the CLI (`work-setup`) does."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app import runtime
from app.models import Team, User
from app.routing import hours
from app.i18n import N_
from app.services import ServiceError, work_setup
from app.services.accounts import ROLE_LABELS
from app.web.admin.common import (
    FieldError,
    admin_form,
    admin_user,
    digits,
    form_values,
    render,
)

PATH = "/admin/teams"
# Who may be in a team or lead it: active staff, not marketers (work_setup.save_team checks it too).
TEAM_ROLES = ("agent", "supervisor", "admin", "handler")


async def _staff() -> list[dict[str, Any]]:
    users = await User.filter(is_active=True, role__in=TEAM_ROLES).order_by("display_name", "id")
    return [{"id": u.id, "name": u.display_name or u.email, "role_label": ROLE_LABELS.get(u.role, u.role)}
            for u in users]


def _form_context(values: dict[str, Any], staff: list[dict[str, Any]]) -> dict[str, Any]:
    return {"values": values, "staff": staff, "zones": hours.zone_names(),
            "center_zone": runtime.current().settings.center_time_zone}


def _values(form: Any) -> dict[str, Any]:
    """The form as `work_setup.save_team` takes it."""
    members: list[int] = []
    for raw in form.getlist("members"):
        if not digits(str(raw)):
            raise FieldError("members", N_("Pick members from the list."))
        members.append(int(str(raw)))
    lead_raw = str(form.get("lead_id") or "").strip()
    if lead_raw and not digits(lead_raw):
        raise FieldError("lead_id", N_("Pick the lead from the list."))
    return {"name": str(form.get("name") or ""), "description": str(form.get("description") or ""),
            "lead_id": int(lead_raw) if lead_raw else None, "members": members,
            "business_hours": str(form.get("business_hours") or "").strip(),
            "time_zone": str(form.get("time_zone") or "").strip(), "holidays": str(form.get("holidays") or "")}


def _typed(form: Any) -> dict[str, Any]:
    """What was typed, to show again on a refused form: members as the ids ticked."""
    shown = form_values(form)
    shown["members"] = [int(str(m)) for m in form.getlist("members") if digits(str(m))]
    shown["lead_id"] = str(form.get("lead_id") or "")
    return shown


def _as_form(team: dict[str, Any]) -> dict[str, Any]:
    return {"name": team["name"], "description": team["description"],
            "lead_id": str(team["lead_id"]) if team["lead_id"] is not None else "", "members": team["members"],
            "business_hours": team["business_hours"] or "", "time_zone": team["time_zone"] or "",
            "holidays": hours.holidays_text(team["holidays"])}


async def list_page(request: Request) -> Response:
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    teams = await work_setup.teams()
    wanted = {i for t in teams for i in t["members"]} | {t["lead_id"] for t in teams if t["lead_id"] is not None}
    people = await User.filter(id__in=wanted) if wanted else []
    names = {u.id: u.display_name or u.email for u in people}
    active = {u.id for u in people if u.is_active}
    rows = [{**t, "lead": names.get(t["lead_id"]) if t["lead_id"] is not None else None,
             "member_names": sorted((names[i] for i in t["members"] if i in active), key=str.lower)}
            for t in teams]
    return render(request, user, "admin/teams.html", PATH, teams=rows, saved=request.query_params.get("saved"),
                  center_zone=runtime.current().settings.center_time_zone)


async def edit_page(request: Request) -> Response:
    """/admin/teams/new and /admin/teams/{id}."""
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    raw = request.path_params.get("team_id")
    if raw is None:
        return render(request, user, "admin/team_form.html", PATH, team=None,
                      **_form_context({"members": [], "lead_id": ""}, await _staff()))
    team = next((t for t in await work_setup.teams() if t["id"] == raw), None)
    if team is None:
        return Response("No such team.", status_code=404, media_type="text/plain")
    team["members"] = await work_setup.team_members(team["id"])
    return render(request, user, "admin/team_form.html", PATH, team=team,
                  **_form_context(_as_form(team), await _staff()))


async def save(request: Request) -> Response:
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    raw = request.path_params.get("team_id")
    team = await Team.get_or_none(id=raw) if raw is not None else None
    if raw is not None and team is None:
        return Response("No such team.", status_code=404, media_type="text/plain")
    try:
        saved = await work_setup.save_team(user, _values(form), team_id=team.id if team else None)
    except ServiceError as exc:
        shown = {"id": team.id, "name": team.name} if team else None
        return render(request, user, "admin/team_form.html", PATH, status=404 if exc.code == "not_found" else 400,
                      team=shown, errors={exc.field or "form": exc.message},
                      **_form_context(_typed(form), await _staff()))
    return RedirectResponse(f"{PATH}?saved={saved.id}", status_code=303)


ROUTES = [
    Route(PATH, list_page, methods=["GET"]),
    Route(f"{PATH}/new", edit_page, methods=["GET"]),
    Route(f"{PATH}/new", save, methods=["POST"]),
    Route(PATH + "/{team_id:int}", edit_page, methods=["GET"]),
    Route(PATH + "/{team_id:int}", save, methods=["POST"]),
]
