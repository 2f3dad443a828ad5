"""The widget's weight on a host page: what it makes the browser download before the visitor opens
the chat, gzipped, and the long tasks on the host page while it loads.

    .venv/bin/python bench/widget_weight.py [--runs 3]
    .venv/bin/python bench/widget_weight.py --quick     # one run

Builds nothing (run `cd widget && npm run build` first). Starts a real server with the demo site
(tests/support/server.py), opens the demo page in Chromium (Playwright, /usr/bin/chromium) and
records every response the widget causes before the chat is opened: widget.js, anything it loads
(a lazily loaded chunk must not be among them), and the socket.io transport (the WebSocket
upgrade and its frames, or long-polling requests). The host page's own HTML/CSS is left out.
The figure is the gzip -9 size of each JavaScript body; the socket.io traffic is reported as the
bytes of its frames (not JavaScript, not part of the figure).

Baseline, measured in the same run: socket.io-client's own minified browser bundle
(widget/node_modules/socket.io-client/dist/socket.io.min.js) gzipped — what any widget built on
socket.io costs before a line of its own. The ratio is the widget's figure ÷ the baseline.

Long tasks: a buffered PerformanceObserver('longtask') installed before the page's first script
collects every task over 50 ms on the host page during load and the first 3 seconds.

Then the visitor opens the chat: what that loads (widget-chat.js) is reported on its own line.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import re
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import add_quick, sizes  # noqa: E402
from tests.support.server import deploy  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]
BASELINE = ROOT / "widget" / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
BUDGET = 22 * 1024
FULL = {"runs": 3}
QUICK = {"runs": 1}
OBSERVE_LONG_TASKS = """
  window.__longTasks = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push(e.duration);
    }).observe({ type: "longtask", buffered: true });
  } catch (e) { window.__longTasks = null; }
"""


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9))


async def measure(browser, base: str) -> dict:
    context = await browser.new_context()
    page = await context.new_page()
    await page.add_init_script(OBSERVE_LONG_TASKS)
    host = base + "/demo/"
    phase = {"now": "before"}
    scripts: list[tuple[str, str, int, int]] = []  # (phase, name, raw bytes, gzip bytes)
    transport = {"before": [0, 0], "after": [0, 0]}  # [requests/upgrades, frame bytes]
    pending: list[asyncio.Task] = []

    async def on_response(response):
        url = response.url
        if url.startswith(host) or "/static/" in url:
            return  # the host page's own HTML/CSS
        when = phase["now"]
        if "/socket.io/" in url:
            transport[when][0] += 1
            if response.status == 200:
                try:
                    transport[when][1] += len(await response.body())
                except Exception:
                    pass
            return
        if response.request.resource_type == "script" or url.split("?")[0].endswith(".js"):
            body = await response.body()
            name = re.sub(r"^https?://[^/]+", "", url)
            scripts.append((when, name, len(body), gz(body)))

    def on_websocket(ws):
        transport[phase["now"]][0] += 1
        ws.on("framereceived", lambda p: _add(transport, phase["now"], p))
        ws.on("framesent", lambda p: _add(transport, phase["now"], p))

    page.on("response", lambda r: pending.append(asyncio.ensure_future(on_response(r))))
    page.on("websocket", on_websocket)
    await page.goto(host, wait_until="load")
    launcher = page.get_by_role("button", name=re.compile(r"^(Open|Close) chat"))
    await launcher.wait_for()
    # Measuring the first 3 seconds of the page's life (not synchronising with anything).
    await page.wait_for_timeout(3000)
    await asyncio.gather(*pending)
    long_tasks = await page.evaluate("window.__longTasks")

    phase["now"] = "after"
    await launcher.click()
    opened = True
    try:
        await page.get_by_role("textbox", name="Message").wait_for(timeout=10000)
    except Exception:
        opened = False
    await asyncio.gather(*pending)
    await context.close()
    return {"scripts": scripts, "transport": transport, "long_tasks": long_tasks, "opened": opened}


def _add(transport, when, payload) -> None:
    transport[when][1] += len(payload if isinstance(payload, bytes) else str(payload).encode())


async def main(runs: int, quick: bool = False) -> None:
    from playwright.async_api import async_playwright

    if not BASELINE.exists():
        sys.exit(f"{BASELINE} is missing: run `cd widget && npm install`.")
    baseline = gz(BASELINE.read_bytes())
    deployment = deploy(database_url=None, redis_url=None, processes=1, seed_demo=True)
    try:
        base = deployment.server.url
        if httpx.get(base + "/widget.js").status_code != 200:
            sys.exit("widget/dist/widget.js is not built: run `cd widget && npm run build`.")
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            results = [await measure(browser, base) for _ in range(runs)]
            await browser.close()
    finally:
        deployment.stop()

    first = results[0]
    before = [s for s in first["scripts"] if s[0] == "before"]
    after = [s for s in first["scripts"] if s[0] == "after"]
    figure = sum(s[3] for s in before)
    lt = [r["long_tasks"] for r in results]
    counts = [len(x) if x is not None else None for x in lt]
    longest = max((max(x) for x in lt if x), default=0.0)

    print(f"## Widget weight (demo page, Chromium, {runs} run{'s' if runs > 1 else ''}"
          f"{'; QUICK mode, not for the record' if quick else ''})\n")
    print("| what | bytes | gzip -9 |")
    print("|---|---:|---:|")
    for _, name, raw, z in before:
        print(f"| {name} (before the chat is opened) | {raw:,} | {z:,} |")
    print(f"| **everything the widget loads before the chat is opened** | | **{figure:,}** |")
    print(f"| baseline: socket.io-client's socket.io.min.js alone | {BASELINE.stat().st_size:,} | {baseline:,} |")
    print(f"| ratio widget ÷ baseline | | {figure / baseline:.2f} |")
    print(f"| budget | | {BUDGET:,} ({'within' if figure <= BUDGET else 'OVER'}) |")
    conns, frame_bytes = first["transport"]["before"]
    print(f"| socket.io transport before opening: {conns} connection(s)/request(s), frame/poll bytes | {frame_bytes:,} | — |")
    for _, name, raw, z in after:
        print(f"| {name} (loaded when the chat is first opened) | {raw:,} | {z:,} |")
    if not first["opened"]:
        print("| (the chat panel did not open: is /widget-chat.js served?) | | |")
    print()
    print("| long tasks on the host page (load + first 3 s) | value |")
    print("|---|---:|")
    print(f"| tasks over 50 ms, per run | {', '.join('n/a' if c is None else str(c) for c in counts)} |")
    print(f"| longest | {longest:.0f} ms |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, help=f"page loads measured (default {FULL['runs']})")
    add_quick(parser)
    args = sizes(parser.parse_args(), FULL, QUICK)
    asyncio.run(main(args.runs, args.quick))
