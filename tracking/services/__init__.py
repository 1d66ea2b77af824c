"""Tracking services (the Universal Tracker and xConnect's interactions): what came in,
kept.

- ``inbound_message_receive`` — the webhook's service. It checks the payload and stores
  the message as an inbound Interaction on its contact (created if new): ONE ``INSERT``
  in autocommit for a known number, deduplicated on the MessageSid by the unique
  constraint. Stored means committed: the webhook can say 200 and Twilio will not retry.
  The webhook (automation's door) then hands the message to the engine, which routes it
  (``automation.engine.inbound``).
- ``event_store`` / ``event_find`` — an event from another system kept on the timeline,
  idempotent on its ``event_id`` per API user.
- ``goal_convert`` — a goal reached, once per enrollment, with the value it brought.
- ``links_shorten`` / ``links_record`` / ``link_click_count`` — tracked links: a text's
  URLs as short codes, and people's clicks counted (link-preview agents are not).
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
