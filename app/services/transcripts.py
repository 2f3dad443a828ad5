"""A visitor's transcript by mail: the visitor asks for it once their chat has ended (the widget's
"E-mail me the transcript"), and it goes to the address they gave (pre-chat or `identify`) through
the outgoing mail (app/services/mail.py), in their language, times in their time zone (else UTC).

Only the visitor's own ended chats, only what they saw (no internal notes), only to the address
on record: the request names no recipient, so a transcript can never be sent to someone else.
"""

from __future__ import annotations

from app.mail import transcript as text
from app.models import Conversation, Message, OutgoingMail, Site, Visitor
from app.services import ServiceError, mail

PURPOSE = "transcript"


async def send(visitor: Visitor, conversation_id: int, *, language: str, time_zone: str | None) -> OutgoingMail:
    """Queue the transcript of the visitor's ended conversation to their address. Refuses
    `not_found` (not this visitor's), `not_ended` (still waiting or going) and `no_address` (no
    usable e-mail address given)."""
    conversation = await Conversation.get_or_none(id=conversation_id, visitor_id=visitor.id)
    if conversation is None:
        raise ServiceError("not_found", "No such conversation.")
    if conversation.status != "closed":
        raise ServiceError("not_ended", "A transcript is sent once the chat has ended.")
    address = (await Visitor.get(id=visitor.id).values("email"))["email"]
    if not mail.plausible_address(address):
        raise ServiceError("no_address", "Give your e-mail address first (we have none to send it to).")
    site = await Site.get(id=conversation.site_id)
    lines = [text.Line(sender=m.sender_kind, author=m.author_name, at=m.created_at, body=m.body)
             for m in await Message.filter(conversation_id=conversation.id).exclude(sender_kind="internal")
             .order_by("seq")]
    subject, body = text.render(site=site.name, language=language, time_zone=time_zone,
                                started_at=conversation.requested_at, ended_at=conversation.closed_at, lines=lines)
    return await mail.queue(address, subject, body, purpose=PURPOSE)
