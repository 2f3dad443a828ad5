"""The knowledge base over HTTP: the editors' JSON API and pages, the staff's read-only article
view, article images, and each site's public help center (docs/knowledge.md).

Who may do what (app/services/knowledge.py decides; every handler asks it):
- The editor API (`/api/kb/…`) and the "Knowledge base" list and editor pages: admins and staff
  with the "Knowledge editor" permission (`knowledge.may_edit`). Anyone else signed in gets 403,
  nobody signed in 401; every POST needs the session's CSRF token in `X-CSRF-Token`.
- Staff who read the knowledge base but do not edit it (CSRs, supervisors, back-office staff): the
  list of published articles of their sites and a read-only page at the editor's address
  (`/knowledge/articles/{id}`), so a link from the console opens for them too.
- Visitors (no sign-in): `/help/{site_key}/` and `/help/{site_key}/articles/{id}-{slug}`, published
  public articles of that site (or of every site) only. An internal, draft, archived, other-site or
  unknown article is the same 404 page; a disabled site is 404 too.

Errors of the API are `{"ok": false, "error": {"code", "message", "field"}}`: 400 (bad input), 401,
403 (CSRF, not an editor), 404 (an id that does not exist, a version of another article), 413 (a
body over 100,000 characters, a request over 1 MiB, an image over 5 MB), 415 (a file that is not a
PNG, JPEG, GIF or WebP image). A refused request stores nothing.

Article HTML is the one markup the pages take from the server: rendered by markdown-it-py and
cleaned by nh3 (app/knowledge/render.py); everything else is text.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from tortoise.expressions import Q

from app import runtime
from app.i18n import N_
from app.knowledge import render, text
from app.models import Article, ArticleCategory, Site, User
from app.services import ServiceError, Words, knowledge
from app.web.admin.common import digits
from app.web import jsonapi
from app.web.auth import client_address, csrf_token, current_user, login_redirect
from app.web.templating import console_templates, site_templates

# An article body is at most 100,000 characters (the service's check, 413); its JSON may take six
# bytes a character (\\uXXXX), so a request may be up to 1 MiB before it is refused unread.
MAX_JSON = 1024 * 1024
MAX_JSON_DEPTH = 10
MAX_UPLOAD = knowledge.MAX_IMAGE + 64 * 1024  # the image and the form around it
MAX_QUERY = 200
PAGE_SIZE = 50
PUBLIC_SEARCHES_PER_MINUTE = 60
# The help center stands for the customer's site: the widget runs on it (its script from this
# server, its styles inside its shadow root, its socket to this server); no inline script.
HELP_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; "
            "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")
IMAGE_CSP = "default-src 'none'; sandbox"


# -- replies -----------------------------------------------------------------------------------------

async def _json(request: Request) -> dict[str, Any]:
    return await jsonapi.read_json(request, max_bytes=MAX_JSON, max_depth=MAX_JSON_DEPTH)


def _path_id(request: Request, name: str = "article_id", what: str = N_("article")) -> int:
    raw = request.path_params[name]
    if not digits(raw, 18):
        raise ServiceError("not_found", "No such %(what)s.", what=Words(what))
    return int(raw)


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if not digits(raw, 9):
        raise ServiceError("bad_request", "%(name)s is a number.", name, name=name)
    return int(raw)


def _choice_param(request: Request, name: str, options: dict[str, str]) -> str | None:
    raw = request.query_params.get(name) or None
    if raw is not None and raw not in options:
        raise ServiceError("bad_request", "%(name)s is one of: %(options)s.", name, name=name,
                           options=", ".join(options))
    return raw


def api(post: bool = True):
    """An editor's JSON endpoint (app/web/jsonapi.py): signed in, an editor, CSRF on a POST."""
    return jsonapi.endpoint(knowledge.may_edit, "Only knowledge editors write articles.", post=post)


# -- what an article looks like to its readers ----------------------------------------------------------

def staff_path(article_id: int) -> str:
    return f"/knowledge/articles/{article_id}"


def image_path(image_id: int, site_key: str | None = None) -> str:
    return f"/kb/images/{image_id}" + (f"?{urlencode({'site': site_key})}" if site_key else "")


def staff_html(article) -> str:
    """An article (or a version) as staff see it: links to other articles open their staff page."""
    return knowledge.html(article, article_url=staff_path, image_url=image_path)


def _person(user: User | None) -> dict[str, Any] | None:
    return None if user is None else {"id": user.id, "name": user.display_name}


