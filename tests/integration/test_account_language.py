"""Each staff user's Language (English, 简体中文, or follow the browser), chosen on the account page:
what it stores, what it refuses, and the language the staff pages are then served in."""

from __future__ import annotations

import re

import httpx

from tests.support.clients import new_id
from tests.support.db import fetch
from tests.support.web import csrf_of, signed_in


def lang_of(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


async def language_of(deployment, email: str) -> str | None:
    return (await fetch(deployment, "SELECT language FROM app_user WHERE email = ?", email))[0]["language"]


async def test_a_user_chooses_chinese_and_every_staff_page_follows(sqlite_deployment):
    d = sqlite_deployment
    email = f"lang-{new_id()[:8]}@example.com"
    d.create_user(email, "agent")
    async with signed_in(d.server.url, email, d.password) as http:
        page = await http.get("/account", headers={"accept-language": "en-GB,en;q=0.8"})
        assert lang_of(page.text) == "en" and 'id="language"' in page.text and "Follow the browser" in page.text
        saved = await http.post("/account/language", data={"csrf_token": csrf_of(page.text), "language": "zh-CN"})
        assert saved.status_code == 303 and saved.headers["location"] == "/account?done=language"
        assert await language_of(d, email) == "zh-CN"
        # The user's choice wins over an English browser, on every staff page.
        for path in ("/account?done=language", "/console", "/visitors"):
            shown = await http.get(path, headers={"accept-language": "en-US"})
            assert shown.status_code == 200 and lang_of(shown.text) == "zh-CN", path
        shown = await http.get("/account?done=language", headers={"accept-language": "en-US"})
        assert "语言已保存。" in shown.text and "退出登录" in shown.text
        assert re.search(r'<option value="zh-CN" lang="zh-CN" translate="no" selected>简体中文</option>', shown.text)

        # Back to following the browser.
        back = await http.post("/account/language", data={"csrf_token": csrf_of(shown.text), "language": ""})
        assert back.status_code == 303 and await language_of(d, email) is None
        for header, expected in [("zh-TW,zh;q=0.9", "zh-CN"), ("fr-FR, en;q=0.5", "en"), ("de", "en"),
                                 ("en;q=0.4, zh;q=0.9", "zh-CN"), ("zh;q=0", "en"), ("", "en")]:
            shown = await http.get("/account", headers={"accept-language": header})
            assert lang_of(shown.text) == expected, header
    audit = await fetch(d, "SELECT a.action FROM audit_event a JOIN app_user u ON u.id = a.actor_id "
                           "WHERE u.email = ? ORDER BY a.id", email)
    assert [row["action"] for row in audit] == ["user_language", "user_language"]


async def test_what_the_language_form_refuses(sqlite_deployment):
    d = sqlite_deployment
    email = f"lang-{new_id()[:8]}@example.com"
    d.create_user(email, "supervisor")
    async with signed_in(d.server.url, email, d.password) as http:
        csrf = csrf_of((await http.get("/account")).text)
        for data in [{"language": "fr"}, {"language": "zh"}, {"language": "x" * 5000}, {},
                     {"language": ["en", "zh-CN"]}, {"language": "EN"}]:
            refused = await http.post("/account/language", data={"csrf_token": csrf, **data})
            assert refused.status_code == 400, data
            assert 'role="alert"' in refused.text and "Choose English, 简体中文" in refused.text, data
        for forged in [{"csrf_token": "forged"}, {}]:
            refused = await http.post("/account/language", data={**forged, "language": "zh-CN"})
            assert refused.status_code == 400 and "The form expired" in refused.text
        assert await language_of(d, email) is None  # nothing was stored
    async with httpx.AsyncClient(base_url=d.server.url, follow_redirects=False, timeout=30) as anonymous:
        signed_out = await anonymous.post("/account/language", data={"language": "zh-CN"})
        assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login")


async def test_the_sign_in_page_follows_the_browser(sqlite_deployment):
    async with httpx.AsyncClient(base_url=sqlite_deployment.server.url, timeout=30) as http:
        chinese = await http.get("/login", headers={"accept-language": "zh-CN,zh;q=0.9,en;q=0.8"})
        assert lang_of(chinese.text) == "zh-CN" and "登录客服工作台" in chinese.text
        english = await http.get("/login", headers={"accept-language": "en-US,en;q=0.9"})
        assert lang_of(english.text) == "en" and "Sign in to the agent console" in english.text
        wrong = await http.post("/login", headers={"accept-language": "zh-CN"},
                                data={"email": "nobody@example.com", "password": "x", "csrf_token": csrf_of(chinese.text)})
        assert wrong.status_code == 401 and "电子邮件或密码不正确。" in wrong.text
