"""Refusals speak the staff user's language: the messages of the agent socket's error acks and of the
staff JSON APIs' errors are in Chinese for a user whose Language is 简体中文 (values such as a
shortcut or a list of statuses filled in after translation), in English for an English user, and in
the browser's language for a user who follows the browser (for the socket: the Accept-Language of
its connection). The error `code` never changes.
"""

from __future__ import annotations

import html
import re

import httpx

from tests.support import clients
from tests.support.clients import new_id
from tests.support.web import csrf_of, signed_in

MISSING_CONVERSATION = 2_000_000_000


async def choose_language(d, email: str, language: str) -> None:
    """`email` chooses `language` ("" follows the browser) on their account page."""
    async with signed_in(d.server.url, email, d.password) as http:
        page = await http.get("/account")
        saved = await http.post("/account/language", data={"csrf_token": csrf_of(page.text), "language": language})
        assert saved.status_code == 303, saved.text


async def agent_socket(d, email: str, accept_language: str | None = None) -> clients.Client:
    """The console's socket of `email`, connected with `accept_language` (the browser's) if given."""
    client = clients.Client("/agent")
    token = await clients.socket_token(d.server.url, email, d.password)
    headers = {"Accept-Language": accept_language} if accept_language else {}
    await client.sio.connect(d.server.url, namespaces=["/agent"], auth={"token": token}, transports=["websocket"],
                             headers=headers, wait_timeout=10)
    await client.rec.wait_for("status")
    return client


async def socket_refusals(d, email: str, accept_language: str | None = None) -> dict[str, dict]:
    """The error of each refused event: a close of a conversation that does not exist, a status that is
    not one, a reason that is not one of the away reasons."""
    agent = await agent_socket(d, email, accept_language)
    try:
        answers = {
            "close": await agent.call("close", {"conversation_id": MISSING_CONVERSATION}),
            "status": await agent.call("set_status", {"status": "busy"}),
            "reason": await agent.call("set_status", {"status": "away", "reason": f"no such reason {new_id()[:6]}"}),
        }
    finally:
        await agent.disconnect()
    for name, answer in answers.items():
        assert answer["ok"] is False, (name, answer)
    return {name: answer["error"] for name, answer in answers.items()}


async def api_refusals(d, email: str, accept_language: str | None = None) -> dict[str, dict]:
    """The error of each refused canned-response request: a text missing (a field label in the
    message), a shortcut taken (a value in the message), a shortcut that is not one."""
    shortcut = f"/t{new_id()[:8]}"
    headers = {"accept-language": accept_language} if accept_language else {}
    async with signed_in(d.server.url, email, d.password) as http:
        csrf = csrf_of((await http.get("/account")).text)
        post = {**headers, "x-csrf-token": csrf}
        made = await http.post("/api/canned", json={"shortcut": shortcut, "body": "Hello"}, headers=post)
        assert made.status_code == 201 and made.json()["ok"], made.text
        answers: dict[str, httpx.Response] = {
            "text": await http.post("/api/canned", json={"shortcut": f"/u{new_id()[:8]}", "body": "  "}, headers=post),
            "taken": await http.post("/api/canned", json={"shortcut": shortcut, "body": "Again"}, headers=post),
            "shortcut": await http.post("/api/canned", json={"shortcut": "/no spaces please", "body": "x"}, headers=post),
        }
    expected_status = {"text": 400, "taken": 409, "shortcut": 400}
    for name, response in answers.items():
        assert response.status_code == expected_status[name], (name, response.status_code, response.text)
    return {name: response.json()["error"] | {"shortcut": shortcut} for name, response in answers.items()}


ENGLISH_SOCKET = {
    "close": ("not_found", "No such conversation."),
    "status": ("bad_request", "status must be one of offline, available, away."),
    "reason": ("bad_request", "That is not one of the away reasons."),
}
CHINESE_SOCKET = {
    "close": ("not_found", "没有这个对话。"),
    "status": ("bad_request", "status 必须是以下之一：offline, available, away。"),
    "reason": ("bad_request", "这不是离开原因之一。"),
}


def english_api(shortcut: str) -> dict[str, tuple[str, str]]:
    return {
        "text": ("bad_request", "The text is needed."),
        "taken": ("conflict", f"There is a response {shortcut} of yours already."),
        "shortcut": ("bad_request", "A shortcut is 1 to 40 letters, digits, “-” or “_” (like /refund)."),
    }


def chinese_api(shortcut: str) -> dict[str, tuple[str, str]]:
    return {
        "text": ("bad_request", "需要填写正文。"),
        "taken": ("conflict", f"你已有回复 {shortcut}。"),
        "shortcut": ("bad_request", "快捷键为 1 到 40 个字母、数字、“-”或“_”（如 /refund）。"),
    }


