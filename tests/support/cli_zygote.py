"""Runs `python -m app …` commands for the tests without paying Python's start and the app's
imports (about 1.5 CPU-seconds) on every one: this process imports the app once, then forks a
fresh child per command. The child is the command as `python -m app` would run it — its own
environment, working directory, argv, stdout and stderr, nothing set up before it — and its
exit code, stdout and stderr go back to the test.

Protocol (stdin → stdout of this process): one JSON line per request
``{"args": [...], "env": {...}, "cwd": "...", "timeout": seconds}``, one JSON line per answer
``{"rc": int, "stdout": str, "stderr": str}``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import traceback


def _run_child(request: dict, out_fd: int, err_fd: int) -> None:
    """In the forked child: become the command, then exit with its code (never returns)."""
    rc = 1
    try:
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        signal.alarm(int(request.get("timeout") or 120))  # a hung command dies like subprocess's timeout
        sys.argv = [os.path.join(request["cwd"], "app", "__main__.py"), *request["args"]]
        from app.cli import main

        rc = main(list(request["args"]))
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - reported like an uncaught exception in a real process
        traceback.print_exc()
        rc = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc if isinstance(rc, int) else 1)


def serve() -> None:
    # Every module of the app, imported once here rather than in every child (the commands import
    # what they use inside their functions).
    import importlib
    import pkgutil

    import app

    for module in pkgutil.walk_packages(app.__path__, "app."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)

    replies = os.fdopen(os.dup(1), "w")
    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            pid = os.fork()
            if pid == 0:
                replies.close()
                _run_child(request, out.fileno(), err.fileno())
            _, status = os.waitpid(pid, 0)
            rc = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            reply = {"rc": rc, "stdout": out.read().decode(errors="replace"),
                     "stderr": err.read().decode(errors="replace")}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    serve()
