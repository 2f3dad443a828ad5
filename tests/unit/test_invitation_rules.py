import pytest

from app.tracking.rules import Facts, RuleError, client_view, failed, validate


def test_every_condition_must_hold():
    conditions = validate({
        "url": "/pricing*", "min_seconds_on_page": 20, "min_seconds_on_site": 60, "min_pages": 2,
        "referrer_type": "search", "referrer_domain": "www.Google.com", "keyword": "Tent", "country": ["de", "AT"],
        "device": "mobile", "visitor": "returning", "attribute": {"name": "plan", "equals": "pro"}, "event": "signup",
    })
    facts = Facts(url="https://shop.example.com/pricing/tents?x=1", seconds_on_page=25, seconds_on_site=90, pages=3,
                  referrer_type="search", referrer_domain="news.google.com", keywords="blue tent",
                  country="DE", device="mobile", returning=True, attributes={"plan": "pro"}, events={"signup"})
    assert failed(conditions, facts) == []
    for change, key in (({"url": "https://shop.example.com/blog"}, "url"), ({"seconds_on_page": 10}, "min_seconds_on_page"),
                        ({"seconds_on_site": 50}, "min_seconds_on_site"), ({"pages": 1}, "min_pages"),
                        ({"referrer_type": "social"}, "referrer_type"), ({"referrer_domain": "notgoogle.com"}, "referrer_domain"),
                        ({"keywords": None}, "keyword"), ({"country": "FR"}, "country"), ({"device": "desktop"}, "device"),
                        ({"returning": False}, "visitor"), ({"attributes": {"plan": "free"}}, "attribute"),
                        ({"events": set()}, "event")):
        assert failed(conditions, Facts(**{**facts.__dict__, **change})) == [key]


def test_no_conditions_match_anyone_and_the_widget_only_sees_timing():
    assert failed(validate({}), Facts()) == []
    assert client_view(7, validate({"url": "/a*", "min_seconds_on_page": 5, "country": ["DE"], "event": "x"})) == \
        {"id": 7, "url": "/a*", "min_seconds_on_page": 5}


def test_time_conditions_allow_a_little_clock_skew():
    conditions = validate({"min_seconds_on_page": 10})
    assert failed(conditions, Facts(seconds_on_page=8)) == []
    assert failed(conditions, Facts(seconds_on_page=6)) == ["min_seconds_on_page"]


@pytest.mark.parametrize("conditions, message", [
    ([], "object"), ({"colour": "red"}, "Unknown"), ({"url": "pricing"}, "path"), ({"url": 5}, "path"),
    ({"min_pages": 0}, "min_pages"), ({"min_seconds_on_page": True}, "min_seconds_on_page"),
    ({"min_seconds_on_site": 10**9}, "min_seconds_on_site"), ({"referrer_type": "tv"}, "referrer_type"),
    ({"referrer_domain": "<script>"}, "referrer_domain"), ({"keyword": ""}, "keyword"),
    ({"country": ["Germany"]}, "country"), ({"country": []}, "country"), ({"device": "watch"}, "device"),
    ({"visitor": "vip"}, "visitor"), ({"attribute": {"name": "a b", "equals": 1}}, "attribute"),
    ({"attribute": {"name": "plan"}}, "attribute"), ({"event": "<img>"}, "event"),
])
def test_malformed_conditions_are_refused_with_the_reason(conditions, message):
    with pytest.raises(RuleError, match=message):
        validate(conditions)


def test_attribute_values_compare_as_typed_values():
    def matches(equals, value) -> bool:
        return failed(validate({"attribute": {"name": "a", "equals": equals}}), Facts(attributes={"a": value})) == []

    assert matches(True, True) and matches(False, False) and not matches(True, "true") and not matches(True, 1)
    assert matches(5, 5) and matches(5, 5.0) and matches(2.5, 2.5) and not matches(5, "5") and not matches(1, True)
    assert matches("pro", "pro") and not matches("5", 5) and not matches("true", True) and not matches("pro", None)
    assert not matches(5, 6) and not matches("pro", ["pro"])
    with pytest.raises(RuleError, match="attribute"):
        validate({"attribute": {"name": "a", "equals": float("nan")}})
