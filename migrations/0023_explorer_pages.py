from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# The explorer aggregates in SQL (app/services/explorer.py): each page view and each visit's landing
# page carry the page the explorer counts (app/tracking/pages.py), and the explorer's joins have
# indexes — a visit's page views in order, its custom events, a visitor's chats by time.
_INDEXES = [
    "CREATE INDEX IF NOT EXISTS idx_page_view_visit_at ON page_view (visit_id, at, id)",
    "CREATE INDEX IF NOT EXISTS idx_track_event_visit_name ON track_event (visit_id, name)",
    "CREATE INDEX IF NOT EXISTS idx_conversation_visitor_requested ON conversation (visitor_id, requested_at)",
]
_DROP = [
    "DROP INDEX IF EXISTS idx_page_view_visit_at",
    "DROP INDEX IF EXISTS idx_track_event_visit_name",
    "DROP INDEX IF EXISTS idx_conversation_visitor_requested",
]
_CHUNK = 5000


def _postgres(editor) -> bool:
    return editor.client.capabilities.dialect == "postgres"


async def _page_keys(apps, editor) -> None:
    """The page keys of the rows recorded before: by each site's settings as they are now."""
    from app.services.tracking import TrackingSettings, settings_of

    client = editor.client
    pg = _postgres(editor)
    mark = (lambda i: f"${i}") if pg else (lambda i: "?")
    sites = {}
    for row in await client.execute_query_dict("SELECT id, settings FROM site"):
        raw = row["settings"]
        if isinstance(raw, str):
            import json
            raw = json.loads(raw or "{}")

        class _Site:
            settings = raw if isinstance(raw, dict) else {}
        sites[row["id"]] = settings_of(_Site())  # type: ignore[arg-type]
    default = TrackingSettings()
    for table, select in (
        ("visit", "SELECT id, site_id, landing_url AS url FROM visit WHERE landing_page IS NULL AND id > {m} "
                  "ORDER BY id LIMIT " + str(_CHUNK)),
        ("page_view", "SELECT p.id, v.site_id, p.url FROM page_view p JOIN visit v ON v.id = p.visit_id "
                      "WHERE p.page IS NULL AND p.id > {m} ORDER BY p.id LIMIT " + str(_CHUNK)),
    ):
        column = "landing_page" if table == "visit" else "page"
        last = 0
        while True:
            rows = await client.execute_query_dict(select.format(m=mark(1)), [last])
            if not rows:
                break
            last = rows[-1]["id"]
            values = [[sites.get(r["site_id"], default).page(r["url"]), r["id"]] for r in rows]
            await client.execute_many(f"UPDATE {table} SET {column} = {mark(1)} WHERE id = {mark(2)}", values)


async def _nothing(apps, editor) -> None:
    return None


class Migration(migrations.Migration):
    dependencies = [('models', '0022_after_hours')]

    initial = False

    operations = [
        ops.AddField(
            model_name='PageView',
            name='page',
            field=fields.CharField(null=True, max_length=2048),
        ),
        ops.AddField(
            model_name='Visit',
            name='landing_page',
            field=fields.CharField(null=True, max_length=2048),
        ),
        ops.RunSQL(_INDEXES, _DROP),
        ops.RunPython(_page_keys, _nothing),
    ]
