"""The knowledge base: articles (with every save kept as a version), their categories and images,
the one search every reader uses (console, widget, editor pages, public help pages), and the
knowledge event log the deflection and content reports read.

Who reads what:
- Visitors (the widget, the public help pages): published public articles of their site (an
  article with no site is every site's), in the languages asked for. Anything else answers
  `not_found`, exactly like an id that does not exist.
- Staff who take chats (CSRs, supervisors, admins) and back-office handlers: published articles,
  public and internal, of the sites they serve (app/services/scope.py) and of no site.
- Editors (admins, and staff with the "Knowledge editor" permission, `User.knowledge_editor`):
  every article in any status; only they write, publish, archive, restore and upload. Marketers
  read no article through the staff API.

Search (`search`): PostgreSQL's full text (a weighted tsvector, title over body, GIN index) or
SQLite's FTS5 (bm25, title weighted 10×), over text segmented by app/knowledge/text.py; the query
rules (every word / any word / typo-tolerant retry) are app/knowledge/search.py's.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app import db, runtime
from app.clock import utcnow
from app.knowledge import render, search as rules, text
from app.models import Article, ArticleCategory, ArticleImage, ArticleVersion, KnowledgeEvent, Message, Site, User
from app.i18n import N_
from app.services import ServiceError, Words, scope
from app.workorders import files

LANGUAGES = {"en": "English", "zh": "简体中文"}
AUDIENCES = {"public": "Public", "internal": "Internal"}
STATUSES = {"draft": "Draft", "published": "Published", "archived": "Archived"}
READER_ROLES = ("agent", "supervisor", "admin", "handler")
MAX_TITLE = 200
MAX_BODY = 100_000
MAX_TAGS = 20
MAX_TAG = 40
MAX_NOTE = 200
MAX_CATEGORY = 100
MAX_IMAGE = 5 * 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
EVENT_KINDS = ("search", "read", "chat_started", "inserted", "canned_used", "helpful")


def _refuse(field: str | None, message: str, code: str = "bad_request", **values: object) -> ServiceError:
    return ServiceError(code, message, field, **values)


def _text(value: object, field: str, label: str, *, most: int, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _refuse(field, "%(label)s must be text.", label=Words(label))
    value = value.strip()
    if required and not value:
        raise _refuse(field, "%(label)s is needed.", label=Words(label))
    if len(value) > most:
        raise _refuse(field, "%(label)s: at most %(most)s characters.", label=Words(label), most=format(most, ","))
    return value


def _choice(value: object, field: str, label: str, options: dict[str, str]) -> str:
    if not isinstance(value, str) or value not in options:
        raise _refuse(field, "%(label)s is one of: %(options)s.", label=Words(label), options=", ".join(options))
    return value


def _id(value: object, field: str, label: str) -> int:
    if type(value) is not int or value <= 0:
        raise _refuse(field, "%(label)s must be an id.", label=Words(label))
    return value


def slugify(title: str) -> str:
    """A URL slug: ASCII words joined by dashes; Chinese and other scripts are kept as they are."""
    normal = unicodedata.normalize("NFKC", title).lower()
    slug = re.sub(r"[^\w]+", "-", normal, flags=re.UNICODE).strip("-_")
    return slug[:120] or "article"


# -- who ---------------------------------------------------------------------------------------------

def may_edit(user: User) -> bool:
    return user.is_active and (user.role == "admin" or bool(user.knowledge_editor))


def may_read(user: User) -> bool:
    return user.is_active and (user.role in READER_ROLES or may_edit(user))


def _check_editor(user: User) -> None:
    if not may_edit(user):
        raise ServiceError("forbidden", "Only knowledge editors write articles.")


async def _staff_sites(user: User) -> frozenset[int] | None:
    """The sites whose articles a reader sees (None: every site's)."""
    if may_edit(user) or user.role == "handler":
        return None
    return (await scope.reach(user)).sites


def _site_filter(sites: frozenset[int] | None) -> Q | None:
    if sites is None:
        return None
    return Q(sites__id__isnull=True) | Q(sites__id__in=list(sites))


# -- categories ----------------------------------------------------------------------------------------

async def categories() -> list[dict[str, Any]]:
    rows = await ArticleCategory.all()
    counts: dict[int, int] = {}
    for category_id in await Article.exclude(category_id=None).values_list("category_id", flat=True):
        counts[category_id] = counts.get(category_id, 0) + 1
    return [{"id": c.id, "name": c.name, "position": c.position, "articles": counts.get(c.id, 0)} for c in rows]


async def save_category(actor: User, category_id: object, values: dict[str, Any]) -> ArticleCategory:
    _check_editor(actor)
    name = _text(values.get("name"), "name", N_("Name"), most=MAX_CATEGORY)
    position = values.get("position", 0)
    if type(position) is not int or not -10_000 <= position <= 10_000:
        raise _refuse("position", "Position must be a whole number.")
    clash = ArticleCategory.filter(name=name)
    if category_id is not None:
        clash = clash.exclude(id=_id(category_id, "id", N_("Category")))
    if await clash.exists():
        raise _refuse("name", "A category of that name exists.")
    if category_id is None:
        return await ArticleCategory.create(name=name, position=position)
    category = await ArticleCategory.get_or_none(id=category_id)
    if category is None:
        raise ServiceError("not_found", "No such category.")
    category.name, category.position = name, position
    await category.save()
    return category


async def delete_category(actor: User, category_id: object) -> None:
    _check_editor(actor)
    deleted = await ArticleCategory.filter(id=_id(category_id, "id", N_("Category"))).delete()
    if not deleted:
        raise ServiceError("not_found", "No such category.")


# -- articles ----------------------------------------------------------------------------------------

@dataclass
class Draft:
    title: str
    body: str
    category_id: int | None
    tags: list[str]
    language: str
    audience: str
    status: str
    site_ids: list[int]
    owner_id: int | None
    note: str


async def _draft(values: dict[str, Any], current: Article | None) -> Draft:
    """The checked values of a save (a field left out keeps the article's current value)."""
    def pick(key: str, default: Any) -> Any:
        return values[key] if key in values else default

    title = _text(pick("title", current.title if current else None), "title", N_("Title"), most=MAX_TITLE)
    body = pick("body", current.body if current else "")
    if not isinstance(body, str):
        raise _refuse("body", "The body must be text.")
    if len(body) > MAX_BODY:
        raise _refuse("body", "The body is at most %(most)s characters.", "too_large", most=format(MAX_BODY, ","))
    category_id = pick("category_id", current.category_id if current else None)
    if category_id is not None:
        category_id = _id(category_id, "category_id", N_("Category"))
        if not await ArticleCategory.filter(id=category_id).exists():
            raise _refuse("category_id", "No such category.")
    tags = pick("tags", current.tags if current else [])
    if isinstance(tags, str):
        tags = [t for t in (p.strip() for p in tags.split(",")) if t]
    if not isinstance(tags, list) or len(tags) > MAX_TAGS or not all(isinstance(t, str) for t in tags):
        raise _refuse("tags", "Tags: a list of at most %(most)s words.", most=MAX_TAGS)
    tags = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if any(len(t) > MAX_TAG for t in tags):
        raise _refuse("tags", "A tag is at most %(most)s characters.", most=MAX_TAG)
    language = _choice(pick("language", current.language if current else "en"), "language", N_("Language"), LANGUAGES)
    audience = _choice(pick("audience", current.audience if current else "public"), "audience", N_("Audience"), AUDIENCES)
    status = _choice(pick("status", current.status if current else "draft"), "status", N_("Status"), STATUSES)
    if "site_ids" in values:
        site_ids = values["site_ids"]
        if site_ids is None:
            site_ids = []
        if not isinstance(site_ids, list) or not all(type(s) is int for s in site_ids) or len(site_ids) > 500:
            raise _refuse("site_ids", "Sites: a list of site ids.")
        site_ids = sorted(set(site_ids))
        if len(site_ids) != await Site.filter(id__in=site_ids).count():
            raise _refuse("site_ids", "No such site.")
    else:
        site_ids = sorted(await current.sites.all().values_list("id", flat=True)) if current else []
    owner_id = pick("owner_id", current.owner_id if current else None)
    if owner_id is not None:
        owner_id = _id(owner_id, "owner_id", N_("Owner"))
        if not await User.filter(id=owner_id, is_active=True).exclude(role="marketer").exists():
            raise _refuse("owner_id", "No such staff member.")
    note = _text(values.get("note"), "note", N_("Note"), most=MAX_NOTE, required=False)
    return Draft(title, body, category_id, tags, language, audience, status, site_ids, owner_id, note)


def _search_columns(d: Draft) -> dict[str, str]:
    return {"search_title": text.segment(" ".join([d.title, *d.tags])), "search_body": text.segment(text.plain(d.body))}


async def _check_links(body: str, article_id: int | None) -> None:
    linked, images = render.references(body)
    linked.discard(article_id or 0)
    if linked and await Article.filter(id__in=list(linked)).count() != len(linked):
        raise _refuse("body", "A link points to an article that does not exist.")
    if images and await ArticleImage.filter(id__in=list(images)).count() != len(images):
        raise _refuse("body", "An image the body shows does not exist.")


async def save(actor: User, article_id: object, values: dict[str, Any]) -> Article:
    """Create (`article_id` None) or save an article: every save is a new version."""
    _check_editor(actor)
    current = None
    if article_id is not None:
        current = await Article.get_or_none(id=_id(article_id, "id", N_("Article")))
        if current is None:
            raise ServiceError("not_found", "No such article.")
    d = await _draft(values, current)
    await _check_links(d.body, current.id if current else None)
    if text.has_chinese(" ".join([d.title, *d.tags, d.body])):
        await text.ready()
    now = utcnow()
    fields = {"title": d.title, "body": d.body, "category_id": d.category_id, "tags": d.tags,
              "language": d.language, "audience": d.audience, "status": d.status, "owner_id": d.owner_id,
              "updated_at": now, **_search_columns(d)}
    async with in_transaction(db.connection_name(runtime.current().settings)):
        if current is None:
            article = await Article.create(slug=slugify(d.title), author_id=actor.id, created_at=now, version=1,
                                           reviewed_at=now,
                                           published_at=now if d.status == "published" else None, **fields)
        else:
            article = current
            if d.status == "published" and current.status != "published":
                fields["published_at"] = now
            fields["version"] = current.version + 1
            fields["slug"] = slugify(d.title)
            await Article.filter(id=article.id).update(**fields)
            for key, value in fields.items():
                setattr(article, key, value)
        await article.sites.clear()
        if d.site_ids:
            await article.sites.add(*await Site.filter(id__in=d.site_ids))
        await ArticleVersion.create(article_id=article.id, number=article.version, title=d.title, body=d.body,
                                    category_id_at=d.category_id, tags=d.tags, language=d.language,
                                    audience=d.audience, status=d.status, author_id=actor.id, note=d.note,
                                    created_at=now)
        _, images = render.references(d.body)
        if images:
            await ArticleImage.filter(id__in=list(images), article_id=None).update(article_id=article.id)
    _vocabulary.clear()
    return article


async def restore(actor: User, article_id: object, version_id: object) -> Article:
    """Save an older version again, as the newest (nothing between is lost: it stays a version)."""
    _check_editor(actor)
    article = await Article.get_or_none(id=_id(article_id, "id", N_("Article")))
    if article is None:
        raise ServiceError("not_found", "No such article.")
    version = await ArticleVersion.get_or_none(id=_id(version_id, "version_id", N_("Version")), article_id=article.id)
    if version is None:
        raise _refuse("version_id", "That version is not one of this article's.", "not_found")
    category = version.category_id_at if version.category_id_at is not None and \
        await ArticleCategory.filter(id=version.category_id_at).exists() else None
    return await save(actor, article.id, {
        "title": version.title, "body": version.body, "category_id": category, "tags": version.tags,
        "language": version.language, "audience": version.audience,
        "note": f"Restored version {version.number}"})


async def mark_reviewed(actor: User, article_id: object) -> Article:
    _check_editor(actor)
    article = await Article.get_or_none(id=_id(article_id, "id", N_("Article")))
    if article is None:
        raise ServiceError("not_found", "No such article.")
    article.reviewed_at = utcnow()
    await Article.filter(id=article.id).update(reviewed_at=article.reviewed_at)
    return article


async def delete(actor: User, article_id: object) -> None:
    _check_editor(actor)
    if not await Article.filter(id=_id(article_id, "id", N_("Article"))).delete():
        raise ServiceError("not_found", "No such article.")
    _vocabulary.clear()


def public_path(site_key: str, article: Article) -> str:
    """Where a site's visitors read a published public article: its help center page."""
    return f"/help/{site_key}/articles/{article.id}-{article.slug}"


def public_url(site_key: str, article: Article) -> str:
    return runtime.current().settings.public_url + public_path(site_key, article)


def is_stale(article: Article) -> bool:
    days = runtime.current().settings.kb_stale_days
    reviewed = article.reviewed_at or article.created_at
    return article.status == "published" and reviewed < utcnow() - timedelta(days=days)


async def for_staff(user: User, article_id: object) -> Article:
    """An article a staff member reads (editors: any; others: published, of their sites)."""
    if not may_read(user):
        raise ServiceError("forbidden", "The knowledge base is for staff who answer customers.")
    if type(article_id) is not int:
        raise ServiceError("not_found", "No such article.")
    query = Article.filter(id=article_id)
    if not may_edit(user):
        query = query.filter(status="published")
        sites = _site_filter(await _staff_sites(user))
        if sites is not None:
            query = query.filter(sites)
    article = await query.distinct().first()
    if article is None:
        raise ServiceError("not_found", "No such article.")
    return article


async def for_visitor(site_id: int, article_id: object) -> Article:
    """A published public article of this site (or of every site), else `not_found`."""
    if type(article_id) is not int:
        raise ServiceError("not_found", "No such article.")
    article = await Article.filter(_site_filter(frozenset({site_id})), id=article_id, status="published",
                                   audience="public").distinct().first()
    if article is None:
        raise ServiceError("not_found", "No such article.")
    return article


async def list_for_editor(user: User, *, status: str | None = None, language: str | None = None,
                          audience: str | None = None, category_id: int | None = None, stale: bool = False,
                          query: str = "", limit: int = 50, offset: int = 0) -> tuple[list[Article], int]:
    _check_editor(user)
    q = Article.all()
    if status:
        q = q.filter(status=status)
    if language:
        q = q.filter(language=language)
    if audience:
        q = q.filter(audience=audience)
    if category_id:
        q = q.filter(category_id=category_id)
    if stale:
        before = utcnow() - timedelta(days=runtime.current().settings.kb_stale_days)
        q = q.filter(status="published").filter(Q(reviewed_at__lt=before) | Q(reviewed_at=None, created_at__lt=before))
    if query.strip():
        ids = [h.id for h in await search(query, reader=Reader.editor(), limit=200)]
        q = q.filter(id__in=ids)
    total = await q.count()
    return await q.offset(offset).limit(limit).prefetch_related("category", "owner", "author"), total


async def versions(user: User, article_id: object) -> list[ArticleVersion]:
    _check_editor(user)
    article = await Article.get_or_none(id=_id(article_id, "id", N_("Article")))
    if article is None:
        raise ServiceError("not_found", "No such article.")
    return await ArticleVersion.filter(article_id=article.id).prefetch_related("author")


async def version(user: User, article_id: object, version_id: object) -> ArticleVersion:
    _check_editor(user)
    found = await ArticleVersion.get_or_none(id=_id(version_id, "version_id", N_("Version")),
                                             article_id=_id(article_id, "id", N_("Article")))
    if found is None:
        raise ServiceError("not_found", "No such version of this article.")
    return found


def html(article: Article | ArticleVersion, *, article_url, image_url) -> str:
    return render.render(article.body, article_url=article_url, image_url=image_url)


async def visible_links(site: Site, article_ids: set[int]) -> dict[int, str]:
    """The help-center addresses, on `site`, of those of `article_ids` its visitors may read (the
    first 100; an article they may not read has none, and a link to it shows its text only)."""
    found: dict[int, str] = {}
    for article_id in sorted(article_ids)[:100]:
        try:
            found[article_id] = public_url(site.key, await for_visitor(site.id, article_id))
        except ServiceError:
            continue
    return found


async def visitor_html(site: Site, article: Article) -> str:
    """An article as the site's visitors read it: links to articles they may read go to the help
    center, others keep their text; images are served for this site (`/kb/images/ID?site=KEY`)."""
    linked, _ = render.references(article.body)
    links = await visible_links(site, linked)
    base = runtime.current().settings.public_url
    return html(article, article_url=links.get,
                image_url=lambda image_id: f"{base}/kb/images/{image_id}?site={site.key}")


async def latest_visitor_message(conversation_id: int) -> str | None:
    """What the visitor last wrote in a chat (the console suggests articles for it)."""
    message = await Message.filter(conversation_id=conversation_id, sender_kind="visitor").order_by("-seq").first()
    return message.body if message is not None else None


# -- images ------------------------------------------------------------------------------------------

def images_dir() -> Path:
    settings = runtime.current().settings
    base = Path(settings.attachments_dir) if settings.attachments_dir else settings.data_dir / "attachments"
    return base / "knowledge"


async def add_image(actor: User, filename: object, data: object) -> ArticleImage:
    _check_editor(actor)
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise _refuse("file", "The file is empty.")
    if len(data) > MAX_IMAGE:
        raise _refuse("file", "An image is at most %(most)s MB.", "too_large", most=MAX_IMAGE // (1024 * 1024))
    kind = files.sniff(bytes(data[:16]))
    if kind not in IMAGE_TYPES:
        raise _refuse("file", "Only PNG, JPEG, GIF and WebP images go in articles.", "unsupported_type")
    key = secrets.token_hex(20)
    folder = images_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / key
    path.write_bytes(bytes(data))
    try:
        return await ArticleImage.create(filename=files.safe_name(str(filename or "")), content_type=kind,
                                         size=len(data), sha256=hashlib.sha256(data).hexdigest(), storage_key=key,
                                         uploaded_by_id=actor.id, created_at=utcnow())
    except Exception:
        path.unlink(missing_ok=True)
        raise


async def image_file(image_id: object, *, site_id: int | None = None, user: User | None = None) -> tuple[ArticleImage, Path]:
    """An image and where its bytes are. Staff readers: any image; anyone else (`site_id`): only the
    images of a published public article of that site."""
    image = await ArticleImage.get_or_none(id=image_id) if type(image_id) is int else None
    if image is not None and not (user is not None and may_read(user)):
        if image.article_id is None or site_id is None:
            image = None
        else:
            try:
                await for_visitor(site_id, image.article_id)
            except ServiceError:
                image = None
    if image is None:
        raise ServiceError("not_found", "No such image.")
    return image, images_dir() / image.storage_key


# -- search --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reader:
    """Whose search: which statuses, audiences and sites it may see, in which languages."""
    statuses: tuple[str, ...] = ("published",)
    audiences: tuple[str, ...] = ("public",)
    sites: frozenset[int] | None = None  # None: every site's articles
    languages: tuple[str, ...] | None = None

    @staticmethod
    def editor() -> Reader:
        return Reader(statuses=tuple(STATUSES), audiences=tuple(AUDIENCES))

    @staticmethod
    def visitor(site_id: int, language: str | None = None) -> Reader:
        return Reader(sites=frozenset({site_id}), languages=(language,) if language in LANGUAGES else None)


async def staff_reader(user: User) -> Reader:
    if not may_read(user):
        raise ServiceError("forbidden", "The knowledge base is for staff who answer customers.")
    if may_edit(user):
        return Reader.editor()
    return Reader(audiences=tuple(AUDIENCES), sites=await _staff_sites(user))


@dataclass(frozen=True)
class Hit:
    id: int
    title: str
    language: str
    audience: str
    status: str
    excerpt: str
    score: float


def _is_pg() -> bool:
    return db.current_connection(runtime.current().settings).capabilities.dialect == "postgres"


def _where(reader: Reader, mark) -> tuple[list[str], list[Any]]:
    clauses, args = [], []
    clauses.append(f"a.status IN ({', '.join(mark(s) for s in reader.statuses)})")
    args += list(reader.statuses)
    clauses.append(f"a.audience IN ({', '.join(mark(s) for s in reader.audiences)})")
    args += list(reader.audiences)
    if reader.languages:
        clauses.append(f"a.language IN ({', '.join(mark(s) for s in reader.languages)})")
        args += list(reader.languages)
    if reader.sites is not None:
        inside = ", ".join(mark(s) for s in sorted(reader.sites)) or "NULL"
        clauses.append("(NOT EXISTS (SELECT 1 FROM kb_article_site s WHERE s.kb_article_id = a.id) OR EXISTS "
                       f"(SELECT 1 FROM kb_article_site s WHERE s.kb_article_id = a.id AND s.site_id IN ({inside})))")
        args += sorted(reader.sites)
    return clauses, args


class _Marks:
    """Numbered placeholders ($1, $2 …) for PostgreSQL, ? for SQLite."""
    def __init__(self, pg: bool) -> None:
        self.pg, self.n = pg, 0

    def __call__(self, _value: Any = None) -> str:
        self.n += 1
        return f"${self.n}" if self.pg else "?"


async def _query(words: list[str], mode: str, reader: Reader, limit: int) -> list[tuple[int, float]]:
    pg = _is_pg()
    conn = db.current_connection(runtime.current().settings)
    mark = _Marks(pg)
    if pg:
        match = mark()
        args: list[Any] = [rules.tsquery(words, mode=mode)]
        clauses, more = _where(reader, mark)
        sql = (f"SELECT a.id, ts_rank(a.search_vector, q) AS score FROM kb_article a, to_tsquery('english', {match}) q "
               f"WHERE a.search_vector @@ q AND {' AND '.join(clauses)} ORDER BY score DESC, a.id DESC LIMIT {int(limit)}")
    else:
        match = mark()
        args = [rules.fts5(words, mode=mode)]
        clauses, more = _where(reader, mark)
        sql = ("SELECT a.id, -bm25(kb_article_fts, 10.0, 1.0) AS score FROM kb_article_fts f "
               f"JOIN kb_article a ON a.id = f.rowid WHERE kb_article_fts MATCH {match} AND {' AND '.join(clauses)} "
               f"ORDER BY score DESC, a.id DESC LIMIT {int(limit)}")
    rows = await conn.execute_query_dict(sql, args + more)
    return [(int(r["id"]), float(r["score"])) for r in rows]


class _Vocabulary:
    """The words of published titles and tags, per process, for the typo-tolerant retry; dropped on
    every save here and re-read when the article count or the last change differs (another worker saved)."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.mark: tuple[int, str] | None = None

    def clear(self) -> None:
        self.mark = None

    async def get(self) -> list[str]:
        conn = db.current_connection(runtime.current().settings)
        head = await conn.execute_query_dict(
            "SELECT COUNT(*) AS n, MAX(updated_at) AS last FROM kb_article WHERE status = 'published'")
        mark = (int(head[0]["n"] or 0), str(head[0]["last"]))
        if mark != self.mark:
            rows = await conn.execute_query_dict("SELECT search_title FROM kb_article WHERE status = 'published'")
            vocabulary = {w for r in rows for w in (r["search_title"] or "").split() if len(w) >= 2}
            self.words, self.mark = sorted(vocabulary), mark
        return self.words


_vocabulary = _Vocabulary()


async def search(query: object, *, reader: Reader, limit: int = 10, mode: str = "all") -> list[Hit]:
    """Articles for `query`, best first: every word (the last as a prefix), else any word, else —
    for a short query — the closest title words (typos). `mode` "any": suggestions for a message."""
    if not isinstance(query, str):
        raise _refuse("query", "The query must be text.")
    if len(query) > rules.MAX_QUERY:
        raise _refuse("query", "A search is at most %(most)s characters.", most=rules.MAX_QUERY)
    limit = max(1, min(int(limit), 50))
    if text.has_chinese(query):
        await text.ready()
    words = rules.terms(query, mode=mode)
    if not words:
        return []
    found = await _query(words, mode, reader, limit)
    if not found and mode == "all" and len(words) > 1:
        found = await _query(words, "any", reader, limit)
    if not found:
        fixed = rules.corrected(words, await _vocabulary.get())
        if fixed:
            found = await _query(fixed, "any" if mode == "any" else "all", reader, limit)
    if not found:
        return []
    articles = {a.id: a for a in await Article.filter(id__in=[i for i, _ in found])}
    return [Hit(i, articles[i].title, articles[i].language, articles[i].audience, articles[i].status,
                text.excerpt(articles[i].body), score) for i, score in found if i in articles]


async def suggest(message: str, *, reader: Reader, limit: int = 3) -> list[Hit]:
    """The articles that best answer a chat message (any of its words, ranked)."""
    return await search(message[: rules.MAX_QUERY], reader=reader, limit=limit, mode="any")


# -- the event log -----------------------------------------------------------------------------------

async def record(kind: str, *, site_id: int | None = None, source: str = "widget", visitor_id: str | None = None,
                 session: str | None = None, user_id: int | None = None, conversation_id: int | None = None,
                 article_id: int | None = None, canned_id: int | None = None, query: str | None = None,
                 results: int | None = None, language: str | None = None, **data: Any) -> KnowledgeEvent:
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown knowledge event {kind!r}")
    return await KnowledgeEvent.create(
        kind=kind, at=utcnow(), site_id=site_id, source=source, visitor_id=visitor_id,
        session=(session or None) and session[:64], user_id=user_id, conversation_id=conversation_id,
        article_id=article_id, canned_id=canned_id, query=(query or None) and query[:200], results=results,
        language=language, data=data)


async def self_service(visitor_id: str, *, since_minutes: int = 30) -> dict[str, Any]:
    """What a visitor searched and read in the last `since_minutes` (what the CSR is shown when the
    visitor then asks for a chat)."""
    since = utcnow() - timedelta(minutes=since_minutes)
    events = await KnowledgeEvent.filter(visitor_id=visitor_id, at__gte=since, kind__in=("search", "read")) \
        .order_by("at", "id").limit(100)
    searched = list(dict.fromkeys(e.query for e in events if e.kind == "search" and e.query))[-10:]
    read_ids = list(dict.fromkeys(e.article_id for e in events if e.kind == "read" and e.article_id))[-10:]
    titles = dict(await Article.filter(id__in=read_ids).values_list("id", "title"))
    return {"searched": searched, "read": [{"id": i, "title": titles[i]} for i in read_ids if i in titles]}
