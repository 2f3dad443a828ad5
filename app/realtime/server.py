"""The socket.io server: python-socketio's, with every frame a client sends checked before any
handler runs.

- A client can send any event name, including the ones the server itself raises — `connect` and
  `disconnect` —, and python-socketio would run the namespace's connect or disconnect handler for
  it: presence would drop to zero while the socket stays open, or count a tab twice. Such a frame,
  one whose event name is not a string, one naming no event of the namespace, or one carrying more
  than one argument is refused here (an error ack when the client asked for one).
- A frame that does not decode — invalid JSON, NaN or Infinity, nesting deeper than
  `MAX_FRAME_DEPTH`, an integer too long to convert, a packet type a client may not send, binary
  attachments (the protocol has none) — is refused with one log line, never a traceback, and the
  connection stays open.
- A frame larger than `MAX_FRAME_BYTES` gets a `too_large` ack and the connection stays open; one
  larger than `MAX_TRANSPORT_BYTES` is cut off by engine.io itself, which closes the connection
  (docs/protocol.md, "Limits").
- CORS: the polling transport answers with `Access-Control-Allow-Origin` (and credentials) only
  for an origin some site allows, the configured public URL, or the server's own host. Connecting
  is not refused here: the /visitor connect handler checks the page's origin against its own
  site's list (and answers with a code the widget understands), /agent against its own host.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

import engineio
import socketio
from engineio import json as engine_json
from socketio import packet

from app import jsonsafe, metrics, runtime
from app.models import Site

log = logging.getLogger(__name__)

RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error"})
MAX_FRAME_BYTES = 64 * 1024  # what a client's event may weigh; larger ones are answered too_large
MAX_TRANSPORT_BYTES = 1024 * 1024  # what engine.io accepts at all; larger frames close the connection
MAX_FRAME_DEPTH = 8  # ["event", {"props": {…}}] is 3 deep

# An event packet's head: type 2, optional attachment count, optional namespace, the ack id.
_EVENT_HEAD = re.compile(r"2(?:\d+-)?(?:(/[^,]{0,64}),)?(\d{1,15})")


class MalformedFrame(ValueError):
    pass


class _FrameJSON:
    """The JSON codec of socket.io packets: refusing what `jsonsafe` refuses."""

    dumps = staticmethod(engine_json.dumps)

    @staticmethod
    def loads(raw: Any, *args: Any, **kwargs: Any) -> Any:
        return jsonsafe.loads(raw, max_depth=MAX_FRAME_DEPTH)


class SafePacket(packet.Packet):
    json = _FrameJSON

    def decode(self, encoded_packet: Any) -> int:
        if not isinstance(encoded_packet, str):
            raise MalformedFrame("binary frames are not part of the protocol")
        try:
            attachments = super().decode(encoded_packet)
        except (ValueError, TypeError, IndexError, RecursionError) as exc:
            raise MalformedFrame(str(exc)[:200]) from None
        if self.packet_type in (packet.BINARY_EVENT, packet.BINARY_ACK) or attachments:
            raise MalformedFrame("binary frames are not part of the protocol")
        return attachments


def error_ack(code: str, message: str) -> dict:
    return {"ok": False, "error": {"code": code, "message": message}}


def refusal(event: object) -> dict:
    name = event if isinstance(event, str) and len(event) <= 64 else "(not a name)"
    return error_ack("bad_request", f"'{name}' is not an event a client may send.")


UNKNOWN_ORIGIN_SECONDS = 5.0  # an unknown origin re-reads the sites at most this often


class KnownOrigins:
    """Every site's allowed origins as this server last read them, and the unknown origins lately
    asked about (origin → when), on the server's runtime."""

    def __init__(self) -> None:
        self.origins: frozenset[str] = frozenset()
        self.misses: dict[str, float] = {}