def _when(value) -> str | None:
    return value.isoformat() if value is not None else None


def _summary(article: Article) -> dict[str, Any]:
    return {"id": article.id, "title": article.title, "language": article.language, "audience": article.audience,
            "status": article.status, "tags": article.tags, "version": article.version,
            "category": {"id": article.category.id, "name": article.category.name} if article.category else None,
            "owner": _person(article.owner), "author": _person(article.author), "stale": knowledge.is_stale(article),
            "reviewed_at": _when(article.reviewed_at), "updated_at": _when(article.updated_at)}


async def _detail(article_id: int) -> dict[str, Any]:
    article = await Article.get(id=article_id).prefetch_related("category", "owner", "author")
    sites = await article.sites.all().order_by("name", "id")
    public = []
    if article.status == "published" and article.audience == "public":
        shown = sites or await Site.filter(disabled_at=None).order_by("name", "id")
        public = [{"site": s.name, "path": knowledge.public_path(s.key, article)} for s in shown if s.disabled_at is None]
    return {**_summary(article), "slug": article.slug, "body": article.body, "html": staff_html(article),
            "category_id": article.category_id, "owner_id": article.owner_id,
            "sites": [{"id": s.id, "name": s.name} for s in sites], "site_ids": [s.id for s in sites],
            "published_at": _when(article.published_at), "created_at": _when(article.created_at),
            "stale_days": runtime.current().settings.kb_stale_days, "public": public}


def _version(v, *, with_body: bool = False) -> dict[str, Any]:
    shown = {"id": v.id, "number": v.number, "title": v.title, "status": v.status, "language": v.language,
             "audience": v.audience, "note": v.note, "created_at": _when(v.created_at)}
    if with_body:
        shown.update(body=v.body, html=staff_html(v), tags=v.tags, category_id=v.category_id_at)
    else:
        shown["author"] = _person(v.author)
    return shown


# -- the editor API: reading ----------------------------------------------------------------------------

@api(post=False)
async def list_articles(request: Request, user: User) -> Response:
    q = request.query_params
    search = (q.get("q") or "").strip()
    if len(search) > MAX_QUERY:
        raise ServiceError("bad_request", "A search is at most %(most)s characters.", "q", most=MAX_QUERY)
    limit = min(_int_param(request, "limit") or PAGE_SIZE, 200)
    offset = _int_param(request, "offset") or 0
    articles, total = await knowledge.list_for_editor(
        user, status=_choice_param(request, "status", knowledge.STATUSES),
        language=_choice_param(request, "language", knowledge.LANGUAGES),
        audience=_choice_param(request, "audience", knowledge.AUDIENCES), category_id=_int_param(request, "category"),
        stale=q.get("stale") == "1", query=search, limit=limit, offset=offset)
    return jsonapi.ok({"articles": [_summary(a) for a in articles], "total": total, "limit": limit, "offset": offset,
                "stale_days": runtime.current().settings.kb_stale_days})


@api(post=False)
async def options(request: Request, user: User) -> Response:
    """What the editor's pickers offer: categories, sites, owners (active staff who are not marketers)."""
    sites = await Site.all().order_by("name", "id").values("id", "name", "disabled_at")
    staff = await User.filter(is_active=True).exclude(role="marketer").order_by("display_name", "id") \
        .values("id", "display_name")
    return jsonapi.ok({"categories": await knowledge.categories(),
                "sites": [{"id": s["id"], "name": s["name"], "disabled": s["disabled_at"] is not None} for s in sites],
                "staff": [{"id": s["id"], "name": s["display_name"]} for s in staff],
                "languages": knowledge.LANGUAGES, "audiences": knowledge.AUDIENCES, "statuses": knowledge.STATUSES,
                "stale_days": runtime.current().settings.kb_stale_days, "me": user.id})


@api(post=False)
async def get_article(request: Request, user: User) -> Response:
    article = await knowledge.for_staff(user, _path_id(request))
    return jsonapi.ok({"article": await _detail(article.id)})


@api(post=False)
async def list_versions(request: Request, user: User) -> Response:
    found = await knowledge.versions(user, _path_id(request))
    return jsonapi.ok({"versions": [_version(v) for v in found]})


@api(post=False)
async def get_version(request: Request, user: User) -> Response:
    found = await knowledge.version(user, _path_id(request), _path_id(request, "version_id", N_("version of this article")))
    await found.fetch_related("author")
    return jsonapi.ok({"version": {**_version(found, with_body=True), "author": _person(found.author)}})


