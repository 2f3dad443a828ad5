"""The knowledge base's editor pages in Chromium: an admin gives a CSR the "Knowledge editor"
permission on the Users page; the editor adds a category, writes and publishes an article in English
(with the Markdown preview and an uploaded image) and one in Chinese, edits the English one, views
the Versions list and uses "Restore this version"; a visitor reads both in the site's public help
center (with the widget on it), searching in each language; a CSR without the permission sees no
"New article" button, reads the published article read-only, and gets 403 from the editor API.

The deployment is this module's own; every step goes through the pages, as a person does."""

from __future__ import annotations

import base64
import re

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import own_deployment
from tests.e2e.helpers import launcher, sign_in
from tests.support.clients import new_id

TIMEOUT = 30_000
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")


@pytest.fixture(scope="module")
def center(request):
    yield from own_deployment(request, "knowledge")


async def test_an_editor_writes_publishes_edits_and_restores_and_visitors_read_it(center, new_page):
    d, t = center, new_id()[:6]
    base = d.server.url
    admin = f"ada-{t}@example.com"
    editor = f"ed-{t}@example.com"
    d.create_user(admin, "admin", f"Ada {t}")
    ed_id = d.create_user(editor, "agent", f"Ed {t}")["id"]

    # The admin ticks "Knowledge editor" for Ed.
    _, page, errors = await new_page()
    page.set_default_timeout(TIMEOUT)
    await sign_in(page, base, admin, d.password)
    await page.goto(f"{base}/admin/users/{ed_id}")
    await page.get_by_label("Knowledge editor").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text(f"Ed {t}: changes saved.")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text=f"Ed {t}").get_by_text("Knowledge editor")).to_be_visible()

    # Ed adds a category and writes an article in English.
    _, ed, ed_errors = await new_page()
    ed.set_default_timeout(TIMEOUT)
    await sign_in(ed, base, editor, d.password)
    await ed.get_by_role("navigation", name="Sections").get_by_role("link", name="Knowledge base").click()
    await expect(ed.get_by_role("heading", name="Knowledge base", level=1)).to_be_visible()
    await expect(ed.get_by_text("No articles yet.")).to_be_visible()
    await ed.get_by_label("Category name").fill(f"Returns {t}")
    await ed.get_by_role("button", name="Add category").click()
    await expect(ed.get_by_role("textbox", name=f"Name of Returns {t}")).to_be_visible()

    await ed.get_by_role("button", name="New article").click()
    await expect(ed.get_by_role("heading", name="New article")).to_be_visible()
    await ed.get_by_label("Title").fill(f"Return policy {t}")
    body = ed.get_by_label("Body (Markdown)")
    await body.fill(f"Send it back **within 60 days** {t}.\n\n<script>alert(1)</script>\n")
    preview = ed.get_by_role("region", name="Preview")
    await expect(preview.locator("strong")).to_have_text("within 60 days")
    await expect(preview).to_contain_text("<script>alert(1)</script>")  # shown as text
    await ed.get_by_label("Add an image").set_input_files({"name": "pixel.png", "mimeType": "image/png", "buffer": PNG})
    await expect(ed.get_by_text("pixel.png is added to the body.")).to_be_visible()
    await expect(body).to_have_value(re.compile(r"!\[pixel\]\(image:\d+\)"))
    await expect(preview.get_by_role("img", name="pixel")).to_be_visible()
    await ed.get_by_label("Category").select_option(label=f"Returns {t}")
    await ed.get_by_label("Tags").fill("refund, returns")
    await ed.get_by_label("Language").select_option(label="English")
    await ed.get_by_label("Audience").select_option(label="Public")
    await ed.get_by_role("button", name="Publish").click()
    await expect(ed.get_by_text("Published (version 1).")).to_be_visible()
    await expect(ed.get_by_role("heading", name="Edit article")).to_be_visible()
    article_url = ed.url
    assert re.search(r"/knowledge/articles/\d+$", article_url)
    public_link = ed.get_by_role("link", name=re.compile("^Test shop: "))
    public_path = (await public_link.get_attribute("href"))

    # … and one in Chinese.
    await ed.goto(f"{base}/knowledge")
    await ed.get_by_role("button", name="New article").click()
    await ed.get_by_label("Title").fill(f"退货政策 {t}")
    await ed.get_by_label("Body (Markdown)").fill(f"收到商品后**三十天内**可以退货 {t}。")
    await expect(ed.get_by_role("region", name="Preview").locator("strong")).to_have_text("三十天内")
    await ed.get_by_label("Language").select_option(label="简体中文")
    await ed.get_by_role("button", name="Publish").click()
    await expect(ed.get_by_text("Published (version 1).")).to_be_visible()

    # The list shows both; its filters work.
    await ed.get_by_role("link", name="← Knowledge base").click()
    rows = ed.get_by_role("table", name="Articles").get_by_role("row")
    await expect(rows.filter(has_text=f"Return policy {t}")).to_have_count(1)
    await expect(rows.filter(has_text=f"退货政策 {t}")).to_have_count(1)
    await ed.get_by_label("Language").select_option(label="简体中文")
    await expect(rows.filter(has_text=f"Return policy {t}")).to_have_count(0)
    await expect(rows.filter(has_text=f"退货政策 {t}")).to_have_count(1)

    # Ed edits the English one, then restores version 1 from the Versions list.
    await ed.goto(article_url)
    await expect(ed.get_by_label("Title")).to_have_value(f"Return policy {t}")
    await ed.get_by_label("Body (Markdown)").fill(f"Send it back within 14 days {t}.")
    await ed.get_by_label("Note for this version").fill("Shorter period")
    await ed.get_by_role("button", name="Publish").click()
    await expect(ed.get_by_text("Published (version 2).")).to_be_visible()
    versions = ed.get_by_role("list", name="Versions")
    await expect(versions.get_by_role("listitem")).to_have_count(2)
    await expect(versions.get_by_role("listitem").first).to_contain_text("Shorter period")
    await versions.get_by_role("button", name="View version 1").click()
    shown = ed.get_by_role("region", name=re.compile("^Version 1:"))
    await expect(shown.locator("strong")).to_have_text("within 60 days")
    await shown.get_by_role("button", name="Restore this version").click()
    await expect(ed.get_by_text("Version 1 is restored as version 3.")).to_be_visible()
    await expect(ed.get_by_label("Body (Markdown)")).to_have_value(re.compile("within 60 days"))
    await expect(versions.get_by_role("listitem")).to_have_count(3)
    await expect(versions.get_by_role("listitem").first).to_contain_text("Restored version 1")
    assert ed_errors.errors == [] and errors.errors == []

    # A visitor reads it in the help center, with the widget on the page.
    _, visitor, visitor_errors = await new_page()
    visitor.set_default_timeout(TIMEOUT)
    await visitor.goto(base + public_path)
    await expect(visitor.get_by_role("heading", name=f"Return policy {t}", level=1)).to_be_visible()
    await expect(visitor.get_by_text(f"within 60 days {t}")).to_be_visible()
    await expect(visitor.get_by_role("img", name="pixel")).to_be_visible()
    assert await visitor.get_by_role("img", name="pixel").evaluate("img => img.naturalWidth") == 1
    await expect(launcher(visitor)).to_be_visible()
    await visitor.get_by_role("link", name="All articles").first.click()
    await expect(visitor.get_by_role("heading", name=f"Returns {t}")).to_be_visible()
    await visitor.get_by_label("Search help articles").fill(f"return {t}")
    await visitor.get_by_role("button", name="Search").click()
    await visitor.get_by_role("link", name=f"Return policy {t}").click()
    await expect(visitor.get_by_role("heading", name=f"Return policy {t}", level=1)).to_be_visible()
    await visitor.get_by_role("link", name="简体中文").click()
    await visitor.get_by_label("搜索帮助文章").fill("退货")
    await visitor.get_by_role("button", name="搜索").click()
    await visitor.get_by_role("link", name=f"退货政策 {t}").click()
    await expect(visitor.get_by_text(f"收到商品后三十天内可以退货 {t}。")).to_be_visible()
    assert visitor_errors.errors == []


