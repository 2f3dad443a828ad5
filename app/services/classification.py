"""Contact classification (来电类型分类): what each chat was about, from the work-order taxonomy.

A department sets whether closing one of its chats asks for a category (`Department.classification`:
off, optional, required; the general queue: off). The CSR's `close` carries `category_id`; it is
checked before the chat is closed (a required one missing, an unknown or inactive category: refused,
nothing changes), stored on the conversation in the close's own write and logged as a `classified` event — what the
contact-categories report counts.
"""

from __future__ import annotations

from typing import Any

from app.models import Conversation, Department, User, WorkCategory
from app.services import ServiceError, events, work_setup


async def mode(conversation: Conversation) -> str:
    if conversation.department_id is None:
        return "off"
    department = await Department.get_or_none(id=conversation.department_id)
    return department.classification if department is not None else "off"


async def close_options(conversation: Conversation) -> dict[str, Any]:
    """What the console's close step shows: the mode and, unless off, the active categories."""
    how = await mode(conversation)
    return {"classification": how,
            "categories": await work_setup.categories(active_only=True) if how != "off" else []}


async def before_close(conversation: Conversation, category_id: int | None) -> WorkCategory | None:
    """The category to store once the chat is closed; refuses what cannot be taken."""
    how = await mode(conversation)
    if category_id is None:
        if how == "required":
            exc = ServiceError("category_required", "Pick what the contact was about to close this chat.",
                               "category_id")
            exc.extra = {"field": "category_id"}  # type: ignore[attr-defined]  # in the error ack
            raise exc
        return None
    category = await WorkCategory.get_or_none(id=category_id, active=True)
    if category is None:
        raise ServiceError("bad_request", "No such category.", "category_id")
    return category


async def classified(conversation: Conversation, category: WorkCategory, user: User | None) -> None:
    """Log the category the close stored (`conversations.close(category_id=…)`)."""
    await events.conversation_event(conversation, "classified", agent_id=user.id if user else None,
                                    category_id=category.id, parent_id=category.parent_id)
