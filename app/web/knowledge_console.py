"""Knowledge in the console: the JSON API behind the knowledge panel beside a chat
(agent_ui/src/knowledge_panel.js; docs/protocol.md "Knowledge in the console").

- Who: staff who may read the knowledge base (`knowledge.may_read`: CSRs, supervisors, admins,
  back-office staff, knowledge editors); a marketer gets `forbidden`. What they find is their
  `knowledge.staff_reader` scope, and only **published** articles (editors too: a draft is never
  offered for a chat).
- A chat (`conversation_id`) must be one the user may read (app/services/scope.py
  `read_conversation`): otherwise `not_found`, exactly like an id that does not exist. With a chat,
  suggestions and searches are narrowed to the articles of the chat's site (and of no site).
- A link is offered only for an article a visitor of that chat's site may read: published, public
  and of that site or of every site (`knowledge.for_visitor`). Internal articles never have one.
- "Insert text" is the article as a chat reply: plain text, paragraphs and list items as lines, no
  Markdown syntax, at most `MAX_TEXT` characters. The preview (`html`) is rendered and sanitised by
  app/knowledge/render.py.
- What a CSR inserts is a knowledge event (`inserted`, source `console`, how = link | text), which
  the content reports count.

Every call needs a signed-in session; the POST the session's CSRF token in `X-CSRF-Token`. Errors
are `{"ok": false, "error": {"code", "message", "field"}}` with 400 (bad input), 401, 403 (role,
CSRF), 404 (an id that does not exist or may not be read), 413 (a body over `MAX_JSON`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.clock import utcnow
from app.knowledge import render, reply
from app.knowledge import search as rules
from app.models import Article, Conversation, Site, User
from app.services import ServiceError, knowledge, scope
from app.web.admin.common import digits
from app.web import jsonapi

MAX_JSON = 4 * 1024
MAX_JSON_DEPTH = 5
MAX_TEXT = 5_000
SUGGESTIONS = 3
SEARCH_LIMIT = 10
MAX_SEARCH_LIMIT = 50
SELF_SERVICE_MINUTES = 30  # what the visitor did in the 30 minutes before the chat (and since)
HOW = ("link", "text")


def api(post: bool = False):
    """A knowledge endpoint (app/web/jsonapi.py): signed in, allowed to read the knowledge base, CSRF on a POST."""
    return jsonapi.endpoint(knowledge.may_read, "The knowledge base is for staff who answer customers.", post=post)


async def _json(request: Request) -> dict[str, Any]:
    return await jsonapi.read_json(request, max_bytes=MAX_JSON, max_depth=MAX_JSON_DEPTH)


def _id_param(request: Request, name: str, *, required: bool) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        if required:
            raise ServiceError("bad_request", "%(name)s is needed.", name, name=name)
        return None
    if not digits(raw, 9) or int(raw) == 0:
        raise ServiceError("bad_request", "%(name)s is an id.", name, name=name)
    return int(raw)


def _id_field(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if value is None:
        raise ServiceError("bad_request", "%(name)s is needed.", name, name=name)
    if type(value) is not int or not 0 < value < 2**31:
        raise ServiceError("bad_request", "%(name)s is an id.", name, name=name)
    return value


# -- what a chat reads -------------------------------------------------------------------------------

async def _chat(user: User, conversation_id: int) -> Conversation:
    conversation, _ = await scope.read_conversation(user, conversation_id)
    return conversation


async def _reader(user: User, conversation: Conversation | None) -> knowledge.Reader:
    """The user's reader, published articles only; with a chat, of the chat's site (and of no site)."""
    reader = await knowledge.staff_reader(user)
    sites = reader.sites
    if conversation is not None:
        site = conversation.site_id
        sites = frozenset({site}) if sites is None or site in sites else frozenset()
    return knowledge.Reader(statuses=("published",), audiences=reader.audiences, sites=sites,
                            languages=reader.languages)


def _hit(hit: knowledge.Hit, conversation: Conversation | None) -> dict[str, Any]:
    # With a chat, every hit is of its site (or of every site) and published: a public one has a link.
    return {"id": hit.id, "title": hit.title, "excerpt": hit.excerpt, "language": hit.language,
            "audience": hit.audience, "linkable": conversation is not None and hit.audience == "public"}


# -- the endpoints --------------------------------------------------------------------------------

@api()
async def suggestions(request: Request, user: User) -> Response:
    """The top articles for the visitor's latest message in a chat."""
    conversation = await _chat(user, _id_param(request, "conversation_id", required=True))
    message = await knowledge.latest_visitor_message(conversation.id)
    if not message:
        return jsonapi.ok({"conversation_id": conversation.id, "has_message": False, "articles": []})
    hits = await knowledge.suggest(message, reader=await _reader(user, conversation), limit=SUGGESTIONS)
    return jsonapi.ok({"conversation_id": conversation.id, "has_message": True,
                "articles": [_hit(h, conversation) for h in hits]})


