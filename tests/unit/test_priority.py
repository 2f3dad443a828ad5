from app.models import Visitor
from app.services.conversations import visitor_priority


def visitor(attributes) -> Visitor:
    return Visitor(id="v_test", site_id=1, attributes=attributes)


def test_vips_and_explicit_priorities():
    assert visitor_priority(visitor({})) == 0
    assert visitor_priority(visitor({"vip": True})) == 10
    assert visitor_priority(visitor({"vip": "yes"})) == 0  # only a real true counts
    assert visitor_priority(visitor({"priority": 42})) == 42
    assert visitor_priority(visitor({"priority": 1000})) == 100
    assert visitor_priority(visitor({"priority": -5})) == 0
    assert visitor_priority(visitor({"priority": True})) == 0
    assert visitor_priority(visitor({"priority": "7", "vip": True})) == 10
    malformed = visitor({})
    malformed.attributes = ["not", "a", "mapping"]
    assert visitor_priority(malformed) == 0
