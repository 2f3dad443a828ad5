"""The `/notices` namespace: what a staff page without the console hears (docs/protocol.md).

The Work orders pages of every staff member who handles orders (CSRs, supervisors, admins and
back-office handlers) open it with the same socket token as the console. A socket is in its user's
room (`agent:<id>`, where `bus.to_user` sends their notices) and its session's room (a sign-out
closes it); it sends nothing, and it is sent nothing else. A sign-out that lands while the socket
is still connecting (python-socketio does not close those) leaves it open until the page's next
token renewal is refused (at most 60 % of `SOCKET_TOKEN_SECONDS`), when the page closes it.
"""

from __future__ import annotations

from typing import Any

import socketio

from app.realtime.agent import staff_connect
from app.realtime.visitor import refuse
from app.services.workorders import STAFF_ROLES


class NoticesNamespace(socketio.AsyncNamespace):
    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        # A sign-out closes it: it is in its session's room (`bus.disconnect_room`).
        user, _ = await staff_connect(self, sid, environ, auth)
        if user.role not in STAFF_ROLES:
            raise refuse("unauthorized", "Notices are for the staff who handle work orders.")
