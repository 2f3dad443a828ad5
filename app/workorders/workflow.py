"""The work-order workflow: new → assigned → in progress → waiting for customer → resolved → closed,
with reopen.

`ALLOWED[a]` is the statuses an order in status `a` may move to by a person's action. Dispatch and
transfer move an order to `assigned` (from any open status); a customer's reply moves an order
`waiting` for them back to `in_progress`; reopen moves a resolved or closed order back to
`assigned` (it has a handler or a team) or `new`.
"""

from __future__ import annotations

STATUSES = ("new", "assigned", "in_progress", "waiting", "resolved", "closed")
OPEN = ("new", "assigned", "in_progress", "waiting")
LABELS = {"new": "New", "assigned": "Assigned", "in_progress": "In progress", "waiting": "Waiting for customer",
          "resolved": "Resolved", "closed": "Closed"}
PRIORITIES = ("low", "normal", "high", "urgent")
PRIORITY_LABELS = {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"}
SOURCES = ("chat", "offline_note", "email", "manual")
SOURCE_LABELS = {"chat": "Chat", "offline_note": "Offline note", "email": "E-mail", "manual": "Created by hand"}

ALLOWED: dict[str, frozenset[str]] = {
    "new": frozenset({"assigned", "in_progress", "resolved"}),
    "assigned": frozenset({"assigned", "in_progress", "waiting", "resolved"}),
    "in_progress": frozenset({"assigned", "waiting", "resolved"}),
    "waiting": frozenset({"assigned", "in_progress", "resolved"}),
    "resolved": frozenset({"closed", "reopened"}),
    "closed": frozenset({"reopened"}),
}


class WorkflowError(ValueError):
    """A move the workflow does not allow; the message says which."""


def check_move(current: str, target: str) -> None:
    """Refuse a move from `current` to `target` that the workflow does not allow."""
    if target not in STATUSES and target != "reopened":
        raise WorkflowError(f"Unknown status: {target!r}.")
    if target not in ALLOWED.get(current, frozenset()):
        what = "reopened" if target == "reopened" else f"moved to {LABELS.get(target, target)}"
        label = LABELS.get(current, current).lower()
        article = "An" if label[:1] in "aeiou" else "A"
        raise WorkflowError(f"{article} {label} order cannot be {what}.")


def reopened_status(has_handler_or_team: bool) -> str:
    return "assigned" if has_handler_or_team else "new"


def is_open(status: str) -> bool:
    return status in OPEN


def number(year: int, sequence: int) -> str:
    """WO-2026-000042: the year and the year's sequence."""
    return f"WO-{year}-{sequence:06d}"
