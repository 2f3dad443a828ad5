from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

_PG = [
    "ALTER TABLE kb_article ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english', coalesce(search_title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(search_body, '')), 'B')) STORED",
    "CREATE INDEX kb_article_search_idx ON kb_article USING GIN (search_vector)",
]
_SQLITE = [
    "CREATE VIRTUAL TABLE kb_article_fts USING fts5(search_title, search_body, content='kb_article', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER kb_article_fts_insert AFTER INSERT ON kb_article BEGIN "
    "INSERT INTO kb_article_fts(rowid, search_title, search_body) VALUES (new.id, new.search_title, new.search_body); END",
    "CREATE TRIGGER kb_article_fts_delete AFTER DELETE ON kb_article BEGIN "
    "INSERT INTO kb_article_fts(kb_article_fts, rowid, search_title, search_body) "
    "VALUES ('delete', old.id, old.search_title, old.search_body); END",
    "CREATE TRIGGER kb_article_fts_update AFTER UPDATE OF search_title, search_body ON kb_article BEGIN "
    "INSERT INTO kb_article_fts(kb_article_fts, rowid, search_title, search_body) "
    "VALUES ('delete', old.id, old.search_title, old.search_body); "
    "INSERT INTO kb_article_fts(rowid, search_title, search_body) VALUES (new.id, new.search_title, new.search_body); END",
]


def _postgres(editor) -> bool:
    return editor.client.capabilities.dialect == "postgres"


async def _search_index(apps, editor) -> None:
    for sql in _PG if _postgres(editor) else _SQLITE:
        await editor.client.execute_script(sql)


async def _drop_search_index(apps, editor) -> None:
    if _postgres(editor):
        await editor.client.execute_script("DROP INDEX IF EXISTS kb_article_search_idx")
        await editor.client.execute_script("ALTER TABLE kb_article DROP COLUMN IF EXISTS search_vector")
    else:
        await editor.client.execute_script("DROP TABLE IF EXISTS kb_article_fts")


class Migration(migrations.Migration):
    dependencies = [('models', '0019_workorders')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ArticleCategory',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=100)),
                ('position', fields.IntField(default=0, db_default=0)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'kb_category', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Article',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('title', fields.CharField(max_length=200)),
                ('slug', fields.CharField(max_length=120)),
                ('body', fields.TextField(unique=False)),
                ('category', fields.ForeignKeyField('models.ArticleCategory', source_field='category_id', null=True, db_constraint=True, to_field='id', related_name='articles', on_delete=OnDelete.SET_NULL)),
                ('tags', fields.JSONField(default=list, db_default=[], encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('language', fields.CharField(default='en', db_default='en', max_length=8)),
                ('audience', fields.CharField(default='public', db_default='public', max_length=10)),
                ('status', fields.CharField(default='draft', db_index=True, db_default='draft', max_length=10)),
                ('sites', fields.ManyToManyField('models.Site', unique=True, db_constraint=True, through='kb_article_site', forward_key='site_id', backward_key='kb_article_id', related_name='articles', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('models.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name='articles_written', on_delete=OnDelete.SET_NULL)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', null=True, db_constraint=True, to_field='id', related_name='articles_owned', on_delete=OnDelete.SET_NULL)),
                ('version', fields.IntField(default=1, db_default=1)),
                ('search_title', fields.TextField(default='', db_default='', unique=False)),
                ('search_body', fields.TextField(default='', db_default='', unique=False)),
                ('reviewed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('published_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'kb_article', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ArticleImage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('article', fields.ForeignKeyField('models.Article', source_field='article_id', null=True, db_constraint=True, to_field='id', related_name='images', on_delete=OnDelete.CASCADE)),
                ('filename', fields.CharField(max_length=200)),
                ('content_type', fields.CharField(max_length=64)),
                ('size', fields.IntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('storage_key', fields.CharField(unique=True, max_length=80)),
                ('uploaded_by', fields.ForeignKeyField('models.User', source_field='uploaded_by_id', null=True, db_constraint=True, to_field='id', related_name='article_images', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'kb_article_image', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ArticleVersion',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('article', fields.ForeignKeyField('models.Article', source_field='article_id', db_constraint=True, to_field='id', related_name='versions', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('title', fields.CharField(max_length=200)),
                ('body', fields.TextField(unique=False)),
                ('category_id_at', fields.IntField(null=True)),
                ('tags', fields.JSONField(default=list, db_default=[], encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('language', fields.CharField(max_length=8)),
                ('audience', fields.CharField(max_length=10)),
                ('status', fields.CharField(max_length=10)),
                ('author', fields.ForeignKeyField('models.User', source_field='author_id', null=True, db_constraint=True, to_field='id', related_name='article_versions', on_delete=OnDelete.SET_NULL)),
                ('note', fields.CharField(default='', db_default='', max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'kb_article_version', 'app': 'models', 'unique_together': (('article', 'number'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CannedResponse',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('scope', fields.CharField(default='personal', db_default='personal', max_length=12)),
                ('owner', fields.ForeignKeyField('models.User', source_field='owner_id', null=True, db_constraint=True, to_field='id', related_name='canned_responses', on_delete=OnDelete.CASCADE)),
                ('department', fields.ForeignKeyField('models.Department', source_field='department_id', null=True, db_constraint=True, to_field='id', related_name='canned_responses', on_delete=OnDelete.CASCADE)),
                ('shortcut', fields.CharField(max_length=40)),
                ('title', fields.CharField(max_length=100)),
                ('body', fields.TextField(unique=False)),
                ('usage_count', fields.IntField(default=0, db_default=0)),
                ('created_by', fields.ForeignKeyField('models.User', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name='canned_created', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'kb_canned_response', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='KnowledgeEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=16)),
                ('at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('site', fields.ForeignKeyField('models.Site', source_field='site_id', null=True, db_constraint=True, to_field='id', related_name='knowledge_events', on_delete=OnDelete.CASCADE)),
                ('source', fields.CharField(default='widget', db_default='widget', max_length=10)),
                ('visitor_id', fields.CharField(null=True, max_length=64)),
                ('session', fields.CharField(null=True, max_length=64)),
                ('user_id', fields.IntField(null=True)),
                ('conversation_id', fields.BigIntField(null=True)),
                ('article_id', fields.IntField(null=True)),
                ('canned_id', fields.IntField(null=True)),
                ('query', fields.CharField(null=True, max_length=200)),
                ('results', fields.IntField(null=True)),
                ('language', fields.CharField(null=True, max_length=8)),
                ('data', fields.JSONField(default=dict, db_default={}, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'kb_event', 'app': 'models', 'indexes': [Index(fields=['kind', 'at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='User',
            name='knowledge_editor',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        # Full-text search (app/knowledge/search.py): on PostgreSQL a weighted tsvector (title A, body B)
        # with a GIN index; on SQLite an FTS5 table kept in step by triggers. Both read the segmented
        # `search_title` / `search_body` columns, so Chinese is searched by words.
        ops.RunPython(_search_index, _drop_search_index),
    ]
