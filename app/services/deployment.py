"""This deployment's identity: one row (`deployment_identity`) with a random uid, made the first
time it is needed — by `migrate`, or by a server starting on a database that has none yet.

Everything this deployment keeps outside its database is named by the uid: every Redis key lives
under ``sb:<uid>:`` and the socket.io pub/sub channel is ``switchboard:<uid>:<redis db>``
(`app.runtime.Runtime.key`, `app.web.app.redis_channel`). So another deployment sharing the Redis
database, or the keys a deployment of an older version left without a namespace, never mix in.

A copy of the database is a copy of the deployment: restore it and it finds its own keys again
(and reconciles them with the database at start-up, `app.services.routing.reconcile`). To run a
copy *beside* the original on the same Redis (a staging clone), delete its `deployment_identity`
row before it starts: it then makes a new identity of its own.
"""

from __future__ import annotations

import secrets

from tortoise.exceptions import IntegrityError

from app.models import DeploymentIdentity

# The one row's id. Every worker that finds no row inserts this id: the primary key lets exactly
# one insert win, and the others read the winner's uid.
ROW_ID = 1


async def identity() -> str:
    """The deployment's uid (32 hex digits), made now if the database has none."""
    uid = await _read()
    if uid is not None:
        return uid
    try:
        await DeploymentIdentity.create(id=ROW_ID, uid=secrets.token_hex(16))
    except IntegrityError:
        pass  # another worker (or `migrate`) made it first: theirs is the identity
    uid = await _read()
    if uid is None:  # pragma: no cover - a row that vanished between two statements
        raise RuntimeError("the deployment identity could not be created")
    return uid


async def _read() -> str | None:
    row = await DeploymentIdentity.all().order_by("id").first().values("uid")
    return row["uid"] if row else None