def shown(errors: dict[str, dict]) -> dict[str, tuple[str, str]]:
    return {name: (error["code"], error["message"]) for name, error in errors.items()}


async def test_a_user_whose_language_is_chinese_is_refused_in_chinese_whatever_the_browser(sqlite_deployment):
    d = sqlite_deployment
    email = f"refused-zh-{new_id()[:8]}@example.com"
    d.create_user(email, "agent")
    await choose_language(d, email, "zh-CN")
    assert shown(await socket_refusals(d, email, accept_language="en-US,en;q=0.9")) == CHINESE_SOCKET
    api = await api_refusals(d, email, accept_language="en-US,en;q=0.9")
    assert shown(api) == chinese_api(api["taken"]["shortcut"])
    assert api["text"]["field"] == "body" and api["taken"]["field"] == "shortcut"


async def test_an_english_user_is_refused_in_english_whatever_the_browser(sqlite_deployment):
    d = sqlite_deployment
    email = f"refused-en-{new_id()[:8]}@example.com"
    d.create_user(email, "agent")
    await choose_language(d, email, "en")
    assert shown(await socket_refusals(d, email, accept_language="zh-CN,zh;q=0.9")) == ENGLISH_SOCKET
    api = await api_refusals(d, email, accept_language="zh-CN,zh;q=0.9")
    assert shown(api) == english_api(api["taken"]["shortcut"])


async def test_a_user_who_follows_the_browser_is_refused_in_the_browsers_language(sqlite_deployment):
    d = sqlite_deployment
    email = f"refused-browser-{new_id()[:8]}@example.com"
    d.create_user(email, "agent")  # no Language chosen: the browser's
    assert shown(await socket_refusals(d, email, accept_language="zh-TW,zh;q=0.9,en;q=0.5")) == CHINESE_SOCKET
    assert shown(await socket_refusals(d, email, accept_language="en-GB,en;q=0.9")) == ENGLISH_SOCKET
    assert shown(await socket_refusals(d, email)) == ENGLISH_SOCKET  # no header: English
    api = await api_refusals(d, email, accept_language="zh-CN")
    assert shown(api) == chinese_api(api["taken"]["shortcut"])
    api = await api_refusals(d, email, accept_language="de-DE,en;q=0.5")
    assert shown(api) == english_api(api["taken"]["shortcut"])


async def test_the_sign_in_refusal_of_a_staff_api_follows_the_browser(sqlite_deployment):
    async with httpx.AsyncClient(base_url=sqlite_deployment.server.url, timeout=30) as anonymous:
        chinese = await anonymous.get("/api/canned", headers={"accept-language": "zh-CN"})
        english = await anonymous.get("/api/canned", headers={"accept-language": "en-US"})
    assert chinese.status_code == english.status_code == 401
    assert chinese.json()["error"]["code"] == english.json()["error"]["code"] == "unauthorized"
    assert (chinese.json()["error"]["message"], english.json()["error"]["message"]) == ("请先登录。", "Sign in first.")


def field_error(page: str, field: str) -> str | None:
    """The message an admin form shows next to `field` (None: none there)."""
    found = re.search(rf'id="f-{field}-error">([^<]*)<', page)
    return html.unescape(found.group(1)) if found else None


async def refusal_of_a_taken_email(d, admin: str, taken: str) -> str | None:
    """What the admin Users page shows next to the e-mail when `admin` adds a user with `taken`."""
    async with signed_in(d.server.url, admin, d.password) as http:
        token = csrf_of((await http.get("/admin/users")).text)
        answer = await http.post("/admin/users", data={"csrf_token": token, "email": taken, "name": "Again",
                                                       "role": "agent", "capacity": "3"})
    assert answer.status_code == 400, answer.status_code
    return field_error(answer.text, "email")


async def test_a_refusal_with_a_value_in_it_is_translated_with_the_value_filled_in(sqlite_deployment):
    d, t = sqlite_deployment, new_id()[:8]
    taken = f"taken-{t}@example.com"
    d.create_user(taken, "agent", f"Taken {t}")
    chinese, english = f"zh-admin-{t}@example.com", f"en-admin-{t}@example.com"
    for admin, language in ((chinese, "zh-CN"), (english, "en")):
        d.create_user(admin, "admin", f"Admin {t}")
        await choose_language(d, admin, language)
    assert await refusal_of_a_taken_email(d, chinese, taken) == f"电子邮件为 {taken} 的用户已存在。"
    assert await refusal_of_a_taken_email(d, english, taken) == f"A user with the e-mail {taken} exists already."