@api()
async def search(request: Request, user: User) -> Response:
    query = request.query_params.get("q")
    if query is None:
        raise ServiceError("bad_request", "What to search for (q) is needed.", "q")
    if len(query) > rules.MAX_QUERY:
        raise ServiceError("bad_request", "A search is at most %(most)s characters.", "q", most=rules.MAX_QUERY)
    raw_limit = request.query_params.get("limit") or str(SEARCH_LIMIT)
    if not digits(raw_limit, 3) or not 1 <= int(raw_limit) <= MAX_SEARCH_LIMIT:
        raise ServiceError("bad_request", "limit is a number from 1 to %(most)s.", "limit",
                           most=MAX_SEARCH_LIMIT)
    limit = int(raw_limit)
    conversation_id = _id_param(request, "conversation_id", required=False)
    conversation = await _chat(user, conversation_id) if conversation_id is not None else None
    hits = await knowledge.search(query, reader=await _reader(user, conversation), limit=limit)
    return jsonapi.ok({"query": query, "articles": [_hit(h, conversation) for h in hits]})


async def _article(request: Request, user: User) -> Article:
    raw = request.path_params["article_id"]
    article = await knowledge.for_staff(user, int(raw) if digits(raw, 9) else None)
    if article.status != "published":  # an editor's draft or archived article is not for a chat
        raise ServiceError("not_found", "No such article.")
    return article


@api()
async def insert(request: Request, user: User) -> Response:
    """What "Insert link" and "Insert text" put in the reply box, and a sanitised preview."""
    conversation_id = _id_param(request, "conversation_id", required=True)
    article = await _article(request, user)
    conversation = await _chat(user, conversation_id)
    site = await Site.get(id=conversation.site_id)
    linked, _ = render.references(article.body)
    links = await knowledge.visible_links(site, linked | {article.id})
    html = knowledge.html(article, article_url=links.get, image_url=lambda image_id: f"/kb/images/{image_id}")
    return jsonapi.ok({"id": article.id, "title": article.title, "audience": article.audience,
                "language": article.language, "link": links.get(article.id),
                "text": reply.reply_text(article.body, article_url=links.get, most=MAX_TEXT), "html": html})


@api(post=True)
async def inserted(request: Request, user: User) -> Response:
    """Note that an article went into a reply (the content reports count these)."""
    data = await _json(request)
    conversation_id = _id_field(data, "conversation_id")
    article_id = _id_field(data, "article_id")
    how = data.get("how")
    if how not in HOW:
        raise ServiceError("bad_request", "how is link or text.", "how")
    conversation = await _chat(user, conversation_id)
    article = await knowledge.for_staff(user, article_id)
    if article.status != "published":
        raise ServiceError("not_found", "No such article.")
    if how == "link":
        try:
            await knowledge.for_visitor(conversation.site_id, article.id)
        except ServiceError:
            raise ServiceError("bad_request", "This article has no public link for this chat's site.", "how") from None
    event = await knowledge.record("inserted", source="console", user_id=user.id, conversation_id=conversation.id,
                                   article_id=article.id, site_id=conversation.site_id, how=how)
    return jsonapi.ok({"event_id": event.id}, status=201)


@api()
async def self_service(request: Request, user: User) -> Response:
    """What the chat's visitor searched and read in the widget in the 30 minutes before the chat
    (and since)."""
    conversation = await _chat(user, _id_param(request, "conversation_id", required=True))
    since = (conversation.requested_at or utcnow()) - timedelta(minutes=SELF_SERVICE_MINUTES)
    minutes = max(SELF_SERVICE_MINUTES, int((utcnow() - since).total_seconds() // 60) + 1)
    found = await knowledge.self_service(conversation.visitor_id, since_minutes=minutes)
    return jsonapi.ok({"conversation_id": conversation.id, **found})


ROUTES: list[Route] = [
    Route("/api/kb/suggestions", suggestions, methods=["GET"]),
    Route("/api/kb/search", search, methods=["GET"]),
    Route("/api/kb/articles/{article_id}/insert", insert, methods=["GET"]),
    Route("/api/kb/inserted", inserted, methods=["POST"]),
    Route("/api/kb/self-service", self_service, methods=["GET"]),
]
