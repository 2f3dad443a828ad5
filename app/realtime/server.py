"""The socket.io server: python-socketio's, refusing client events it must never run.

A client can send any event name, including the ones the server itself raises — `connect` and
`disconnect` —, and python-socketio would run the namespace's connect or disconnect handler for
it: presence would drop to zero while the socket stays open, or count a tab twice. Such a frame,
or one whose event name is not a string, is refused here before any handler runs (an error ack
when the client asked for one; docs/protocol.md, "Conventions").
"""

from __future__ import annotations

import logging

import socketio
from socketio import packet

log = logging.getLogger(__name__)

RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error"})


def refusal(event: object) -> dict:
    name = event if isinstance(event, str) and len(event) <= 64 else "(not a name)"
    return {"ok": False, "error": {"code": "bad_request",
                                   "message": f"'{name}' is not an event a client may send."}}


class Server(socketio.AsyncServer):
    async def _handle_event(self, eio_sid, namespace, id, data):
        event = data[0] if isinstance(data, list) and data else None
        if isinstance(event, str) and event not in RESERVED_EVENTS:
            return await super()._handle_event(eio_sid, namespace, id, data)
        log.info("refused a client event named %r", event if isinstance(event, str) else type(event).__name__)
        if id is not None:
            await self._send_packet(eio_sid, self.packet_class(
                packet.ACK, namespace=namespace or "/", id=id, data=[refusal(event)]))
