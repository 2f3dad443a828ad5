"""axe-core (from the console's npm dev dependencies) run in a page, failing on any WCAG 2.1 A/AA
violation.

The script is injected into the page, so the page's context must be made with `bypass_csp=True`
(only the test browser relaxes the CSP; the server's policy is unchanged). axe reads open shadow
roots, so the widget's panel is checked as a visitor's browser renders it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

AXE_JS = Path(__file__).resolve().parents[2] / "agent_ui" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@cache
def _source() -> str:
    if not AXE_JS.exists():
        raise AssertionError(f"axe-core is missing at {AXE_JS}: run `make build` (npm ci in agent_ui)")
    return AXE_JS.read_text()


async def violations(page, *, include: str | None = None, exclude: list[str] | None = None) -> list[dict]:
    """axe's WCAG 2.1 A/AA violations on the page as it is now (or within the `include` selector)."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(content=_source())
    return await page.evaluate(
        """async ([include, exclude, tags]) => {
            const context = include ? { include: [include], exclude: exclude.map(s => [s]) }
                                    : { exclude: exclude.map(s => [s]) };
            const result = await window.axe.run(context, {
                runOnly: { type: "tag", values: tags },
                resultTypes: ["violations"],
            });
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({ target: n.target, summary: n.failureSummary, html: n.html.slice(0, 300) })),
            }));
        }""",
        [include, exclude or [], WCAG_21_AA],
    )


def describe(found: list[dict]) -> str:
    lines = []
    for v in found:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:8]:
            lines.append(f"    {node['target']}: {node['summary']}\n      {node['html']}")
    return "\n".join(lines)


async def assert_accessible(page, where: str, **options) -> None:
    """Fails with a readable list when axe finds any WCAG 2.1 A/AA violation on `page`."""
    found = await violations(page, **options)
    assert not found, f"axe-core found WCAG 2.1 A/AA violations on {where}:\n{describe(found)}"