async def learn_origin(origin: str | None) -> None:
    """Before engine.io answers a request from `origin`: re-read the sites' origins when it is one
    we do not know (a site added a moment ago by another process) and have not looked up in the
    last few seconds. The misses kept are bounded."""
    if not origin or len(origin) > 256:
        return
    origin = origin.rstrip("/")
    known = runtime.current().state(KnownOrigins)
    now = time.monotonic()
    if origin in known.origins or now - known.misses.get(origin, float("-inf")) < UNKNOWN_ORIGIN_SECONDS:
        return
    rows = await Site.all().values_list("allowed_origins", flat=True)
    known.origins = frozenset(o.rstrip("/") for origins in rows if isinstance(origins, list)
                              for o in origins if isinstance(o, str))
    if origin not in known.origins:
        if len(known.misses) >= 10_000:
            known.misses.clear()
        known.misses[origin] = now


def origin_known(origin: str, environ: dict) -> bool:
    origin = origin.rstrip("/")
    if urlsplit(origin).netloc == environ.get("HTTP_HOST"):
        return True  # the console's and the demo pages' own origin
    rt = runtime.current()
    return origin == rt.settings.public_url or origin in rt.state(KnownOrigins).origins


class EngineServer(engineio.AsyncServer):
    def _cors_headers(self, environ: dict) -> list[tuple[str, str]]:
        origin = environ.get("HTTP_ORIGIN")
        if origin and not origin_known(origin, environ):
            return []  # no Allow-Origin, no credentials: the browser keeps the answer from that page
        return super()._cors_headers(environ)


class Server(socketio.AsyncServer):
    def _engineio_server_class(self):
        return EngineServer

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(serializer=SafePacket, max_http_buffer_size=MAX_TRANSPORT_BYTES, **kwargs)

    async def _trigger_event(self, event: str, namespace: str, *args: Any) -> Any:
        if event == "disconnect":  # (sid, reason): counted for the worker's metrics
            reason = args[1] if len(args) > 1 else None
            metrics.current().count_disconnect(namespace.strip("/"), reason)
        return await super()._trigger_event(event, namespace, *args)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        if isinstance(data, str) and len(data) > MAX_FRAME_BYTES:
            log.info("refused a frame of %d bytes", len(data))
            await self._answer_malformed(eio_sid, data, error_ack(
                "too_large", f"An event may carry at most {MAX_FRAME_BYTES // 1024} KiB."))
            return
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError as exc:  # MalformedFrame, or a packet type a client may not send
            log.info("refused a malformed frame: %s", str(exc)[:200])
            if isinstance(data, str):
                await self._answer_malformed(eio_sid, data, error_ack(
                    "bad_request", "The frame is not a valid event (JSON, finite numbers, "
                                   f"at most {MAX_FRAME_DEPTH} levels deep)."))

    async def _answer_malformed(self, eio_sid: str, data: str, answer: dict) -> None:
        """An error ack for a frame that never became an event, when its head names an ack id on a
        namespace this socket has joined."""
        head = _EVENT_HEAD.match(data[:128])
        if head is None:
            return
        namespace = head.group(1) or "/"
        if not self.manager.sid_from_eio_sid(eio_sid, namespace):
            return
        await self._send_packet(eio_sid, self.packet_class(
            packet.ACK, namespace=namespace, id=int(head.group(2)), data=[answer]))

    async def _handle_event(self, eio_sid, namespace, id, data):
        answer = self._refusal(namespace or "/", data)
        if answer is None:
            return await super()._handle_event(eio_sid, namespace, id, data)
        event = data[0] if isinstance(data, list) and data else None
        log.info("refused a client event named %r", event if isinstance(event, str) else type(event).__name__)
        if id is not None:
            await self._send_packet(eio_sid, self.packet_class(
                packet.ACK, namespace=namespace or "/", id=id, data=[answer]))

    def _refusal(self, namespace: str, data: Any) -> dict | None:
        event = data[0] if isinstance(data, list) and data else None
        if not isinstance(event, str) or event in RESERVED_EVENTS:
            return refusal(event)
        handler = self.namespace_handlers.get(namespace)
        if handler is None or len(event) > 64 or not callable(getattr(handler, f"on_{event}", None)):
            name = event if len(event) <= 64 else event[:64] + "…"
            return error_ack("bad_request", f"'{name}' is not an event of this namespace.")
        if len(data) > 2:
            return error_ack("bad_request", "An event carries one argument (an object).")
        return None
