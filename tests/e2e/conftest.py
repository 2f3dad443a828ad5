"""Chromium (Debian's, at /usr/bin/chromium) driven by Playwright, against a real server.

Without Chromium the browser tests are skipped, except under CI (CI=true), where that is a
failure. When a test fails, the server log, the pages' console output and a screenshot of every
page it opened are written to /tmp (the paths are printed in the failure report).
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import unavailable
from tests.support import clients
from tests.support.server import Deployment, deploy

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
DEMO_AGENT = "agent@demo.switchboard"
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", tempfile.gettempdir()))

_REPORTS = pytest.StashKey[dict]()

# Playwright's assertions wait 5 s by default: too short on a busy two-core machine running three
# test processes. They still pass the moment their condition holds.
try:
    from playwright.async_api import expect as _expect

    _expect.set_options(timeout=20_000)
except ImportError:  # no Playwright: the browser fixture says so
    pass


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _failed(request) -> bool:
    reports = request.node.stash.get(_REPORTS, {})
    return any(r.failed for r in reports.values())


# ---------------------------------------------------------------------------
# Browser and server
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def browser():
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium at {CHROMIUM}")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable("The playwright Python package")

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


def own_deployment(request, name: str, **options):
    """A module's deployment of its own (SQLite, one server; `options` go to `deploy`), yielded;
    when a test of the module failed, its server log is written to ARTIFACTS."""
    deployment = deploy(database_url=None, redis_url=None, processes=1, **options)
    failed_before = request.session.testsfailed
    yield deployment
    if request.session.testsfailed > failed_before:
        path = ARTIFACTS / f"e2e-{name}-server.log"
        path.write_text(deployment.server.log())
        print(f"\n{name} server log: {path}")
    deployment.stop()


@pytest.fixture(scope="session")
def demo_deployment():
    """A server on SQLite with the demo site seeded (its pages embed the widget with the customer snippet)."""
    deployment = deploy(database_url=None, redis_url=None, processes=1, seed_demo=True)
    yield deployment
    deployment.stop()


@pytest.fixture(scope="session")
def demo(demo_deployment) -> Deployment:
    """Short name for `demo_deployment`."""
    return demo_deployment


@pytest.fixture(scope="session")
def base_url(demo_deployment) -> str:
    return demo_deployment.server.url


@pytest.fixture(scope="session")
def demo_site_key(base_url) -> str:
    """The key in the demo pages' snippet, read from the page as a browser gets it."""
    page = httpx.get(base_url + "/demo/").text
    return re.search(r'<script[^>]+src="[^"]*/widget\.js"[^>]+data-site="([^"]+)"', page).group(1)


# ---------------------------------------------------------------------------
# Pages, with what they say kept for the failure report
# ---------------------------------------------------------------------------


class PageErrors:
    """Uncaught page errors and CSP violations of a page (`errors`), and all its console output (`console`)."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        self.console: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._on_console)

    def _on_console(self, msg) -> None:
        self.console.append(f"[{msg.type}] {msg.text}")
        if "Content Security Policy" in msg.text:
            self.errors.append(msg.text)


@pytest.fixture
async def new_page(browser, request):
    """new_page(**context_options) → (context, page, errors), each page in its own browser context.

    Every context is closed after the test; on failure, screenshots, console output and the
    server log go to /tmp first.
    """
    made: list[tuple] = []

    async def make(**options):
        context = await browser.new_context(**options)
        page = await context.new_page()
        errors = PageErrors(page)
        made.append((context, errors))
        return context, page, errors

    yield make

    if _failed(request) and made:
        await _dump_artifacts(request, made)
    for context, _ in made:
        await context.close()


async def _dump_artifacts(request, made) -> None:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:80]
    written = []
    for i, (context, errors) in enumerate(made):
        for j, page in enumerate(context.pages):
            path = ARTIFACTS / f"e2e-{stem}-{i}-{j}.png"
            try:
                await page.screenshot(path=str(path), full_page=True, timeout=5000)
                written.append(str(path))
            except Exception as exc:  # a crashed page still leaves the rest of the report
                written.append(f"(no screenshot of {page.url}: {exc})")
        path = ARTIFACTS / f"e2e-{stem}-{i}-console.txt"
        path.write_text("\n".join(errors.console))
        written.append(str(path))
    deployment = request.getfixturevalue("demo_deployment")
    for server in deployment.servers:
        path = ARTIFACTS / f"e2e-{stem}-server-{server.port}.log"
        path.write_text(server.log())
        written.append(str(path))
    request.node.add_report_section("teardown", "e2e artifacts", "\n".join(written))


# ---------------------------------------------------------------------------
# The demo agent
# ---------------------------------------------------------------------------


@dataclass
class AgentLogin:
    storage_state: dict
    base_url: str

    @property
    def socket_token(self) -> str:
        """A fresh socket token of this sign-in (they live minutes): the console page's."""
        cookies = {c["name"]: c["value"] for c in self.storage_state["cookies"]}
        page = httpx.get(self.base_url + "/console", cookies=cookies, timeout=30)
        assert page.status_code == 200, f"the demo agent's session has ended ({page.status_code})"
        return re.search(r'name="switchboard-socket-token" content="([^"]+)"', page.text).group(1)


@pytest.fixture(scope="session")
async def demo_agent_login(browser, base_url, demo_deployment) -> AgentLogin:
    """The demo agent signed in once: cookies to reuse in new browser contexts, and socket tokens of
    that session for test-side agent clients."""
    from tests.e2e.helpers import sign_in

    context = await browser.new_context()
    try:
        page = await context.new_page()
        await sign_in(page, base_url, DEMO_AGENT, demo_deployment.password)
        state = await context.storage_state()
    finally:
        await context.close()
    return AgentLogin(storage_state=state, base_url=base_url)


@pytest.fixture(autouse=True)
async def demo_agent_reset(demo_agent_login, base_url, demo_deployment):
    """After each test: the demo agent is Offline with no open chat, whatever the test did.

    (When a console disconnects, the server keeps its agent Available for a grace period, and
    one routing queue serves every site: without this, a chat from the next test could go to a
    console that is already closed.)"""
    yield
    agent = await clients.agent(base_url, DEMO_AGENT, demo_deployment.password, token=demo_agent_login.socket_token)
    try:
        # Close their chats first: going Offline would hand them back to the queue.
        for conversation in (await agent.call("list", {}))["conversations"]:
            if conversation["status"] != "closed":
                await agent.call("close", {"conversation_id": conversation["id"]})
        assert (await agent.call("set_status", {"status": "offline"}))["ok"]
    finally:
        await agent.disconnect()
