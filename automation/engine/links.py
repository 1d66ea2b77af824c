"""A click on a tracked link (docs/reference.md §7: ``GET /l/<code>``).

Every click is counted but those of link-preview fetchers and crawlers (and ``HEAD``
requests): they are redirected all the same. The contact's first click on a link is a
``link_click`` event (data: the URL) for the journey that sent the link: a
``wait_event`` for ``link_click`` there goes on and its goals on ``link_click`` convert
(``automation.engine.events``, with the link's code in the event's id, so the first
click is one event however many arrive at once)."""

import logging

from django.utils import timezone

from automation.engine.events import event_receive
from tracking.models import LINK_CLICK
from tracking.services import EventIn, link_click_count, link_find, link_preview_agent

logger = logging.getLogger(__name__)


def link_visit(*, code: str, method: str, user_agent: str) -> str | None:
    """Where `code` leads (None: no such link), after counting the visit when a person made
    it. A failure to move the journey never keeps the visitor from the page."""
    link = link_find(code=code)
    if link is None:
        return None
    if method == "HEAD" or link_preview_agent(user_agent):
        return link.url
    now = timezone.now()
    if link_click_count(link=link, now=now):
        try:
            event_receive(
                event=EventIn(
                    event_id=f"{LINK_CLICK}:{link.code}",
                    phone=link.contact.phone,
                    type=LINK_CLICK,
                    value=None,
                    data={"url": link.url},
                    occurred_at=now,
                ),
                enrollment_id=link.enrollment_id,
            )
        except Exception:
            logger.exception("link %s: the first click was counted but moved no journey", link.pk)
    return link.url


__all__ = ["link_visit"]
