"""Migration 0023 gives the page views and visits recorded before it their page, by each site's
tracking settings (app/tracking/pages.py)."""

from __future__ import annotations

import importlib
import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

from app.config import load_settings
from app.db import close_db, current_connection, init_db

ROOT = Path(__file__).resolve().parents[2]


async def test_rows_recorded_before_get_their_page_by_their_sites_settings():
    data = tempfile.mkdtemp(prefix="sb-migrate-")
    env = {"DATA_DIR": data, "DATABASE_URL": f"sqlite://{data}/db.sqlite3", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True,
                   timeout=120)
    db = sqlite3.connect(f"{data}/db.sqlite3")
    with db:
        db.execute("INSERT INTO site (id, name, key, allowed_origins, settings, created_at) VALUES "
                   "(1, 'Tabs', 'k1', '[]', ?, '2026-01-01 00:00:00+00:00'), "
                   "(2, 'Plain', 'k2', '[]', '{}', '2026-01-01 00:00:00+00:00')",
                   (json.dumps({"tracking": {"route_params": ["tab"], "hash_routes": False}}),))
        db.execute("INSERT INTO visitor (id, site_id, first_seen, last_seen, visit_count, is_bot, attributes) VALUES "
                   "('v1', 1, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', 1, 0, '{}'), "
                   "('v2', 2, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', 1, 0, '{}')")
        for visit, site, visitor in ((1, 1, "v1"), (2, 2, "v2")):
            db.execute("INSERT INTO visit (id, site_id, visitor_id, number, started_at, last_activity_at, landing_url, "
                       "utm) VALUES (?, ?, ?, 1, '2026-01-01 00:00:00+00:00', '2026-01-01 00:00:00+00:00', ?, '{}')",
                       (visit, site, visitor, "https://x.example/s?tab=a&q=1#/faq"))
            db.execute("INSERT INTO page_view (visit_id, visitor_id, url, at) VALUES "
                       "(?, ?, 'https://x.example/s?tab=b#/faq', '2026-01-01 00:00:00+00:00')", (visit, visitor))
    settings = load_settings(env)
    await init_db(settings)
    try:
        migration = importlib.import_module("migrations.0023_explorer_pages")
        await migration._page_keys(None, SimpleNamespace(client=current_connection(settings)))
    finally:
        await close_db()
    with db:
        landing = dict(db.execute("SELECT site_id, landing_page FROM visit").fetchall())
        pages = dict(db.execute("SELECT visit_id, page FROM page_view").fetchall())
    db.close()
    assert landing == {1: "/s?tab=a", 2: "/s#/faq"}
    assert pages == {1: "/s?tab=b", 2: "/s#/faq"}
