"""The knowledge base (知识库): articles CSRs answer from and visitors help themselves with, and the
canned responses CSRs type by shortcut.

An article's body is Markdown; what anyone sees is rendered and sanitised (app/knowledge/render.py).
Every save of an article is an `ArticleVersion`; the article row holds the current one and the
columns the search reads (`search_title`, `search_body`: text already segmented, Chinese into words,
app/knowledge/text.py). `KnowledgeEvent` (append-only) is what the deflection and content reports read.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ArticleCategory(Model):
    # A section of the knowledge base (Orders, Returns …), ordered by position.

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    position = fields.IntField(default=0, db_default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "kb_category"
        ordering = ["position", "name", "id"]


class Article(Model):
    # The current version of an article. audience: public (visitors may read it) or internal (staff
    # only); status: draft, published or archived; language: en or zh. No site: every site.

    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    slug = fields.CharField(max_length=120)
    body = fields.TextField()
    category = fields.ForeignKeyField("models.ArticleCategory", related_name="articles", null=True,
                                      on_delete=fields.SET_NULL)
    tags = fields.JSONField(default=list, db_default=[])
    language = fields.CharField(max_length=8, default="en", db_default="en")
    audience = fields.CharField(max_length=10, default="public", db_default="public")
    status = fields.CharField(max_length=10, default="draft", db_default="draft", db_index=True)
    sites = fields.ManyToManyField("models.Site", related_name="articles", through="kb_article_site")
    author = fields.ForeignKeyField("models.User", related_name="articles_written", null=True,
                                    on_delete=fields.SET_NULL)
    owner = fields.ForeignKeyField("models.User", related_name="articles_owned", null=True,
                                   on_delete=fields.SET_NULL)
    version = fields.IntField(default=1, db_default=1)
    search_title = fields.TextField(default="", db_default="")
    search_body = fields.TextField(default="", db_default="")
    reviewed_at = fields.DatetimeField(null=True)
    published_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "kb_article"
        ordering = ["-updated_at", "-id"]


class ArticleVersion(Model):
    # One save of an article, as it was; restoring one saves it again as a new version.

    id = fields.BigIntField(primary_key=True)
    article = fields.ForeignKeyField("models.Article", related_name="versions", on_delete=fields.CASCADE)
    number = fields.IntField()
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    category_id_at = fields.IntField(null=True)
    tags = fields.JSONField(default=list, db_default=[])
    language = fields.CharField(max_length=8)
    audience = fields.CharField(max_length=10)
    status = fields.CharField(max_length=10)
    author = fields.ForeignKeyField("models.User", related_name="article_versions", null=True,
                                    on_delete=fields.SET_NULL)
    note = fields.CharField(max_length=200, default="", db_default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "kb_article_version"
        unique_together = (("article", "number"),)
        ordering = ["-number"]


class ArticleImage(Model):
    # An image in an article (PNG, JPEG, GIF, WebP, checked by its content); the bytes live under the
    # attachments directory by `storage_key`, like work-order attachments. Public once its article is.

    id = fields.BigIntField(primary_key=True)
    article = fields.ForeignKeyField("models.Article", related_name="images", null=True, on_delete=fields.CASCADE)
    filename = fields.CharField(max_length=200)
    content_type = fields.CharField(max_length=64)
    size = fields.IntField()
    sha256 = fields.CharField(max_length=64)
    storage_key = fields.CharField(max_length=80, unique=True)
    uploaded_by = fields.ForeignKeyField("models.User", related_name="article_images", null=True,
                                         on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField()

    class Meta:
        table = "kb_article_image"


class CannedResponse(Model):
    # A saved reply a CSR inserts by its shortcut (/refund). scope: personal (its owner's), department
    # (members of that department) or global. Variables {visitor.name}, {agent.name}, {site.name}
    # are filled on insert (app/knowledge/canned.py).

    id = fields.IntField(primary_key=True)
    scope = fields.CharField(max_length=12, default="personal", db_default="personal")
    owner = fields.ForeignKeyField("models.User", related_name="canned_responses", null=True,
                                   on_delete=fields.CASCADE)
    department = fields.ForeignKeyField("models.Department", related_name="canned_responses", null=True,
                                        on_delete=fields.CASCADE)
    shortcut = fields.CharField(max_length=40)
    title = fields.CharField(max_length=100)
    body = fields.TextField()
    usage_count = fields.IntField(default=0, db_default=0)
    created_by = fields.ForeignKeyField("models.User", related_name="canned_created", null=True,
                                        on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "kb_canned_response"
        ordering = ["shortcut", "id"]


class KnowledgeEvent(Model):
    # What happened with the knowledge base, append-only: search (query, results), read (article),
    # chat_started (after self-service), inserted (a CSR put an article in a reply: how = link | text),
    # canned_used. `session` ties a visitor's self-service steps together (their visit).

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=16)
    at = fields.DatetimeField(db_index=True)
    site = fields.ForeignKeyField("models.Site", related_name="knowledge_events", null=True,
                                  on_delete=fields.CASCADE)
    source = fields.CharField(max_length=10, default="widget", db_default="widget")  # widget | console | page
    visitor_id = fields.CharField(max_length=64, null=True)
    session = fields.CharField(max_length=64, null=True)
    user_id = fields.IntField(null=True)
    conversation_id = fields.BigIntField(null=True)
    article_id = fields.IntField(null=True)
    canned_id = fields.IntField(null=True)
    query = fields.CharField(max_length=200, null=True)
    results = fields.IntField(null=True)
    language = fields.CharField(max_length=8, null=True)
    data = fields.JSONField(default=dict, db_default={})

    class Meta:
        table = "kb_event"
        indexes = (("kind", "at"),)
