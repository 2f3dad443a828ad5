"""Where the built front-end assets and templates live."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDGET_BUNDLE = ROOT / "widget" / "dist" / "widget.js"
WIDGET_CHAT_BUNDLE = ROOT / "widget" / "dist" / "widget-chat.js"
CONSOLE_DIST = ROOT / "agent_ui" / "dist"
CONSOLE_TEMPLATES = ROOT / "agent_ui" / "templates"
WEB_TEMPLATES = Path(__file__).resolve().parent / "web" / "templates"
DEMO_STATIC = WEB_TEMPLATES / "demo" / "static"
