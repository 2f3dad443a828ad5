"""Seconds per test file, from a JUnit XML report (`pytest --junitxml`), as tests/durations.json
(the order tests/conftest.py starts files in). `make durations` runs the suite and writes it."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ElementTree
from collections import defaultdict


def per_file(report: str) -> dict[str, float]:
    seconds: dict[str, float] = defaultdict(float)
    for case in ElementTree.parse(report).iter("testcase"):
        # classname "tests.e2e.test_story" (or "tests.e2e.test_story.TestX"): its file.
        parts = case.get("classname", "").split(".")
        while parts and not parts[-1].startswith("test_"):
            parts.pop()
        if parts:
            seconds["/".join(parts) + ".py"] += float(case.get("time") or 0)
    return {name: round(total, 1) for name, total in sorted(seconds.items(), key=lambda kv: -kv[1])}


if __name__ == "__main__":
    json.dump(per_file(sys.argv[1]), sys.stdout, indent=1)
    sys.stdout.write("\n")
