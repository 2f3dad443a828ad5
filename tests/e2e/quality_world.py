"""What the quality Chromium tests of disputes, calibration and coaching share: people in a department
of their own, a scorecard, closed chats of a CSR, and signing in on a page."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from playwright.async_api import Page, expect

from app.clock import utcnow
from app.models import Conversation, Site, User, Visitor
from app.services import scorecards
from tests.support.clients import new_id
from tests.support.inprocess import database
from tests.support.server import cli

SECTIONS = [{"title": "Conversation", "criteria": [
    {"label": "Greets the visitor", "weight": 1},
    {"label": "Verifies the order number", "critical": True, "weight": 1},
    {"label": "Solves the question", "scale": "five", "weight": 2},
]}]


def team(d, tag: str, **roles: str) -> dict[str, str]:
    """Users by nickname → e-mail (roles: nickname → role); CSRs and supervisors in one department."""
    emails = {nick: f"{nick}-{tag}@example.com" for nick in roles}
    for nick, role in roles.items():
        d.create_user(emails[nick], role, f"{nick.capitalize()} {tag}")
    members = sum((["--member", emails[n]] for n, r in roles.items() if r in ("agent", "supervisor")), [])
    department = json.loads(cli(d.env, "create-department", "--site", d.site_key, "--name", f"Desk {tag}",
                                *members, "--json"))["id"]
    return {**emails, "department": department}


async def scorecard_and_chats(d, admin_email: str, csr_email: str, department: int, count: int):
    """(the scorecard's version, [closed chats of the CSR in the department])."""
    async with database(d, runtime=True):
        admin = await User.get(email=admin_email)
        csr = await User.get(email=csr_email)
        site = await Site.get(key=d.site_key)
        _, version = await scorecards.save(admin, name=f"Chat quality {new_id()[:4]}", sections=SECTIONS,
                                           department_id=department)
        at = utcnow() - timedelta(hours=1)
        chats = []
        for _ in range(count):
            visitor = await Visitor.create(id=new_id(), site=site, first_seen=at, last_seen=at)
            chats.append((await Conversation.create(
                site=site, visitor=visitor, agent=csr, department_id=department, status="closed", requested_at=at,
                assigned_at=at, closed_at=at + timedelta(minutes=3), closed_by="agent")).id)
    return version, chats


async def signed_in(new_page, d, email: str) -> Page:
    _, page, errors = await new_page()
    page.errors = errors
    await page.goto(d.server.url + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(d.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).not_to_have_url(re.compile(r"/login"))
    return page