@api()
async def preview(request: Request, user: User) -> Response:
    """Markdown → the sanitised HTML readers will see (nothing is stored)."""
    body = (await _json(request)).get("body", "")
    if not isinstance(body, str):
        raise ServiceError("bad_request", "The body must be text.", "body")
    if len(body) > knowledge.MAX_BODY:
        raise ServiceError("too_large", "The body is at most %(most)s characters.", "body",
                           most=format(knowledge.MAX_BODY, ","))
    return jsonapi.ok({"html": render.render(body, article_url=staff_path, image_url=image_path)})


# -- the editor API: writing ----------------------------------------------------------------------------

@api()
async def create_article(request: Request, user: User) -> Response:
    article = await knowledge.save(user, None, await _json(request))
    return jsonapi.ok({"article": await _detail(article.id)}, status=201)


@api()
async def save_article(request: Request, user: User) -> Response:
    article = await knowledge.save(user, _path_id(request), await _json(request))
    return jsonapi.ok({"article": await _detail(article.id)})


def _with_status(status: str):
    """Publish / archive: a save (of the fields sent along, if any) with that status."""
    async def act(request: Request, user: User) -> Response:
        values = await _json(request)
        values["status"] = status
        article = await knowledge.save(user, _path_id(request), values)
        return jsonapi.ok({"article": await _detail(article.id)})
    act.__name__ = f"{status}_article"
    return api()(act)


publish_article = _with_status("published")
archive_article = _with_status("archived")


@api()
async def mark_reviewed(request: Request, user: User) -> Response:
    article = await knowledge.mark_reviewed(user, _path_id(request))
    return jsonapi.ok({"article": await _detail(article.id)})


@api()
async def delete_article(request: Request, user: User) -> Response:
    await knowledge.delete(user, _path_id(request))
    return jsonapi.ok()


@api()
async def restore_version(request: Request, user: User) -> Response:
    data = await _json(request)
    if "version_id" not in data:
        raise ServiceError("bad_request", "Which version?", "version_id")
    article = await knowledge.restore(user, _path_id(request), data["version_id"])
    return jsonapi.ok({"article": await _detail(article.id)})


# -- categories ----------------------------------------------------------------------------------------

@api(post=False)
async def list_categories(request: Request, user: User) -> Response:
    return jsonapi.ok({"categories": await knowledge.categories()})


@api()
async def create_category(request: Request, user: User) -> Response:
    category = await knowledge.save_category(user, None, await _json(request))
    return jsonapi.ok({"category": {"id": category.id, "name": category.name, "position": category.position},
                "categories": await knowledge.categories()}, status=201)


@api()
async def rename_category(request: Request, user: User) -> Response:
    category_id = _path_id(request, "category_id", N_("category"))
    values = await _json(request)
    if "position" not in values:  # a rename keeps the category's place
        current = await ArticleCategory.get_or_none(id=category_id)
        if current is None:
            raise ServiceError("not_found", "No such category.")
        values["position"] = current.position
    category = await knowledge.save_category(user, category_id, values)
    return jsonapi.ok({"category": {"id": category.id, "name": category.name, "position": category.position},
                "categories": await knowledge.categories()})


@api()
async def delete_category(request: Request, user: User) -> Response:
    await knowledge.delete_category(user, _path_id(request, "category_id", N_("category")))
    return jsonapi.ok({"categories": await knowledge.categories()})


# -- images ----------------------------------------------------------------------------------------------

