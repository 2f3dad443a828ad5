"""What the explorer counts as one page (app/tracking/pages.py)."""

from __future__ import annotations

import pytest

from app.services.tracking import settings_of
from app.tracking.pages import page_key


@pytest.mark.parametrize("url, hash_routes, params, page", [
    ("https://x.example/demo/support#/faq", True, (), "/demo/support#/faq"),
    ("https://x.example/demo/support#!/faq", True, (), "/demo/support#!/faq"),
    ("https://x.example/demo/support#/faq", False, (), "/demo/support"),
    ("https://x.example/pricing#plans", True, (), "/pricing"),  # an anchor is no route
    ("https://x.example/demo/support?tab=repairs&utm_source=x", True, ("tab",), "/demo/support?tab=repairs"),
    ("https://x.example/demo/support?tab=repairs", True, (), "/demo/support"),
    ("https://x.example/a?b=2&A=1&c=3", True, ("a", "b"), "/a?A=1&b=2"),  # sorted: one page however ordered
    ("https://x.example", True, (), "/"),
    (None, True, (), "(unknown)"),
    ("http://[broken", True, (), "(unknown)"),
])
def test_page_keys(url, hash_routes, params, page):
    assert page_key(url, hash_routes, params) == page


class _Site:
    def __init__(self, settings):
        self.settings = settings


def test_the_settings_default_to_hash_routes_and_no_parameters_and_ignore_bad_values():
    assert settings_of(_Site({})).page("https://x/s?tab=1#/faq") == "/s#/faq"
    kept = settings_of(_Site({"tracking": {"hash_routes": False, "route_params": ["tab", "<b>", 3]}}))
    assert kept.route_params == ("tab",) and kept.page("https://x/s?tab=1#/faq") == "/s?tab=1"
