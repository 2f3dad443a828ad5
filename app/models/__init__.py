"""Storage: tortoise models. Only app.services writes them."""

from app.models.chat import AuditEvent, Conversation, ConversationEvent, Message, OfflineMessage, Participant
from app.models.invitations import Invitation, InvitationEvent, InvitationRule
from app.models.org import AgentStatusEvent, AwayReason, Department, Site, User
from app.models.visitors import PageView, TrackEvent, Visit, Visitor

__all__ = [
    "AgentStatusEvent",
    "AwayReason",
    "AuditEvent",
    "Conversation",
    "ConversationEvent",
    "Department",
    "Invitation",
    "InvitationEvent",
    "InvitationRule",
    "Message",
    "OfflineMessage",
    "PageView",
    "TrackEvent",
    "Participant",
    "Site",
    "User",
    "Visit",
    "Visitor",
]