def _alt(filename: str) -> str:
    """An image's file name as Markdown alt text (no brackets or line breaks to break out of it)."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", filename or "")
    return " ".join(re.sub(r"[\[\]\\`*_<>]+", " ", stem).split())[:80] or "image"


@api()
async def upload_image(request: Request, user: User) -> Response:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_UPLOAD):
        raise ServiceError("too_large", "An image is at most %(mb)s MB.", "file",
                           mb=knowledge.MAX_IMAGE // (1024 * 1024))
    try:
        form = await request.form(max_files=1, max_fields=5, max_part_size=MAX_UPLOAD)
    except Exception:  # a body that is not multipart, or too many parts
        raise ServiceError("bad_request", "Send the image as a multipart form with a \"file\" field.", "file") from None
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise ServiceError("bad_request", "Choose an image.", "file")
    data = await upload.read(MAX_UPLOAD)
    image = await knowledge.add_image(user, upload.filename or "", data)
    return jsonapi.ok({"image": {"id": image.id, "filename": image.filename, "content_type": image.content_type,
                          "size": image.size, "url": image_path(image.id)},
                "markdown": f"![{_alt(image.filename)}](image:{image.id})"}, status=201)


async def serve_image(request: Request) -> Response:
    """GET /kb/images/{id}: staff who read the knowledge base see any image; anyone else (`?site=KEY`)
    only the images of a published public article of that (enabled) site. Never served as a page."""
    user = await current_user(request)
    reader = user if user is not None and knowledge.may_read(user) else None
    site_id = None
    key = request.query_params.get("site")
    if reader is None and key and len(key) <= 64:
        site = await Site.get_or_none(key=key, disabled_at=None)
        site_id = site.id if site is not None else None
    raw = request.path_params["image_id"]
    try:
        image, path = await knowledge.image_file(int(raw) if digits(raw, 18) else None, site_id=site_id, user=reader)
    except ServiceError:
        return PlainTextResponse("No such image.", status_code=404, headers={"content-security-policy": IMAGE_CSP})
    if not path.exists() or not image.content_type.startswith("image/"):
        return PlainTextResponse("The image is missing.", status_code=404, headers={"content-security-policy": IMAGE_CSP})
    return FileResponse(path, media_type=image.content_type, filename=image.filename, content_disposition_type="inline",
                        headers={"x-content-type-options": "nosniff", "content-security-policy": IMAGE_CSP,
                                 "cache-control": "private, max-age=300" if reader else "public, max-age=300"})


# -- the staff's pages -----------------------------------------------------------------------------------

# The words of knowledge.STATUSES, AUDIENCES and LANGUAGES as the staff pages show them (`{{ _(label) }}`).
STATUS_WORDS = {"draft": N_("Draft"), "published": N_("Published"), "archived": N_("Archived")}
AUDIENCE_WORDS = {"public": N_("Public"), "internal": N_("Internal")}
LANGUAGE_WORDS = {"en": N_("English"), "zh": "简体中文"}


def _page(request: Request, user: User, template: str, status: int = 200, **context: Any) -> Response:
    # `kb_languages`: an article's languages (en, zh); `languages` is the staff pages' own (app/i18n.py).
    response = console_templates.TemplateResponse(
        request, template, {"user": user, "csrf_token": csrf_token(request), "may_edit": knowledge.may_edit(user),
                            "stale_days": runtime.current().settings.kb_stale_days,
                            "kb_languages": LANGUAGE_WORDS, "audiences": AUDIENCE_WORDS,
                            "statuses": STATUS_WORDS, **context},
        status_code=status)
    response.headers["cache-control"] = "no-store"
    return response


def _refused(text: str, status: int) -> Response:
    return PlainTextResponse(text, status_code=status, headers={"cache-control": "no-store"})


async def _readable(user: User, *, query: str, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Published articles a reader who does not edit may open (their sites' and every site's), newest
    first, or those matching `query` (the one search, as the console's)."""
    reader = await knowledge.staff_reader(user)
    if query:
        hits = await knowledge.search(query, reader=reader, limit=50)
        return [{"id": h.id, "title": h.title, "excerpt": h.excerpt, "language": h.language,
                 "audience": h.audience} for h in hits], len(hits)
    found = Article.filter(status="published")
    if reader.sites is not None:
        found = found.filter(Q(sites__id__isnull=True) | Q(sites__id__in=list(reader.sites)))
    ids = list(dict.fromkeys(await found.order_by("-updated_at", "-id").values_list("id", flat=True)))
    page = await Article.filter(id__in=ids[offset:offset + limit]).order_by("-updated_at", "-id")
    return [{"id": a.id, "title": a.title, "excerpt": text.excerpt(a.body), "language": a.language,
             "audience": a.audience} for a in page], len(ids)


