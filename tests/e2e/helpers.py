"""What a person does in the console and the widget, expressed once."""

from __future__ import annotations

import contextlib
import http.server
import re
import threading
from typing import Callable, Iterator

from playwright.async_api import Page, expect

LAUNCHER = re.compile(r"^(Open|Close) chat")


async def sign_in(page: Page, base_url: str, email: str, password: str) -> None:
    await page.goto(base_url + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_text("Connected")).to_be_visible()


async def set_status(page: Page, status: str) -> None:
    await page.get_by_label("Status").select_option(label=status)


def launcher(page: Page):
    return page.get_by_role("button", name=LAUNCHER)


def widget(page: Page):
    return page.get_by_role("dialog", name=re.compile("chat", re.IGNORECASE))


def widget_log(page: Page):
    return widget(page).get_by_role("log")


async def visitor_send(page: Page, text: str) -> None:
    box = widget(page).get_by_label("Message")
    await box.fill(text)
    await box.press("Enter")


def chat_list(page: Page):
    return page.get_by_role("list", name="My chats", exact=True).get_by_role("button")


def transcript(page: Page):
    return page.get_by_role("log", name="Transcript")


def sidebar(page: Page):
    return page.get_by_role("complementary", name="Visitor")


@contextlib.contextmanager
def host_site(port: int, page: Callable[[str], bytes]) -> Iterator[str]:
    """A customer's site at http://127.0.0.1:<port>/ (yielded): every GET is answered with the HTML
    `page(path)` returns, path and query included."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            html = page(self.path)
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.shutdown()


@contextlib.contextmanager
def tent_shop(widget_base: str, port: int, main_html: str = "") -> Iterator[str]:
    """The customer's "Tent shop" (its origin, yielded): /<site key> is a page embedding that site's
    widget from `widget_base`; `main_html` goes after the page's heading."""

    def page(path: str) -> bytes:
        key = path.strip("/").split("?")[0]
        return (f'<!doctype html><html lang="en"><head><title>Tent shop</title></head><body>'
                f'<main><h1>Tent shop</h1>{main_html}</main>'
                f'<script async src="{widget_base}/widget.js" data-site="{key}"></script></body></html>').encode()

    with host_site(port, page) as url:
        yield url.rstrip("/")