async def test_a_csr_without_the_permission_reads_but_does_not_edit(center, new_page):
    d, t = center, new_id()[:6]
    base = d.server.url
    editor = f"eve-{t}@example.com"
    csr = f"cal-{t}@example.com"
    d.create_user(editor, "admin", f"Eve {t}")
    d.create_user(csr, "agent", f"Cal {t}")
    _, ed, _ = await new_page()
    ed.set_default_timeout(TIMEOUT)
    await sign_in(ed, base, editor, d.password)
    await ed.goto(f"{base}/knowledge/new")
    await ed.get_by_label("Title").fill(f"Opening hours {t}")
    await ed.get_by_label("Body (Markdown)").fill("We answer **from 8 to 20**.")
    await ed.get_by_role("button", name="Publish").click()
    await expect(ed.get_by_text("Published (version 1).")).to_be_visible()

    _, page, errors = await new_page()
    page.set_default_timeout(TIMEOUT)
    await sign_in(page, base, csr, d.password)
    await page.get_by_role("navigation", name="Sections").get_by_role("link", name="Knowledge base").click()
    await expect(page.get_by_role("heading", name="Knowledge base")).to_be_visible()
    await expect(page.get_by_role("button", name="New article")).to_have_count(0)
    await page.get_by_label("Search articles").fill(f"Opening hours {t}")
    await page.get_by_role("button", name="Search").click()
    await page.get_by_role("link", name=f"Opening hours {t}").click()
    await expect(page.get_by_role("heading", name=f"Opening hours {t}")).to_be_visible()
    await expect(page.locator("strong", has_text="from 8 to 20")).to_be_visible()
    await expect(page.get_by_role("button", name="Publish")).to_have_count(0)
    await expect(page.get_by_role("button", name="Restore this version")).to_have_count(0)
    listed = await page.request.get(f"{base}/api/kb/articles")
    assert listed.status == 403
    refused = await page.request.post(f"{base}/api/kb/articles", data={"title": "Mine"})
    assert refused.status == 403
    assert errors.errors == []