async def list_page(request: Request) -> Response:
    """GET /knowledge: editors get the list with filters and categories (filled by knowledge.js);
    readers the published articles they may open, and a search."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    if not knowledge.may_read(user):
        return _refused("The knowledge base is for staff who answer customers.", 403)
    if knowledge.may_edit(user):
        return _page(request, user, "knowledge.html")
    query = (request.query_params.get("q") or "").strip()[:MAX_QUERY]
    page_number = _page_number(request)
    articles, total = await _readable(user, query=query, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE)
    return _page(request, user, "knowledge_read.html", articles=articles, total=total, query=query,
                 page=page_number, pages=max(1, -(-total // PAGE_SIZE)))


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page") or "1"
    return int(raw) if digits(raw, 6) and int(raw) > 0 else 1


async def new_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    if not knowledge.may_edit(user):
        return _refused("Only knowledge editors write articles.", 403)
    return _page(request, user, "knowledge_article.html", article_id="")


async def article_page(request: Request) -> Response:
    """GET /knowledge/articles/{id}: the editor for editors; a read-only view for other readers."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    if not knowledge.may_read(user):
        return _refused("The knowledge base is for staff who answer customers.", 403)
    raw = request.path_params["article_id"]
    try:
        article = await knowledge.for_staff(user, int(raw) if digits(raw, 18) else None)
    except ServiceError:
        return _page(request, user, "knowledge_missing.html", status=404)
    if knowledge.may_edit(user):
        return _page(request, user, "knowledge_article.html", article_id=article.id)
    await article.fetch_related("category")
    return _page(request, user, "knowledge_view.html", article=article, html=staff_html(article),
                 language=LANGUAGE_WORDS.get(article.language, article.language))


# -- the public help center -------------------------------------------------------------------------------

HELP_WORDS = {
    "en": {"title": "Help center", "search": "Search help articles", "search_button": "Search",
           "results": "Results for", "none": "No article matches your search. Try other words, or ask us in the chat.",
           "empty": "No articles here yet.", "other": "Other articles", "back": "All articles",
           "language": "Language", "missing": "This article is not here.",
           "missing_hint": "It may have moved or never existed. Search the help center, or ask us in the chat.",
           "updated": "Updated", "busy": "Too many searches for now. Please try again in a minute.",
           "skip": "Skip to main content"},
    "zh": {"title": "帮助中心", "search": "搜索帮助文章", "search_button": "搜索", "results": "搜索结果：",
           "none": "没有找到相关文章。请换个关键词，或在聊天中咨询我们。", "empty": "暂无文章。", "other": "其他文章",
           "back": "全部文章", "language": "语言", "missing": "找不到这篇文章。",
           "missing_hint": "文章可能已移动或不存在。请搜索帮助中心，或在聊天中咨询我们。", "updated": "更新于",
           "busy": "搜索过于频繁，请稍后再试。", "skip": "跳到主要内容"},
}


