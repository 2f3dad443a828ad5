"""The `/visitor` namespace: what the widget speaks (docs/protocol.md)."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import socketio

from app import presence, rows, runtime
from app.models import Department, Site, User, Visitor
from app import bus
from app.knowledge import search as search_rules
from app.realtime import validation as v
from app.realtime.handlers import event, limit, ok
from app.routing import rules as routing_rules
from app.security import TokenError
from app.services import (
    ServiceError, conversations, csat, invitations, knowledge, offline, queueinfo, serialize, sites, timers, tracking,
    transcripts, visitors, widget_settings, workorders,
)
from app.mail import transcript as transcript_text
from app.routing import hours
from app.tracking import live

_SITE_TTL = 30.0


_SITE_CACHE_SIZE = 1000

USER_HASH = re.compile(r"^[0-9A-Fa-f]{64}$")  # identify's proof: hex HMAC-SHA256 (docs/widget.md)
HELP_RESULTS = 10  # articles a Help search answers with
HELP_READ_EVENT = "help_article_read"  # the trail's custom event for an article read in the widget


class SiteCache(dict[str, tuple[float, int, Site]]):
    """Sites by key (their key or previous key) as this server last read them: key → (read at, the
    site version then, site). An entry serves for `_SITE_TTL` seconds, and only while the
    deployment's site version has not moved (any site changed: app/services/sites.py), so that a
    disabled site, a rotated key or new origins apply on every worker at once. On the server's
    runtime."""


async def site_by_key(key: str) -> Site | None:
    """The site a widget's key names (its current or previous key), or None. Whether that key may
    connect is `sites.refusal`'s to say."""
    if not isinstance(key, str) or not key or len(key) > 64:
        return None
    cache = runtime.current().state(SiteCache)
    version = await sites.version()  # before reading the site: a change after it moves the version
    cached = cache.get(key)
    now = time.monotonic()
    if cached and now - cached[0] < _SITE_TTL and cached[1] == version:
        return cached[2]
    site = await sites.by_key(key)
    if site is not None:  # only keys that exist are kept, and only so many: the cache stays bounded
        if key not in cache and len(cache) >= _SITE_CACHE_SIZE:
            for stale in sorted(cache, key=lambda k: cache[k][0])[: len(cache) // 4 or 1]:
                del cache[stale]
        cache[key] = (now, version, site)
    else:
        cache.pop(key, None)
    return site


async def admitted(key: str, origin: str | None, environ: dict) -> Site:
    """The site a widget connects to with `key` from `origin`, or the refusal it gets: an unknown
    key, a disabled site, a replaced key past its grace period, an origin the site does not allow."""
    site = await site_by_key(key)
    if site is None:
        raise refuse("unknown_site", "No site has this key.")
    refused = sites.refusal(site, key)  # disabled, or a replaced key past its grace
    if refused is not None:
        raise refuse(*refused)
    if not origin_allowed(site, origin, environ):
        raise refuse("origin_not_allowed", "This page's origin is not allowed for the site.")
    return site


def request_origin(environ: dict) -> str | None:
    """The page's origin: the Origin header, or this server's own for same-origin requests."""
    origin = environ.get("HTTP_ORIGIN")
    if origin:
        return origin.rstrip("/")
    if environ.get("HTTP_SEC_FETCH_SITE") == "same-origin" and environ.get("HTTP_HOST"):
        scheme = environ.get("wsgi.url_scheme") or "http"
        return f"{scheme}://{environ['HTTP_HOST']}"
    return None


def origin_allowed(site: Site, origin: str | None, environ: dict) -> bool:
    if origin is None:
        return False
    if origin in {o.rstrip("/") for o in site.allowed_origins}:
        return True
    # The demo site's pages are served by this server: its configured base URL is allowed (not
    # whatever the Host header says — a request can claim any host).
    return bool(site.settings.get("demo")) and origin == runtime.current().settings.public_url


def client_address(environ: dict) -> str | None:
    """The visitor's address: engine.io's ASGI environ says REMOTE_ADDR 127.0.0.1 whoever the
    peer is; the ASGI scope has the real one (a trusted proxy's X-Forwarded-For applied by uvicorn)."""
    client = (environ.get("asgi.scope") or {}).get("client")
    return client[0] if client else environ.get("REMOTE_ADDR")


def refuse(code: str, message: str, **extra: Any) -> socketio.exceptions.ConnectionRefusedError:
    return socketio.exceptions.ConnectionRefusedError(message, {"code": code, "message": message, **extra})


log = logging.getLogger(__name__)

# The visitor of a socket, read on each of its events (app/rows.py: the SQL written once).
_VISITOR = rows.Select(lambda: f"SELECT {rows.columns(Visitor)} FROM visitor WHERE id = {{}}")


class VisitorNamespace(socketio.AsyncNamespace):
    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self._trackers: dict[str, tuple[Visitor, tracking.TrackingSettings, bool]] = {}

    async def on_connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        if not isinstance(auth, dict) or not isinstance(auth.get("site"), str) or len(auth["site"]) > 64:
            raise refuse("bad_request", "auth.site (the site key) is required.")
        origin = request_origin(environ)
        site = await admitted(auth["site"], origin, environ)
        rt = runtime.current()
        token = auth.get("token")
        visitor_id = None
        if token is not None:
            try:
                visitor_id = rt.signer.read_visitor_token(token, site.id, rt.settings.visitor_token_max_age)
            except TokenError as exc:
                raise refuse(exc.code, exc.message) from None
        track = tracking.settings_of(site)
        try:
            visitor = await visitors.recognise(site, visitor_id, environ.get("HTTP_USER_AGENT"),
                                               client_address(environ), anonymize_ip=track.anonymize_ip)
        except ServiceError as exc:  # too many new visitors from this address or for this site
            raise refuse(exc.code, exc.message, **getattr(exc, "extra", {})) from None
        # Tracked unless the site keeps no trail, or respects Do Not Track / Global Privacy Control
        # and the browser sends one (the widget also stops sending; this is the second wall).
        tracked = track.enabled and not (track.respect_dnt and (
            environ.get("HTTP_DNT") == "1" or environ.get("HTTP_SEC_GPC") == "1"))
        look = widget_settings.settings_of(site)
        await self.save_session(sid, {"site_id": site.id, "visitor_id": visitor.id, "tracked": tracked,
                                      "languages": routing_rules.languages(environ.get("HTTP_ACCEPT_LANGUAGE")),
                                      # The pre-chat fields a new chat needs, as this widget was told.
                                      "required": widget_settings.required_fields(look),
                                      "offline_form": look["offline_form"]})
        await self.enter_room(sid, bus.visitor_room(visitor.id))
        # The site's rooms: disabling it, or no longer allowing this origin, closes the socket. A
        # change made while this socket was being let in may have been broadcast before it joined
        # them: the site is looked at once more (from the cache unless a site changed meanwhile).
        await self.enter_room(sid, bus.site_room(site.id))
        await self.enter_room(sid, bus.site_origin_room(site.id, origin))
        await admitted(auth["site"], origin, environ)
        await presence.joined(visitor.id)
        conversation = await conversations.open_conversation_of(visitor)
        self._trackers[sid] = (visitor, track, tracked)
        if tracked:
            await live.online(visitor, chat=conversation.status if conversation else "none")
        await self.emit(
            "session",
            {
                "visitor_id": visitor.id,
                "token": rt.signer.visitor_token(visitor.id, site.id),
                "conversation": await self._visitor_view(conversation) if conversation else None,
                # The topics a visitor may pick before a new chat (the site's departments).
                "departments": await Department.filter(site_id=site.id).order_by("name")
                .values("id", "name", "max_wait_seconds"),
                # An invitation still open (the visitor moved to another page meanwhile).
                "invitation": None if conversation else await invitations.open_for(visitor),
                # Automatic invitation rules the widget times (`rule_matched` when one is due).
                "invitation_rules": [] if visitor.is_bot else await invitations.rules_for(site.id),
                # What the widget may send of the trail (docs/widget.md, "Privacy").
                "tracking": {**track.for_widget(), "enabled": tracked},
                # The site's look and pre-chat form (docs/widget.md, "Appearance").
                "widget": look,
            },
            to=sid,
        )

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        self._trackers.pop(sid, None)
        session = await self.get_session(sid)
        visitor_id = session.get("visitor_id")
        if visitor_id and await presence.left(visitor_id) == 0:
            live.offline(visitor_id)
            # A queued visitor with no tab left for the grace period has abandoned: on the shared
            # schedule, so that it happens even if this worker does not live that long.
            await timers.departed(visitor_id)

    async def _visitor_id(self, sid: str) -> str:
        """The visitor a socket belongs to: trail limits count per visitor, so a reconnect or a
        second tab does not start them afresh."""
        return (await self.get_session(sid)).get("visitor_id") or sid

    async def _visitor(self, sid: str) -> Visitor:
        session = await self.get_session(sid)
        visitor_id = session.get("visitor_id")
        visitor = await rows.one(Visitor, _VISITOR, visitor_id) if isinstance(visitor_id, str) else None
        if visitor is None:
            raise ServiceError("not_found", "This visitor no longer exists.")
        held = self._trackers.get(sid)
        if held is not None and held[0].current_url:
            # This tab's latest page, which the trail's next batch has not written yet (routing
            # rules and the CSR's sidebar read it).
            visitor.current_url, visitor.current_title = held[0].current_url, held[0].current_title
        return visitor

    @staticmethod
    async def _visitor_view(conversation) -> dict:
        agent = await User.get_or_none(id=conversation.agent_id) if conversation.agent_id else None
        view = serialize.conversation_for_visitor(conversation, agent)
        view["queue"] = await queueinfo.place_of(conversation)
        if conversation.status == "held":  # asked for outside business hours: joins the queue then
            view["opens_at"] = await conversations.held_until(conversation)
        if conversation.status == "closed":
            view["rating"] = (await csat.ratings_of([conversation.id])).get(conversation.id)
        return view

    async def _tracking(self, sid: str) -> tuple[Visitor, tracking.TrackingSettings, bool]:
        """The visitor and the site's tracking settings as of this connection: kept in memory, so
        that recording a page view reads nothing from the database."""
        held = self._trackers.get(sid)
        if held is None:
            session = await self.get_session(sid)
            visitor = await self._visitor(sid)
            site = await Site.get(id=visitor.site_id)
            held = self._trackers[sid] = (visitor, tracking.settings_of(site), bool(session.get("tracked", True)))
        return held

    @event
    async def on_page_view(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        url = v.url(data, "url", required=True)
        title = v.text(data, "title", max_len=512, required=False)
        referrer = v.url(data, "referrer", required=False)
        view_id = v.client_id(data, "view_id", required=False)
        await limit(f"pv:{await self._visitor_id(sid)}", 60, 60.0)
        visitor, settings, tracked = await self._tracking(sid)
        viewed = await tracking.page_view(visitor, settings, url, title, referrer, view_id) if tracked else None
        if viewed is not None:
            await live.page_viewed(visitor, visitor.current_url or url, visitor.current_title, referrer,
                                   viewed.visit, viewed.new_visit)
        return ok(tracked=viewed is not None)

    @event
    async def on_page_time(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        view_id = v.client_id(data, "view_id")
        active_ms = v.integer(data, "active_ms", minimum=0)
        await limit(f"pt:{await self._visitor_id(sid)}", 60, 60.0)
        visitor, settings, tracked = await self._tracking(sid)
        if tracked:
            await tracking.page_time(visitor, settings, view_id, active_ms)
        return ok()

    @event
    async def on_track(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        name = v.event_name(data, "name")
        props = tracking.check_props(data.get("props"))
        await limit(f"track:{await self._visitor_id(sid)}", 30, 60.0)
        visitor, settings, tracked = await self._tracking(sid)
        return ok(tracked=tracked and await invitations.record_event(visitor, settings, name, props))

    @event
    async def on_identify(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        external_id = v.text(data, "id", max_len=128, required=False)
        name = v.text(data, "name", max_len=100, required=False)
        email = v.text(data, "email", max_len=254, required=False)
        if email is not None and ("@" not in email or any(c.isspace() for c in email)):
            raise ServiceError("bad_request", "'email' is not an e-mail address.")
        user_hash = data.get("user_hash")
        if user_hash is not None and not (isinstance(user_hash, str) and USER_HASH.match(user_hash)):
            raise ServiceError("bad_request", "'user_hash' must be 64 hexadecimal characters (HMAC-SHA256).")
        attributes = tracking.check_attributes(data.get("attributes"))
        await limit(f"identify:{await self._visitor_id(sid)}", 10, 60.0)
        visitor, _, _ = await self._tracking(sid)
        return ok(verified=await tracking.identify(visitor, external_id, name, email, attributes, user_hash))

    @event
    async def on_message(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        client_id = v.client_id(data)
        settings = runtime.current().settings
        body = v.text(data, "body", max_len=settings.max_message_chars)
        name = v.text(data, "name", max_len=100, required=False)
        email = v.text(data, "email", max_len=254, required=False)
        if email is not None and ("@" not in email or any(c.isspace() for c in email)):
            raise ServiceError("bad_request", "'email' is not an e-mail address.")
        department_id = v.integer(data, "department_id", minimum=1, required=False)
        from_help = data.get("from_help", False)  # "Chat with us" under the Help view (docs/widget.md, "Help")
        if not isinstance(from_help, bool):
            raise ServiceError("bad_request", "'from_help' must be true or false.")
        session = await self.get_session(sid)
        count, window = settings.message_rate
        await limit(f"msg:v:{session['visitor_id']}", count, window, ahead=True)
        open_tried = False
        if name is None and email is None and department_id is None:
            # A message in the chat they have open: stored without reading the visitor first (nothing
            # here depends on it). None open (a new chat, which the checks below are for): as before.
            posted = await conversations.post_to_open_conversation(session["visitor_id"], client_id=client_id,
                                                                   body=body, skip_sid=sid)
            if posted is not None:
                shown = serialize.message_for_visitor(posted[1])
                return ok(conversation_id=posted[1].conversation_id, seq=shown["seq"], created_at=shown["created_at"])
            open_tried = True
        visitor = await self._visitor(sid)
        # A new chat on a site that requires a name or an e-mail: refused without it (prechat_required).
        await widget_settings.check_first_message(visitor, session.get("required") or [], name=name, email=email,
                                                  client_id=client_id)
        conversation, message, started = await conversations.post_visitor_message(
            visitor, client_id=client_id, body=body, name=name, email=email, skip_sid=sid,
            department_id=department_id, languages=session.get("languages") or [], open_tried=open_tried,
        )
        if started and from_help:  # a chat that self-service did not settle (the deflection report)
            await knowledge.record("chat_started", site_id=visitor.site_id, visitor_id=visitor.id,
                                   session=self._help_session(sid, visitor), conversation_id=conversation.id)
        # The visitor's numbering; a resend acks the message it repeats, in the conversation it is in.
        shown = serialize.message_for_visitor(message)
        return ok(conversation_id=message.conversation_id, seq=shown["seq"], created_at=shown["created_at"])

    @event
    async def on_sync(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        after_seq = v.integer(data, "after_seq", minimum=0)
        await limit(f"sync:{sid}", 60, 60.0)
        conversation = await conversations.visitor_conversation(await self._visitor(sid), conversation_id)
        # `after_seq` and the messages' `seq` are in the visitor's numbering (no internal notes).
        messages = await conversations.messages_after(conversation, after_seq, include_internal=False)
        return ok(conversation=await self._visitor_view(conversation),
                  messages=[serialize.message_for_visitor(m) for m in messages])

    @event
    async def on_history(self, sid: str, data: Any) -> dict:
        v.payload(data)
        await limit(f"hist:{sid}", 20, 60.0)
        visitor = await self._visitor(sid)
        # "Your requests": the visitor's work orders with their status links (their own token).
        return ok(conversations=await conversations.history(visitor), requests=await workorders.visitor_requests(visitor.id))

    @event
    async def on_typing(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        typing = v.boolean(data, "typing")
        try:
            await limit(f"typing:{sid}", 20, 10.0)
        except ServiceError:
            return ok()  # typing is throttled silently
        conversation = await conversations.open_conversation_of(await self._visitor(sid))
        if conversation is not None:
            await bus.to_staff(
                "typing", {"conversation_id": conversation.id, "typing": typing},
                agent_id=conversation.agent_id, conversation_id=conversation.id,
            )
        return ok()

    @event
    async def on_read(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        seq = v.integer(data, "seq", minimum=0)
        conversation = await conversations.visitor_conversation(await self._visitor(sid), conversation_id)
        await conversations.mark_read(conversation, "visitor", seq)
        return ok()

    @event
    async def on_rate(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        rating = v.text(data, "rating", max_len=16)
        comment = v.text(data, "comment", max_len=csat.MAX_COMMENT, required=False)
        await limit(f"rate:{sid}", 10, 60.0)
        result = await csat.rate(await self._visitor(sid), conversation_id, rating, comment)
        return ok(**result)

    @event
    async def on_availability(self, sid: str, data: Any) -> dict:
        v.payload(data)
        await limit(f"avail:{sid}", 30, 60.0)
        visitor = await self._visitor(sid)
        return ok(**await offline.availability(visitor.site_id))

    @event
    async def on_leave_message(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        email = v.text(data, "email", max_len=254)
        if "@" not in email or any(c.isspace() for c in email):
            raise ServiceError("bad_request", "'email' is not an e-mail address.")
        body = v.text(data, "body", max_len=runtime.current().settings.max_message_chars)
        name = v.text(data, "name", max_len=100, required=False)
        department_id = v.integer(data, "department_id", minimum=1, required=False)
        session = await self.get_session(sid)
        if session.get("offline_form") is False:  # the site switched its offline form off (Admin → Widget)
            raise ServiceError("offline_form_off", "This site takes no notes: chat with us instead.")
        await limit(f"offline:{session['visitor_id']}", 5, 600.0)
        message = await offline.leave_message(await self._visitor(sid), email=email, body=body, name=name,
                                              department_id=department_id)
        return ok(id=message.id)

    @event
    async def on_invitation_seen(self, sid: str, data: Any) -> dict:
        invitation_id = v.integer(v.payload(data), "id", minimum=1)
        await invitations.shown(await self._visitor(sid), invitation_id)
        return ok()

    @event
    async def on_invitation_accept(self, sid: str, data: Any) -> dict:
        invitation_id = v.integer(v.payload(data), "id", minimum=1)
        session = await self.get_session(sid)
        await limit(f"inv:v:{session['visitor_id']}", 10, 60.0)
        conversation = await invitations.accept(await self._visitor(sid), invitation_id)
        return ok(conversation=await self._visitor_view(conversation))

    @event
    async def on_rule_matched(self, sid: str, data: Any) -> dict:
        rule_id = v.integer(v.payload(data), "rule_id", minimum=1)
        session = await self.get_session(sid)
        await limit(f"rule:v:{session['visitor_id']}", 20, 60.0)
        return ok(invitation=await invitations.rule_matched(await self._visitor(sid), rule_id))

    @event
    async def on_invitation_decline(self, sid: str, data: Any) -> dict:
        invitation_id = v.integer(v.payload(data), "id", minimum=1)
        await invitations.decline(await self._visitor(sid), invitation_id)
        return ok()

    @event
    async def on_close(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        conversation = await conversations.visitor_conversation(await self._visitor(sid), conversation_id)
        await conversations.close(conversation, by="visitor")
        return ok()

    @event
    async def on_transcript(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        conversation_id = v.integer(data, "conversation_id", minimum=1)
        language = data.get("language")
        if language is not None and language not in transcript_text.LANGUAGES:
            raise ServiceError("bad_request", f"'language' is one of: {', '.join(transcript_text.LANGUAGES)}.")
        zone = v.text(data, "time_zone", max_len=64, required=False)
        if zone is not None:
            try:
                zone = hours.time_zone(zone)
            except hours.HoursError:
                raise ServiceError("bad_request", "'time_zone' is not an IANA time zone name.") from None
        session = await self.get_session(sid)
        await limit(f"transcript:{session['visitor_id']}", 3, 600.0)
        sent = await transcripts.send(await self._visitor(sid), conversation_id,
                                      language=language or transcript_text.language_of(session.get("languages")),
                                      time_zone=zone)
        return ok(to=sent.to_address)

    # --- Help: the visitor's self-service (docs/widget.md, "Help") ------------------------------
    # Visitors read published public articles of their site only (knowledge.for_visitor,
    # knowledge.Reader.visitor): anything else — internal, draft, archived, another site's, unknown —
    # answers `not_found` alike. Searches and reads go to the knowledge event log (the deflection
    # report); a read is also a step of the visitor's trail (the custom event `help_article_read`).

    def _help_session(self, sid: str, visitor: Visitor) -> str:
        """What ties a visitor's self-service steps together: their current visit (visitor id and
        visit number, known at once on this worker), or this socket when no trail is kept."""
        visit = tracking.buffers().visits.get(visitor.id)  # the visit this worker's page views are in
        held = self._trackers.get(sid)
        number = visit.number if visit else max(tracking.latest(visitor).visit_count or 0,
                                                (held[0].visit_count or 0) if held else 0)
        return f"{visitor.id}:{number}" if number else f"socket:{sid}"

    @event
    async def on_help_search(self, sid: str, data: Any) -> dict:
        data = v.payload(data)
        query = v.text(data, "query", max_len=search_rules.MAX_QUERY)
        language = data.get("language")
        if language is not None and language not in knowledge.LANGUAGES:
            raise ServiceError("bad_request", f"'language' is one of: {', '.join(knowledge.LANGUAGES)}.")
        await limit(f"help:{await self._visitor_id(sid)}", 30, 60.0)
        visitor, _, _ = await self._tracking(sid)
        hits = await knowledge.search(query, reader=knowledge.Reader.visitor(visitor.site_id, language),
                                      limit=HELP_RESULTS)
        if not hits and language is not None:  # nothing in the visitor's language: any language
            hits = await knowledge.search(query, reader=knowledge.Reader.visitor(visitor.site_id), limit=HELP_RESULTS)
        await knowledge.record("search", site_id=visitor.site_id, visitor_id=visitor.id,
                               session=self._help_session(sid, visitor), query=query, results=len(hits),
                               language=language)
        return ok(results=[{"id": h.id, "title": h.title, "excerpt": h.excerpt, "language": h.language}
                           for h in hits])

    @event
    async def on_help_article(self, sid: str, data: Any) -> dict:
        article_id = v.integer(v.payload(data), "id", minimum=1)
        await limit(f"helpread:{await self._visitor_id(sid)}", 60, 60.0)
        visitor, settings, tracked = await self._tracking(sid)
        article = await knowledge.for_visitor(visitor.site_id, article_id)
        site = await sites.get(visitor.site_id)
        html = await knowledge.visitor_html(site, article)
        await knowledge.record("read", site_id=site.id, visitor_id=visitor.id, session=self._help_session(sid, visitor),
                               article_id=article.id, language=article.language)
        if tracked:
            await tracking.track(visitor, settings, HELP_READ_EVENT, {"article_id": article.id, "title": article.title})
        return ok(article={"id": article.id, "title": article.title, "html": html, "language": article.language,
                           "url": knowledge.public_url(site.key, article)})
