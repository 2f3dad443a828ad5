"""Jinja2 environments (autoescape on, always)."""

from starlette.templating import Jinja2Templates

from app.paths import CONSOLE_TEMPLATES, WEB_TEMPLATES

console_templates = Jinja2Templates(directory=str(CONSOLE_TEMPLATES))
site_templates = Jinja2Templates(directory=str(WEB_TEMPLATES))
