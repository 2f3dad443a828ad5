from types import SimpleNamespace

import pytest

from app.routing.rules import department_for_languages, languages, matches


@pytest.mark.parametrize("header, expected", [
    ("de-CH,de;q=0.9,en;q=0.5", ["de-ch", "de", "en"]),
    ("en;q=0.2, fr-FR, de;q=0.8", ["fr-fr", "de", "en"]),
    ("fr;q=0, it", ["it"]),  # q=0: not this one
    ("", []), (None, []),
    ("<script>alert(1)</script>, de", ["de"]),
    ("de;q=abc, en", ["en"]),
    ("x" * 2000, []),
    ("en, en, EN", ["en"]),
    (",".join("a" + chr(97 + i) for i in range(20)), ["a" + chr(97 + i) for i in range(8)]),
])
def test_accept_language_is_read_in_order_of_preference(header, expected):
    assert languages(header) == expected


def test_a_regional_preference_matches_its_language_but_not_the_reverse():
    assert matches("de-ch", "de") and matches("de", "de") and matches("de-ch", "de-ch")
    assert not matches("de", "de-ch") and not matches("dea", "de")


def test_the_most_preferred_language_any_department_serves_wins():
    german = SimpleNamespace(name="Deutsch", route_languages=["de"])
    french = SimpleNamespace(name="Français", route_languages=["fr", "fr-ch"])
    plain = SimpleNamespace(name="General", route_languages=[])
    broken = SimpleNamespace(name="Broken", route_languages="de")
    departments = [broken, german, french, plain]
    assert department_for_languages(departments, ["it", "fr-ch", "de"]) is french
    assert department_for_languages(departments, ["de-at", "fr"]) is german
    assert department_for_languages(departments, ["it"]) is None
    assert department_for_languages(departments, []) is None
