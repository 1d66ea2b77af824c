"""Tracking services: the inbound message pipeline and goal conversions. Owner: engine (issue 3).

DESIGN §1 in code, in two steps:

- ``inbound_message_receive`` — the webhook's service. It checks the payload and stores
  the message as an inbound Interaction on its contact (created if new): ONE ``INSERT``
  in autocommit for a known number, deduplicated on the MessageSid by the unique
  constraint. Stored means committed: the webhook can say 200 and Twilio will not retry.
  It then hands the message to the journey engine — a Celery worker when a broker is
  configured, else right here, in-process, as before.
- ``inbound_message_route`` — the engine's entry, on the worker: one transaction per
  message that claims it (``routed_at``, so a redelivered task routes nothing twice) and
  locks the contact row first, then compliance keywords before any plan logic, then the
  journey engine. Nothing here does network I/O: replies are queued with
  ``messaging.services.outbound_queue``, which sends on commit.

``inbound_route_due`` (beat, every minute) routes what no worker took: a message stored
while the broker was down, or whose worker died mid-way. A message is never lost.
"""

from tracking.services.events import EventIn, event_data, event_find, event_store
from tracking.services.goals import goal_convert, goal_ids_by_slug
from tracking.services.links import (
    LinkPlan,
    link_click_count,
    link_find,
    link_preview_agent,
    links_record,
    links_shorten,
)
from tracking.services.receive import (
    InboundAccepted,
    InboundMessage,
    InboundPayloadError,
    inbound_message_receive,
    inbound_message_store,
    inbound_payload_parse,
)

__all__ = [
    "EventIn",
    "InboundAccepted",
    "InboundMessage",
    "InboundPayloadError",
    "LinkPlan",
    "event_data",
    "event_find",
    "event_store",
    "goal_convert",
    "goal_ids_by_slug",
    "inbound_message_receive",
    "inbound_message_store",
    "inbound_payload_parse",
    "link_click_count",
    "link_find",
    "link_preview_agent",
    "links_record",
    "links_shorten",
]
