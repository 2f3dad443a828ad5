"""Scorecards: a named form for a department's or a contact category's chats (or the whole center's),
whose content is saved as immutable versions (app/quality/scoring.py). Saving a scorecard's content
adds a version; evaluations keep the version they were scored with. Supervisors build the scorecards
of their departments, admins any (app/services/scope.py `may_edit_scorecard`); a `qa` user never."""

from __future__ import annotations

from typing import Any

from tortoise.transactions import in_transaction

from app.models import Department, Scorecard, ScorecardVersion, User, WorkCategory
from app.quality import scoring
from app.services import ServiceError, scope, text_field
from app.services.evaluations import invalid, record

MAX_NAME = 100
MAX_DESCRIPTION = 500


async def _ref(model: type, value: object, field: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not await model.exists(id=value):
        raise ServiceError("invalid", "Choose one from the list.", field=field)
    return value


async def save(user: User, *, name: object, sections: object, department_id: object = None,
               category_id: object = None, description: object = "", scorecard_id: int | None = None,
               active: bool = True) -> tuple[Scorecard, ScorecardVersion]:
    """Create a scorecard, or save a new version of one (its name, target and content)."""
    name_ = text_field(name, "name", most=MAX_NAME, required="Cannot be empty.", code="invalid")
    description_ = text_field(description, "description", most=MAX_DESCRIPTION, code="invalid")
    department = await _ref(Department, department_id, "department_id")
    category = await _ref(WorkCategory, category_id, "category_id")
    try:
        parsed = scoring.parse_sections(sections)
    except scoring.ScorecardError as error:
        raise invalid(error) from None
    if not await scope.may_edit_scorecard(user, department):
        raise ServiceError("forbidden", "You may not change the scorecards of this department.")
    async with in_transaction() as db:
        if scorecard_id is None:
            card = await Scorecard.create(name=name_, description=description_, department_id=department,
                                          category_id=category, active=active, using_db=db)
            number = 1
        else:
            card = await Scorecard.filter(id=scorecard_id).using_db(db).select_for_update().first()
            if card is None or not await scope.may_edit_scorecard(user, card.department_id):
                raise ServiceError("not_found", "No such scorecard.")
            card.name, card.description, card.department_id, card.category_id, card.active = \
                name_, description_, department, category, active
            await card.save(using_db=db)
            last = await ScorecardVersion.filter(scorecard_id=card.id).using_db(db).order_by("-number").first()
            if last is not None and last.sections == parsed:  # same content: no new version
                return card, last
            number = (last.number if last else 0) + 1
        version = await ScorecardVersion.create(scorecard_id=card.id, number=number, sections=parsed,
                                                created_by_id=user.id, using_db=db)
        await record("scorecard_saved", actor_id=user.id, at=version.created_at, using_db=db,
                     scorecard_id=card.id, version=number)
    return card, version


def describe(card: Scorecard, version: ScorecardVersion | None) -> dict[str, Any]:
    return {"id": card.id, "name": card.name, "description": card.description, "department_id": card.department_id,
            "category_id": card.category_id, "active": card.active,
            "version": version.number if version else None, "version_id": version.id if version else None,
            "sections": version.sections if version else []}
