"""The reactions to the event log, registered once at start-up (`install`).

- The routing store follows every change of a chat or a CSR (`routing_state.sync_chat` / `sync_agent`).
- A routing pass is scheduled when a chat starts waiting, a CSR's place frees up, or a CSR becomes
  Available (off the caller's path: the reply does not wait for everyone else's decisions).
- The live Visitors list shows each visitor's chat state.
- A chat held outside business hours joins its queue at the opening (a timer: app/services/after_hours.py).
- Quality sampling: a closed or rated chat may join an evaluator's queue (app/services/sampling.py).
- A chat that goes back to waiting (re-queued, transferred to a department) while its visitor has
  no tab open is abandoned after the visitor grace period unless a tab comes back — as when a
  waiting visitor leaves.
"""

from __future__ import annotations

import asyncio
import logging

from app.models import AgentStatusEvent, Conversation, ConversationEvent, User
from app.runtime import Listeners
from app import metrics, presence, runtime
from app.clock import utcnow
from app.services import ServiceError, after_hours, conversations, routing, routing_state, sampling
from app.tracking import live

log = logging.getLogger(__name__)

# Events after which the routing store must follow the chat's new state.
ROUTING_KINDS = frozenset({
    "queued", "assigned", "offered", "offer_declined", "offer_expired", "abandoned", "closed", "transferred",
    "requeued", "note_left", "participant_left", "transfer_started",
})
# Events after which a routing pass may have something to decide.
ROUTE_AFTER = frozenset({"queued", "requeued", "closed", "offer_declined", "offer_expired", "transferred",
                         "participant_left"})
# What the live Visitors view shows of a visitor's chat after each event.
CHAT_STATES = {"queued": "waiting", "requeued": "waiting", "assigned": "assigned", "closed": "none"}


async def sync_routing_store(conversation: Conversation, event: ConversationEvent) -> None:
    # The agent the chat just left (a requeue, a transfer, a declined offer) releases it even if
    # they got it moments ago; without one, a hold younger than the database read is kept.
    data = event.data if isinstance(event.data, dict) else {}
    released_by = data.get("from_agent_id") or event.agent_id
    await routing_state.sync_chat(conversation.id, from_agent=released_by if isinstance(released_by, int) else None)


async def route_soon(conversation: Conversation, event: ConversationEvent) -> None:
    routing.schedule()


async def show_chat_state(conversation: Conversation, event: ConversationEvent) -> None:
    await live.update(conversation.visitor_id, chat=CHAT_STATES[event.kind])


class DepartedChecks(set):
    """Grace periods running for visitors whose chat went back to waiting while they were away."""


async def abandon_if_departed(conversation: Conversation, event: ConversationEvent) -> None:
    if conversation.status != "waiting" or await presence.count(conversation.visitor_id) > 0:
        return
    rt = runtime.current()
    left_at = utcnow()

    async def later() -> None:
        try:
            await asyncio.sleep(rt.settings.visitor_abandon_grace_seconds)
            await conversations.abandon_if_gone(conversation.visitor_id, left_at)
        except (asyncio.CancelledError, ServiceError):
            pass
        except Exception:  # best effort: the chat stays waiting and is routed as usual
            log.exception("abandoning a departed visitor's chat failed")

    checks = rt.state(DepartedChecks)
    task = asyncio.get_running_loop().create_task(later())
    checks.add(task)
    task.add_done_callback(checks.discard)


async def observe_wait(conversation: Conversation, event: ConversationEvent) -> None:
    """The worker's waiting-time histogram: from the request to the first assignment."""
    data = event.data if isinstance(event.data, dict) else {}
    if isinstance(data.get("queue_seconds"), (int, float)):  # not set on a transfer
        metrics.current().observe_wait(data["queue_seconds"])


async def sync_agent(user: User, event: AgentStatusEvent) -> None:
    await routing_state.sync_agent(user.id)
    if event.status == "available":
        routing.schedule()


def install(listeners: Listeners) -> Listeners:
    listeners.on_conversation(ROUTING_KINDS, sync_routing_store)
    listeners.on_conversation(ROUTE_AFTER, route_soon)
    listeners.on_conversation(set(CHAT_STATES), show_chat_state)
    listeners.on_conversation({"requeued", "transferred"}, abandon_if_departed)
    listeners.on_conversation({"assigned"}, observe_wait)
    listeners.on_conversation({"held"}, after_hours.schedule)
    listeners.on_agent_status(sync_agent)
    sampling.install(listeners)  # quality: triggers fill the evaluators' queues
    return listeners
