"""The documented scale-out set-up, as an operator runs it: `deploy/cluster.py` (what `make cluster`
runs) with PostgreSQL, Redis, two workers and Debian's nginx with deploy/nginx.conf, on a port other
than 80 — a chat through it in Chromium (the console's socket included), and the long-polling
transport held to one worker by the `affinity` hash."""

from __future__ import annotations

import asyncio

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from tests.conftest import unavailable
from tests.e2e.helpers import chat_list, launcher, set_status, sign_in, transcript, visitor_send, widget, widget_log
from tests.support import clients
from tests.support.redis_keys import delete_keys
from tests.support.server import ROOT, cli, free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _cluster_module():
    spec = importlib.util.spec_from_file_location("sb_cluster", ROOT / "deploy" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RunningCluster:
    def __init__(self, url: str, data_dir: Path, proc: subprocess.Popen) -> None:
        self.url, self.data_dir, self.proc = url, data_dir, proc

    @property
    def password(self) -> str:
        return (self.data_dir / "demo_password").read_text().strip()


@pytest.fixture(scope="module")
def cluster(new_postgres_database, redis_url):
    if not Path(NGINX).exists():
        unavailable("nginx (Debian's package; `make services` installs it)")
    port = free_port()
    database_url = new_postgres_database()
    data_dir = Path(tempfile.mkdtemp(prefix="sb-cluster-"))
    log = tempfile.NamedTemporaryFile(prefix="sb-cluster-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy" / "cluster.py"), "--workers", "2", "--port", str(port),
         "--database-url", database_url, "--redis-url", redis_url, "--data-dir", str(data_dir)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, SECRET_KEY="cluster-" + uuid.uuid4().hex),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc, log.name)
        yield RunningCluster(url, data_dir, proc)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        # The tests share one Redis database: the cluster's namespace goes with it.
        env = dict(os.environ, DATABASE_URL=database_url, DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT))
        delete_keys(redis_url, json.loads(cli(env, "deployment-id", "--json"))["redis_prefix"])
        shutil.rmtree(data_dir, ignore_errors=True)
        os.unlink(log.name)


def _wait_ready(url: str, proc: subprocess.Popen, log_path: str, timeout: float = 120.0) -> None:
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the cluster exited:\n" + Path(log_path).read_text()[-5000:])
        if "Switchboard cluster:" in Path(log_path).read_text():
            return
        time.sleep(0.2)  # polling for readiness
    raise RuntimeError("the cluster did not start:\n" + Path(log_path).read_text()[-5000:])


def test_the_documented_nginx_config_passes_nginx_t_as_rendered_for_any_ports(tmp_path):
    if not Path(NGINX).exists():
        unavailable("nginx (Debian's package; `make services` installs it)")
    module = _cluster_module()
    text = module.render_nginx(18080, [18101, 18102, 18103, 18104])
    assert "listen 127.0.0.1:18080;" in text
    assert re.findall(r"server 127\.0\.0\.1:(\d+)", text) == ["18101", "18102", "18103", "18104"]
    for needed in ("proxy_set_header Host $http_host;", "proxy_http_version 1.1;",
                   "X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto $scheme",
                   "hash $switchboard_affinity consistent;"):
        assert needed in text, needed
    for sub in ("logs", "temp"):
        (tmp_path / sub).mkdir()
    (tmp_path / "nginx.conf").write_text(text)
    checked = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


async def test_a_chat_through_nginx_on_a_non_default_port_console_included(cluster, new_page):
    base = cluster.url
    visitor_ctx, visitor, _ = await new_page()
    await visitor.goto(base + "/demo/")
    await launcher(visitor).click()
    await visitor_send(visitor, "Hello through the proxy")
    await expect(widget_log(visitor).get_by_text("Hello through the proxy", exact=True)).to_be_visible()
    await expect(widget_log(visitor)).not_to_contain_text("Sending…")

    agent_ctx, agent, _ = await new_page()
    await sign_in(agent, base, "agent@demo.switchboard", cluster.password)  # waits for "Connected"
    await set_status(agent, "Available")
    chat = chat_list(agent).filter(has_text="Hello through the proxy")
    await expect(chat).to_have_count(1, timeout=30_000)
    await chat.click()
    await expect(transcript(agent).get_by_text("Hello through the proxy", exact=True)).to_be_visible()
    box = agent.get_by_label("Message")
    await box.fill("Answered via nginx")
    await box.press("Enter")
    await expect(widget_log(visitor).get_by_text("Answered via nginx", exact=True)).to_be_visible()
    await agent.get_by_role("button", name="Close chat").click()
    await expect(widget(visitor).get_by_text(re.compile("ended|closed", re.IGNORECASE)).first).to_be_visible()
    await set_status(agent, "Offline")


async def test_long_polling_through_nginx_stays_on_one_worker(cluster):
    """Only the polling transport (as behind a proxy that refuses WebSockets): every request of one
    connection must reach the worker that opened it, or the connection fails at once."""
    site_key = re.search(r'<script[^>]+src="[^"]*/widget\.js"[^>]+data-site="([^"]+)"',
                         httpx.get(cluster.url + "/demo/").text).group(1)
    sockets = []
    try:
        for i in range(6):  # several connections from one address: the hash spreads them over workers
            client = clients.Client("/visitor")
            await client.sio.connect(f"{cluster.url}?affinity={uuid.uuid4().hex}", namespaces=["/visitor"],
                                     auth={"site": site_key}, transports=["polling"],
                                     headers={"Origin": cluster.url}, wait_timeout=20)
            await client.rec.wait_for("session")
            sockets.append(client)
        for client in sockets:
            for n in range(3):
                ack = await client.call("page_view", {"url": f"{cluster.url}/demo/p{n}", "title": f"P{n}"})
                assert ack["ok"], ack
        assert all(c.connected for c in sockets)
    finally:
        # A polling client's disconnect waits for its pending long-poll to end: together, not in turn.
        await asyncio.gather(*(c.disconnect() for c in sockets if c.sio.connected))


def test_the_tls_block_of_the_deployment_guide_passes_nginx_t(tmp_path):
    """docs/deployment.md's TLS server blocks, as written, inside deploy/nginx.conf's http block, with
    a self-signed certificate where the guide names Let's Encrypt's files."""
    if not Path(NGINX).exists():
        unavailable("nginx (Debian's package; `make services` installs it)")
    guide = (ROOT / "docs" / "deployment.md").read_text()
    blocks = [b for b in re.findall(r"```nginx\n(.*?)```", guide, flags=re.S) if "ssl_certificate" in b]
    assert len(blocks) == 1, "docs/deployment.md should have one TLS nginx block"
    tls = blocks[0]
    for needed in ("return 301 https://$host$request_uri;", "Strict-Transport-Security", "$http_host",
                   "X-Forwarded-Proto $scheme", "proxy_http_version 1.1;"):
        assert needed in tls, needed
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=chat.example.com", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    tls = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", tls)
    tls = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", tls)
    tls = tls.replace("listen 80;", "listen 127.0.0.1:18081;").replace("listen 443 ssl", "listen 127.0.0.1:18443 ssl")
    base = _cluster_module().render_nginx(18080, [18101, 18102])
    config = base[: base.rindex("}")] + tls + "\n}\n"  # inside the http block
    for sub in ("logs", "temp"):
        (tmp_path / sub).mkdir()
    (tmp_path / "nginx.conf").write_text(config)
    checked = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
