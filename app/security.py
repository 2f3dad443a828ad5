"""Secrets: visitor tokens, agent socket tokens, password hashes, CSRF tokens."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_hasher = PasswordHasher()


class TokenError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Signer:
    """Signs and checks the small tokens the server hands out."""

    secret_key: str
    old_keys: tuple[str, ...] = ()  # still accepted during a rotation (SECRET_KEYS)

    def _serializer(self, salt: str) -> URLSafeTimedSerializer:
        # itsdangerous signs with the last key of the list and accepts every one.
        return URLSafeTimedSerializer([*reversed(self.old_keys), self.secret_key], salt=salt)

    def visitor_token(self, visitor_id: str, site_id: int) -> str:
        return self._serializer("visitor").dumps({"v": visitor_id, "s": site_id})

    def read_visitor_token(self, token: str, site_id: int, max_age: int) -> str:
        data = self._load("visitor", token, max_age)
        if not isinstance(data, dict) or not isinstance(data.get("v"), str) or data.get("s") != site_id:
            raise TokenError("invalid_token", "The visitor token is not valid for this site.")
        return data["v"]

    def socket_token(self, user_id: int, session_id: int) -> str:
        """Opens /agent for one staff session (app/services/sessions.py), while it lasts."""
        return self._serializer("agent-socket").dumps({"u": user_id, "s": session_id})

    def read_socket_token(self, token: str, max_age: int) -> tuple[int, int]:
        """(user id, session id) of a socket token younger than `max_age` seconds."""
        data = self._load("agent-socket", token, max_age)
        if (not isinstance(data, dict) or type(data.get("u")) is not int
                or type(data.get("s")) is not int):
            raise TokenError("unauthorized", "The socket token is not valid.")
        return data["u"], data["s"]

    def order_token(self, order_id: int, link_secret: str) -> str:
        """A work order's customer token (its status link and reply address): the order's id and a
        MAC over it and the order's `link_secret`, which changing revokes. No expiry: a customer
        may come back to a request months later."""
        return f"{order_id}.{_order_mac(self.secret_key, order_id, link_secret)}"

    def order_token_id(self, token: object) -> int | None:
        """The order id a well-formed customer token names (its MAC is checked by `order_token_matches`)."""
        if not isinstance(token, str) or len(token) > 64:
            return None
        head, _, mac = token.partition(".")
        return int(head) if head.isascii() and head.isdigit() and len(head) <= 18 and len(mac) == 32 else None

    def order_token_matches(self, token: str, order_id: int, link_secret: str) -> bool:
        mac = token.partition(".")[2]
        return any(hmac.compare_digest(mac, _order_mac(key, order_id, link_secret))
                   for key in (self.secret_key, *self.old_keys))

    def _load(self, salt: str, token: str, max_age: int) -> object:
        if not isinstance(token, str) or not token or len(token) > 1024:
            raise TokenError("invalid_token", "The token is missing or malformed.")
        try:
            return self._serializer(salt).loads(token, max_age=max_age)
        except SignatureExpired:
            raise TokenError("token_expired", "The token has expired.") from None
        except BadSignature:
            raise TokenError("invalid_token", "The token signature does not match.") from None


def _order_mac(key: str, order_id: int, link_secret: str) -> str:
    return hmac.new(key.encode(), f"work-order:{order_id}:{link_secret}".encode(), "sha256").hexdigest()[:32]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# A hash to verify against when the e-mail is unknown, so both paths cost the same.
DUMMY_PASSWORD_HASH = hash_password(secrets.token_urlsafe(16))


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def same_secret(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two secrets."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())
