"""Comments an evaluator pins to a message of the chat they evaluate (docs/quality.md)."""

from __future__ import annotations

from app.models import EvaluationComment, Message, User
from app.services import ServiceError, evaluations

MAX_BODY = 2000


async def add(user: User, evaluation_id: object, message_id: object, body: object) -> EvaluationComment:
    """Pin a comment to a message of the evaluation's chat: the evaluator only; a message of another chat
    is `not_found` like one that does not exist."""
    evaluation = await evaluations.get(user, evaluation_id)
    if evaluation.evaluator_id != user.id:
        raise ServiceError("not_found", "No such evaluation.")
    if isinstance(message_id, bool) or not isinstance(message_id, int):
        raise ServiceError("invalid", "A message id is a number.", field="message_id")
    if not await Message.exists(id=message_id, conversation_id=evaluation.conversation_id):
        raise ServiceError("not_found", "No such message in this chat.", field="message_id")
    if not isinstance(body, str):
        raise ServiceError("invalid", "A comment is text.", field="body")
    body = body.strip()
    if not body:
        raise ServiceError("invalid", "Write the comment first.", field="body")
    if len(body) > MAX_BODY:
        raise ServiceError("invalid", "A comment is at most %(limit)s characters.", field="body", limit=MAX_BODY)
    return await EvaluationComment.create(evaluation_id=evaluation.id, message_id=message_id, author_id=user.id,
                                          body=body)
