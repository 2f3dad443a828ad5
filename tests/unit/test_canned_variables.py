"""The canned responses' pure rules (app/knowledge/canned.py): shortcuts, and the variables filled
when a CSR inserts a response — with their fallbacks, and anything else in braces left as typed."""

from __future__ import annotations

import pytest

from app.knowledge import canned


def fill(body: str, visitor: str | None = "Noor", agent: str | None = "Gina Agent", site: str | None = "Test shop") -> str:
    return canned.fill(body, visitor_name=visitor, agent_name=agent, site_name=site)


def test_the_three_variables_are_filled():
    assert fill("Hi {visitor.name}, this is {agent.name} from {site.name}.") == \
        "Hi Noor, this is Gina Agent from Test shop."


def test_a_variable_used_twice_is_filled_twice():
    assert fill("{visitor.name}? {visitor.name}!") == "Noor? Noor!"


@pytest.mark.parametrize("empty", [None, "", "   ", "\n\t"])
def test_a_visitor_without_a_name_is_greeted_as_there(empty):
    assert fill("Hi {visitor.name}, how can I help?", visitor=empty) == "Hi there, how can I help?"


def test_fallbacks_for_an_empty_agent_and_site_name():
    assert fill("{agent.name} at {site.name}", agent="", site=None) == "our team at our website"
    assert canned.values(visitor_name=None, agent_name=None, site_name=None) == canned.FALLBACKS


def test_a_name_is_one_line_of_text():
    assert fill("Hi {visitor.name}!", visitor="  Noor \n  Haddad ") == "Hi Noor Haddad!"


def test_spaces_inside_the_braces_are_allowed():
    assert fill("Hi { visitor.name }, I'm {agent.name }") == "Hi Noor, I'm Gina Agent"


@pytest.mark.parametrize("body", [
    "Your order {order.id} ships today",  # unknown variable
    "{Visitor.Name}",  # variables are lower case
    "{visitor.email}",
    "{visitor name}", "{}", "{ }", "{{visitor}}", '{"json": true}', "a { b } c", "{visitor.name",
])
def test_anything_else_in_braces_is_left_as_typed(body):
    assert fill(body) == body


def test_a_value_is_never_read_as_a_variable_again():
    # A visitor who calls themselves "{agent.name}" is greeted by that name, not the CSR's.
    assert fill("Hi {visitor.name} from {site.name}", visitor="{agent.name}", site="{visitor.name}") == \
        "Hi {agent.name} from {visitor.name}"


def test_markup_stays_text():
    assert fill("Hi {visitor.name}", visitor="<img src=x onerror=alert(1)>") == "Hi <img src=x onerror=alert(1)>"


def test_chinese_text_and_names():
    assert fill("{visitor.name}，您好！我是{agent.name}。", visitor="王小明", agent="李客服") == "王小明，您好！我是李客服。"


def test_the_variables_a_body_uses():
    assert canned.variables_in("Hi {visitor.name}, {order.id} {agent.name} {visitor.name}") == \
        ["visitor.name", "agent.name"]
    assert canned.variables_in("no variables") == []
    assert sorted(canned.VARIABLES) == ["agent.name", "site.name", "visitor.name"]


@pytest.mark.parametrize("raw, stored", [
    ("refund", "refund"), ("/refund", "refund"), ("  /Refund-2_b ", "Refund-2_b"), ("a", "a"), ("x" * 40, "x" * 40),
    ("0", "0"),
])
def test_shortcuts_that_are_taken(raw, stored):
    assert canned.shortcut(raw) == stored


@pytest.mark.parametrize("raw", ["", "/", "//refund", "re fund", "refund!", "x" * 41, "退货", "ref.und", "/ref/und",
                                 "ref\nund", "ré"])
def test_shortcuts_that_are_refused(raw):
    assert canned.shortcut(raw) is None
