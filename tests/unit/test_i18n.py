"""The request's language: a user's choice, else the browser's Accept-Language, else English."""

from __future__ import annotations

import pytest

from app import i18n


@pytest.mark.parametrize("header, expected", [
    (None, "en"), ("", "en"), ("zh-CN", "zh-CN"), ("zh", "zh-CN"), ("zh-Hans-CN,zh;q=0.9", "zh-CN"),
    ("zh-TW", "zh-CN"), ("en-GB,en;q=0.9,zh;q=0.8", "en"), ("fr,de;q=0.9", "en"), ("fr, zh;q=0.5", "zh-CN"),
    ("en;q=0.1, zh;q=0.9", "zh-CN"), ("zh;q=0, en;q=0.1", "en"), ("zh;q=abc", "en"), ("*", "en"),
    ("x" * 5000, "en"), (",,;;q=,", "en"),
])
def test_the_browser_language(header, expected):
    assert i18n.negotiate(header) == expected


def test_a_users_choice_wins_unless_it_follows_the_browser():
    assert i18n.choose("zh-CN", "en-US") == "zh-CN"
    assert i18n.choose("en", "zh-CN") == "en"
    assert i18n.choose(None, "zh-CN") == "zh-CN"
    assert i18n.choose("klingon", "zh-CN") == "zh-CN"


def test_gettext_follows_the_current_language():
    i18n.use("zh-CN")
    assert i18n.gettext("Sign out") == "退出登录"
    assert i18n.gettext("A message no catalog has") == "A message no catalog has"
    i18n.use("en")
    assert i18n.gettext("Sign out") == "Sign out"
    i18n.use("fr")
    assert i18n.current() == "en"


def test_templates_show_a_message_with_a_percent_sign_as_it_came():
    from app.web.templating import console_templates

    i18n.use("en")
    page = console_templates.env.from_string(
        '{{ _(m) }}|{{ _("At least %(n)s characters. Every other session of yours is signed out.", n=3) }}'
        '|{{ _("50%% done") }}|{{ ngettext("%(num)s chat", "%(num)s chats", 3) }}')
    assert page.render(m="Between 0% and 100%: 5%d.") == (
        "Between 0% and 100%: 5%d.|At least 3 characters. Every other session of yours is signed out.|50% done|3 chats")
    i18n.use("zh-CN")
    assert page.render(m="Sign out").startswith("退出登录|至少 3 个字符")


def test_a_message_shown_as_it_came_is_text_never_markup():
    from app.web.templating import console_templates

    i18n.use("en")
    page = console_templates.env.from_string('{{ _(m) }}|{{ _("At least %(n)s characters. '
                                             'Every other session of yours is signed out.", n=v) }}')
    assert page.render(m="'<script>alert(1)</script>' is not a date.", v="<b>") == (
        "&#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39; is not a date.|"
        "At least &lt;b&gt; characters. Every other session of yours is signed out.")
    # The catalog's own messages are reviewed text and may hold markup ({% trans %} blocks with <kbd>).
    assert i18n.is_message("Sign out") and not i18n.is_message("'<script>alert(1)</script>' is not a date.")
