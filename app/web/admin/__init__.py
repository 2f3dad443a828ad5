"""The admin console (/admin/…): one module per page, each with its `ROUTES`; `routes()` gathers
them for app/web/app.py. Every page is for admins only, every form CSRF-checked, every change
audited (app/services/audit.py) through the same services the CLI uses."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.web.admin.common import SECTIONS, admin_user


async def index(request: Request) -> Response:
    _, refused = await admin_user(request)
    if refused is not None:
        return refused
    return RedirectResponse(SECTIONS[0][0], status_code=303)


def routes() -> list[Route]:
    import importlib

    found = [Route("/admin", index, methods=["GET"])]
    for name in MODULES:
        found += importlib.import_module(f"app.web.admin.{name}").ROUTES
    return found


# Each page's module; a module is listed once its page exists.
MODULES: tuple[str, ...] = ("departments", "users", "sites", "privacy_page", "away", "audit_log", "widget",
                             "outgoing_mail", "teams", "work_categories")