def _help_language(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in knowledge.LANGUAGES:
        return asked
    accepted = (request.headers.get("accept-language") or "").lower()
    return "zh" if accepted.startswith("zh") else "en"


def _help_page(request: Request, template: str, site: Site | None, lang: str, *, status: int = 200,
               **context: Any) -> Response:
    response = site_templates.TemplateResponse(
        request, template, {"site": site, "lang": lang, "words": HELP_WORDS[lang], "languages": knowledge.LANGUAGES,
                            **context}, status_code=status)
    response.headers["content-security-policy"] = HELP_CSP
    response.headers["cache-control"] = "no-store"
    return response


def _not_here(request: Request, site: Site | None, lang: str) -> Response:
    """The one 404 page for whatever a visitor may not read (or that does not exist)."""
    return _help_page(request, "help/missing.html", site, lang, status=404)


async def _help_site(request: Request) -> Site | None:
    key = request.path_params["site_key"]
    if not key or len(key) > 64:
        return None
    return await Site.get_or_none(key=key, disabled_at=None)


async def _public_resolver(site: Site, body: str):
    """Links to other articles: their public page when a visitor of `site` may read them, else text."""
    linked, _ = render.references(body)
    readable: dict[int, str] = {}
    if linked:
        shown = Article.filter(Q(sites__id__isnull=True) | Q(sites__id=site.id), id__in=list(linked),
                               status="published", audience="public").distinct()
        for article in await shown:
            readable[article.id] = quote(knowledge.public_path(site.key, article))
    return readable.get


async def help_index(request: Request) -> Response:
    """GET /help/{site_key}/: the site's published public articles by category, or search results."""
    lang = _help_language(request)
    site = await _help_site(request)
    if site is None:
        return _not_here(request, None, lang)
    query = (request.query_params.get("q") or "").strip()
    if query:
        if len(query) > MAX_QUERY:
            query = query[:MAX_QUERY]
        limiter = runtime.current().rate_limiter
        if await limiter.hit(f"kb:help-search:{client_address(request)}", PUBLIC_SEARCHES_PER_MINUTE, 60) is not None:
            return _help_page(request, "help/index.html", site, lang, status=429, query=query, busy=True,
                              hits=[], groups=[])
        hits = await knowledge.search(query, reader=knowledge.Reader.visitor(site.id, lang), limit=20)
        await knowledge.record("search", site_id=site.id, source="page", query=query, results=len(hits), language=lang)
        paths = {a.id: knowledge.public_path(site.key, a) for a in await Article.filter(id__in=[h.id for h in hits])}
        return _help_page(request, "help/index.html", site, lang, query=query,
                          hits=[{"title": h.title, "excerpt": h.excerpt, "path": paths[h.id]} for h in hits
                                if h.id in paths], groups=[])
    articles = await Article.filter(Q(sites__id__isnull=True) | Q(sites__id=site.id), status="published",
                                    audience="public", language=lang).distinct() \
        .order_by("title", "id").prefetch_related("category")
    groups: dict[int | None, dict[str, Any]] = {}
    for article in articles:
        category = article.category
        key = category.id if category else None
        group = groups.setdefault(key, {"name": category.name if category else None,
                                        "order": (0, category.position, category.name) if category else (1, 0, ""),
                                        "articles": []})
        group["articles"].append({"title": article.title, "path": knowledge.public_path(site.key, article)})
    ordered = sorted(groups.values(), key=lambda g: g["order"])
    return _help_page(request, "help/index.html", site, lang, query="", hits=None, groups=ordered)


async def help_article(request: Request) -> Response:
    """GET /help/{site_key}/articles/{id}-{slug}: the article (a wrong slug redirects to the right one)."""
    lang = _help_language(request)
    site = await _help_site(request)
    if site is None:
        return _not_here(request, None, lang)
    match = re.fullmatch(r"([0-9]{1,12})(?:-(.*))?", request.path_params["ref"], flags=re.DOTALL)
    if match is None:
        return _not_here(request, site, lang)
    try:
        article = await knowledge.for_visitor(site.id, int(match.group(1)))
    except ServiceError:
        return _not_here(request, site, lang)
    if match.group(2) != article.slug:
        return RedirectResponse(quote(knowledge.public_path(site.key, article)), status_code=301)
    await article.fetch_related("category")
    await knowledge.record("read", site_id=site.id, source="page", article_id=article.id, language=article.language)
    body = knowledge.html(article, article_url=await _public_resolver(site, article.body),
                          image_url=lambda image_id: image_path(image_id, site.key))
    return _help_page(request, "help/article.html", site, article.language, article=article, html=body)


ROUTES = [
    Route("/knowledge", list_page, methods=["GET"]),
    Route("/knowledge/new", new_page, methods=["GET"]),
    Route("/knowledge/articles/{article_id:str}", article_page, methods=["GET"]),
    Route("/api/kb/options", options, methods=["GET"]),
    Route("/api/kb/preview", preview, methods=["POST"]),
    Route("/api/kb/images", upload_image, methods=["POST"]),
    Route("/api/kb/categories", list_categories, methods=["GET"]),
    Route("/api/kb/categories", create_category, methods=["POST"]),
    Route("/api/kb/categories/{category_id:str}", rename_category, methods=["POST"]),
    Route("/api/kb/categories/{category_id:str}/delete", delete_category, methods=["POST"]),
    Route("/api/kb/articles", list_articles, methods=["GET"]),
    Route("/api/kb/articles", create_article, methods=["POST"]),
    Route("/api/kb/articles/{article_id:str}", get_article, methods=["GET"]),
    Route("/api/kb/articles/{article_id:str}", save_article, methods=["POST"]),
    Route("/api/kb/articles/{article_id:str}/publish", publish_article, methods=["POST"]),
    Route("/api/kb/articles/{article_id:str}/archive", archive_article, methods=["POST"]),
    Route("/api/kb/articles/{article_id:str}/reviewed", mark_reviewed, methods=["POST"]),
    Route("/api/kb/articles/{article_id:str}/delete", delete_article, methods=["POST"]),
    Route("/api/kb/articles/{article_id:str}/versions", list_versions, methods=["GET"]),
    Route("/api/kb/articles/{article_id:str}/versions/{version_id:str}", get_version, methods=["GET"]),
    Route("/api/kb/articles/{article_id:str}/restore", restore_version, methods=["POST"]),
    Route("/kb/images/{image_id:str}", serve_image, methods=["GET"]),
    Route("/help/{site_key:str}/", help_index, methods=["GET"]),
    Route("/help/{site_key:str}/articles/{ref:path}", help_article, methods=["GET"]),
]
