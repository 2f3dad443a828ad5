"""Logging: JSON lines for log tools, or plain text for a person at a terminal.

Each JSON line has `time` (UTC, ISO 8601), `level`, `logger`, `worker` (WORKER_NAME, else the
process id), `message`, what is known of the call being served — `request_id` (HTTP), `sid` and
`event` (a socket event), `user_id` / `visitor_id` —, and `exc` (the traceback) on errors;
uvicorn's access lines also carry `method`, `path`, `status` and `client`.

LOG_FORMAT=json|text; unset: text when stderr is a terminal (`make run`), else json. LOG_LEVEL
applies to our loggers and uvicorn's alike, however the server was started: `configure` runs
in `create_app` (so `uvicorn --factory app.web.app:asgi_factory` gets it too) and takes over
uvicorn's own handlers (docs/operations.md, "Logs").
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import sys
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, Iterator

FORMATS = ("json", "text")
# What each line may say about the call it was logged in, in this order.
CONTEXT_FIELDS = ("request_id", "sid", "event", "user_id", "visitor_id")
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")

_context: ContextVar[dict[str, Any]] = ContextVar("switchboard_log_context", default={})


def worker_name() -> str:
    return os.environ.get("WORKER_NAME") or str(os.getpid())


@contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Lines logged in the block (and in tasks it spawns) carry `fields` (None values are left out)."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, Any]:
    return dict(_context.get())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "worker": worker_name(),
        }
        line.update(_context.get())
        line["message"] = record.getMessage()
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, _, status = record.args
            line.update(client=client, method=method, path=path, status=status)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        fields = _context.get()
        record.context = "".join(f" {k}={fields[k]}" for k in CONTEXT_FIELDS if k in fields)
        return super().format(record)


def resolve_format(value: str | None) -> str:
    """LOG_FORMAT's value; unset: text at a terminal, json otherwise."""
    value = (value or "").strip().lower()
    if not value:
        return "text" if sys.stderr.isatty() else "json"
    if value not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be json or text; got {value!r}")
    return value


class _Ours(logging.StreamHandler):
    """The handler `configure` installs (and replaces when called again)."""


def configure(level: str = "info", fmt: str | None = None) -> None:
    """One handler on the root logger (stderr) in the chosen format; uvicorn's loggers hand their
    lines to it instead of printing their own. Calling it again replaces what it set up."""
    handler = _Ours(sys.stderr)
    handler.setFormatter(JsonFormatter() if resolve_format(fmt) == "json" else TextFormatter())
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"LOG_LEVEL must be debug, info, warning, error or critical; got {level!r}")
    root = logging.getLogger()
    # Ours from an earlier call, and the plain handlers of logging.basicConfig.
    for old in [h for h in root.handlers if isinstance(h, _Ours) or type(h) is logging.StreamHandler]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    logging.captureWarnings(True)  # Python's warnings become lines of the same format
    for name in _UVICORN:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(numeric)


def request_id(header: str | None) -> str:
    """The request's id: the proxy's X-Request-ID when it is a plausible one, else a new one."""
    if header and re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", header):
        return header
    return secrets.token_hex(8)


class RequestContext:
    """ASGI middleware: each HTTP request's lines carry its `request_id`, which the response
    returns as X-Request-ID (nginx can pass its own `$request_id` in that header)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope.get("headers") or () if k == b"x-request-id"), None)
        rid = request_id(header)

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []), (b"x-request-id", rid.encode())])
            await send(message)

        with context(request_id=rid):
            await self.app(scope, receive, send_with_id)
