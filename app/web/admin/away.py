"""Admin page: the reasons CSRs give for Away (the list `away-reasons --set` replaces too)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.i18n import N_
from app.services import ServiceError, agents
from app.web.admin.common import admin_form, admin_user, render

PATH = "/admin/away-reasons"


async def page(request: Request) -> Response:
    user, refused = await admin_user(request)
    if refused is not None:
        return refused
    reasons = await agents.away_reasons()
    return render(request, user, "admin/away_reasons.html", PATH, values={"reasons": "\n".join(reasons)},
                  reasons=reasons, saved=request.query_params.get("saved") == "1", **_context())


def _context() -> dict:
    return {"system_reasons": agents.SYSTEM_REASONS, "wrap_up": agents.WRAP_UP_REASON,
            "most": agents.MAX_AWAY_REASONS}


async def save(request: Request) -> Response:
    user, form, refused = await admin_form(request)
    if refused is not None:
        return refused
    text = str(form.get("reasons") or "")
    try:
        if len(text) > 5000:
            raise ServiceError("bad_request", N_("The list is too long."))
        await agents.set_away_reasons([line for line in text.splitlines() if line.strip()], actor=user)
    except ServiceError as exc:
        return render(request, user, "admin/away_reasons.html", PATH, status=400, values={"reasons": text},
                      reasons=await agents.away_reasons(), errors={"reasons": exc.message}, **_context())
    return RedirectResponse(f"{PATH}?saved=1", status_code=303)


ROUTES = [Route(PATH, page, methods=["GET"]), Route(PATH, save, methods=["POST"])]
