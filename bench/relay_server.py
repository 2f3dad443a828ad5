"""Baseline for bench/message_roundtrip.py: a bare python-socketio relay, no storage, no routing.

A visitor's `message` is forwarded to the agent of its pair, an agent's `message` back to the
visitor of its pair (one room per role and pair, as Switchboard has one room per conversation),
through the same server stack (uvicorn + python-socketio ASGI) Switchboard runs on.
"""

from __future__ import annotations

import sys

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")


@sio.on("connect", namespace="/relay")
async def connect(sid, environ, auth):
    await sio.enter_room(sid, f"{auth.get('role', 'visitor')}:{auth.get('pair', 0)}", namespace="/relay")


@sio.on("message", namespace="/relay")
async def message(sid, data):
    target = "agent" if data.get("from") == "visitor" else "visitor"
    await sio.emit("message", data, to=f"{target}:{data.get('pair', 0)}", namespace="/relay")
    return {"ok": True}


if __name__ == "__main__":
    uvicorn.run(socketio.ASGIApp(sio), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
