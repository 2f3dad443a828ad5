"""The package carries its product (issue: operations — a wheel that runs): the wheel built from
this tree, installed into a fresh virtualenv and run from outside the source tree, migrates and
serves the widget, the console's templates and its scripts."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx

from tests.support.server import ROOT, free_port


def test_the_wheel_installs_and_serves_the_widget_and_the_console_without_the_source_tree(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(wheels)],
                   check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("switchboard-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("app/_assets/widget/widget.js", "app/_assets/widget/widget-chat.js",
                   "app/_assets/console/console.js", "app/_assets/console_templates/login.html",
                   "app/web/templates/demo/index.html", "migrations/0001_initial.py"):
        assert needed in names, needed

    # A fresh virtualenv; the dependencies come from this one's site-packages (a .pth line adds the
    # directory, not its .pth files, so the source tree's editable install is not seen).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", str(wheel)], check=True)

    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "DATA_DIR": str(run_dir / "data"), "HOME": str(tmp_path),
           "LOG_LEVEL": "warning"}
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import app; print(app.__file__)"],
                           capture_output=True, text=True, check=True, cwd=run_dir, env=env).stdout
    assert where.startswith(str(venv)), where  # the installed package, not the source tree

    switchboard = str(venv / "bin" / "switchboard")
    subprocess.run([switchboard, "migrate"], check=True, cwd=run_dir, env=env, capture_output=True)
    demo = subprocess.run([switchboard, "demo", "--password", "wheel-demo-password"], check=True, cwd=run_dir,
                          env=env, capture_output=True, text=True)
    assert "demo" in demo.stdout.lower()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([switchboard, "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=run_dir,
                              env=dict(env, PUBLIC_URL=url), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.stdout.read().decode()
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the installed server did not start"
            time.sleep(0.1)  # polling for readiness
        widget = httpx.get(url + "/widget.js", timeout=10)
        assert widget.status_code == 200 and widget.text == (ROOT / "widget" / "dist" / "widget.js").read_text()
        login = httpx.get(url + "/login", timeout=10)
        assert login.status_code == 200 and re.search(r'name="csrf_token"', login.text)
        scripts = re.findall(r'src="(/static/[^"]+\.js)"', login.text + httpx.get(url + "/demo/", timeout=10).text)
        with httpx.Client(base_url=url, timeout=10) as http:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', http.get("/login").text).group(1)
            signed_in = http.post("/login", data={"email": "agent@demo.switchboard", "password": "wheel-demo-password",
                                                  "csrf_token": csrf})
            assert signed_in.status_code == 303
            console = http.get("/console")
            assert console.status_code == 200
            scripts += re.findall(r'src="([^"]+\.js)"', console.text)
            assert scripts, console.text[:500]
            for script in scripts:
                assert http.get(script).status_code == 200, script
    finally:
        server.terminate()
        server.wait(15)
