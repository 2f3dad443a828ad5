"""Storage: tortoise models. Only app.services writes them."""

from app.models.chat import (
    AuditEvent, ContactEvent, Conversation, ConversationEvent, Message, OfflineMessage, Participant,
)
from app.models.kpi import KeptDay, KeptFact
from app.models.knowledge import (
    Article, ArticleCategory, ArticleImage, ArticleVersion, CannedResponse, KnowledgeEvent,
)
from app.models.invitations import Invitation, InvitationEvent, InvitationRule
from app.models.org import AgentStatusEvent, AwayReason, Department, DeploymentIdentity, PasswordToken, Shift, Site, StaffSession, User
from app.models.quality import (
    CalibrationSession, CoachingSession, Dispute, Evaluation, EvaluationAnswer, EvaluationComment, QualityEvent,
    SampleItem, SamplingRule, Scorecard, ScorecardVersion,
)
from app.models.visitors import PageView, TrackEvent, Visit, Visitor
from app.models.workorders import (
    OutgoingMail, SlaPolicy, Team, WorkCategory, WorkOrder, WorkOrderAttachment, WorkOrderCallback,
    WorkOrderCounter, WorkOrderEntry, WorkOrderEvent,
)

__all__ = [
    "KeptDay",
    "KeptFact",
    "CalibrationSession",
    "CoachingSession",
    "Dispute",
    "Evaluation",
    "EvaluationAnswer",
    "EvaluationComment",
    "QualityEvent",
    "SampleItem",
    "SamplingRule",
    "Scorecard",
    "ScorecardVersion",
    "Article",
    "ArticleCategory",
    "ArticleImage",
    "ArticleVersion",
    "CannedResponse",
    "KnowledgeEvent",
    "AgentStatusEvent",
    "AwayReason",
    "AuditEvent",
    "ContactEvent",
    "Conversation",
    "ConversationEvent",
    "Department",
    "DeploymentIdentity",
    "Invitation",
    "InvitationEvent",
    "InvitationRule",
    "Message",
    "OfflineMessage",
    "PageView",
    "PasswordToken",
    "TrackEvent",
    "Participant",
    "Shift",
    "Site",
    "StaffSession",
    "User",
    "Visit",
    "Visitor",
    "OutgoingMail",
    "SlaPolicy",
    "Team",
    "WorkCategory",
    "WorkOrder",
    "WorkOrderAttachment",
    "WorkOrderCallback",
    "WorkOrderCounter",
    "WorkOrderEntry",
    "WorkOrderEvent",
]
