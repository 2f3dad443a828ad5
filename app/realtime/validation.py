"""Checking socket payloads: each check raises ServiceError with a documented code."""

from __future__ import annotations

import re
from typing import Any

from app.services import ServiceError

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_INT = 2**31 - 1


def payload(data: Any) -> dict:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ServiceError("bad_request", "The payload must be an object.")
    return data


def text(data: dict, key: str, *, max_len: int, required: bool = True, strip: bool = True) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and strip and not value.strip() and not required):
        if required:
            raise ServiceError("bad_request", f"'{key}' is required.")
        return None
    if not isinstance(value, str):
        raise ServiceError("bad_request", f"'{key}' must be a string.")
    if strip:
        value = value.strip()
    if required and not value:
        raise ServiceError("bad_request", f"'{key}' must not be empty.")
    if len(value) > max_len:
        raise ServiceError("too_large", f"'{key}' is longer than {max_len} characters.")
    if "\x00" in value:
        raise ServiceError("bad_request", f"'{key}' contains a NUL character.")
    return value


def integer(data: dict, key: str, *, minimum: int = 0, required: bool = True) -> int | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ServiceError("bad_request", f"'{key}' must be an integer.")
    if value < minimum or value > MAX_INT:
        raise ServiceError("bad_request", f"'{key}' is out of range.")
    return value


def boolean(data: dict, key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise ServiceError("bad_request", f"'{key}' must be true or false.")
    return value


def client_id(data: dict, key: str = "client_id", *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not CLIENT_ID.match(value):
        raise ServiceError("bad_request", f"'{key}' must be 1-64 characters of letters, digits, '-' or '_'.")
    return value


def event_name(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not EVENT_NAME.match(value):
        raise ServiceError("bad_request", f"'{key}' must be 1-64 characters of letters, digits, '_', '.', ':' or '-'.")
    return value


def url(data: dict, key: str, *, required: bool) -> str | None:
    value = text(data, key, max_len=2048, required=required)
    if value is not None and not re.match(r"^https?://", value, re.IGNORECASE):
        if required:
            raise ServiceError("bad_request", f"'{key}' must be an http(s) URL.")
        return None
    return value
