"""Staff pages over plain HTTP: a signed-in client (its cookie jar holds the session) and the CSRF
token of a page's form, as a browser would post them."""

from __future__ import annotations

import contextlib
import re
from typing import AsyncIterator

import httpx


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on the page."""
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@contextlib.asynccontextmanager
async def signed_in(base_url: str, email: str, password: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client signed in as `email`; redirects are not followed (tests look at them)."""
    async with httpx.AsyncClient(base_url=base_url, follow_redirects=False, timeout=30) as http:
        page = await http.get("/login")
        signed = await http.post("/login", data={"email": email, "password": password, "csrf_token": csrf_of(page.text)})
        assert signed.status_code == 303, signed.text
        yield http


async def post_form(http: httpx.AsyncClient, page: str, data: dict, action: str | None = None) -> httpx.Response:
    """GET `page` for its CSRF token, then POST `data` with it to `action` (default: the page)."""
    shown = await http.get(page)
    assert shown.status_code == 200, (page, shown.status_code, shown.text[:300])
    return await http.post(action or page, data={"csrf_token": csrf_of(shown.text), **data})
