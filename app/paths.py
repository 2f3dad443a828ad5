"""Where the built front-end assets and templates live.

In a source checkout: widget/dist, agent_ui/dist and agent_ui/templates (`make build`). In an
installed wheel: the same files inside the package, under app/_assets (copied there by the package
build, setup.py), so an installed Switchboard needs no npm and no source tree.
"""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
PACKAGED_ASSETS = PACKAGE / "_assets"


def _located(source: Path, packaged: Path) -> Path:
    return source if source.exists() or not packaged.exists() else packaged


WIDGET_DIST = _located(ROOT / "widget" / "dist", PACKAGED_ASSETS / "widget")
WIDGET_BUNDLE = WIDGET_DIST / "widget.js"
WIDGET_CHAT_BUNDLE = WIDGET_DIST / "widget-chat.js"
CONSOLE_DIST = _located(ROOT / "agent_ui" / "dist", PACKAGED_ASSETS / "console")
CONSOLE_TEMPLATES = _located(ROOT / "agent_ui" / "templates", PACKAGED_ASSETS / "console_templates")
WEB_TEMPLATES = PACKAGE / "web" / "templates"
DEMO_STATIC = WEB_TEMPLATES / "demo" / "static"
