"""Tracked links (docs/reference.md §7): every ``http://`` or ``https://`` URL in a plan's text is
sent as ``<PUBLIC_BASE_URL>/l/<code>``, one code per message and URL; a click redirects to
the URL and is counted. What the contact's first click does to journeys (a ``link_click``
event) is automation's (``automation.engine.links``)."""

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F

from contacts.models import Contact
from tracking.models import Interaction, TrackedLink

# A URL in a text: the scheme, then anything up to white space or a character that cannot
# be in one. One character class, no nesting: linear in the text's length.
_URL = re.compile(r"https?://[^\s<>\"'`{}|\\^]+", re.IGNORECASE)
# Punctuation that ends the sentence around a URL rather than the URL itself.
_TRAILING = ".,;:!?)]'\""
MAX_LINKS = 10  # per message; more are sent as written
MAX_URL = 2000
CODE_BYTES = 9  # 12 URL-safe characters: 72 random bits


@dataclass(frozen=True)
class LinkPlan:
    """A text with its URLs swapped for short ones, and the (code, url) pairs to record."""

    body: str
    links: tuple[tuple[str, str], ...]


def link_code_new() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def links_shorten(*, body: str, base_url: str) -> LinkPlan:
    """Swap each ``http(s)://`` URL of `body` for ``<base_url>/l/<code>`` (the same URL twice
    in one message: one code). URLs already on `base_url` are left alone."""
    base = base_url.rstrip("/")
    codes: dict[str, str] = {}

    def swap(match: re.Match) -> str:
        url = match.group(0)
        kept = ""
        while url and url[-1] in _TRAILING:
            # A closing bracket that opened inside the URL is part of it (Wikipedia's links).
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url, kept = url[:-1], url[-1] + kept
        if (
            len(url) > MAX_URL
            or url.lower().startswith(base.lower() + "/")
            or (url not in codes and len(codes) >= MAX_LINKS)
            or url.lower() in ("http://", "https://")
        ):
            return match.group(0)
        code = codes.setdefault(url, link_code_new())
        return f"{base}/l/{code}{kept}"

    shortened = _URL.sub(swap, body)
    return LinkPlan(body=shortened, links=tuple((code, url) for url, code in codes.items()))


def links_record(*, plan: LinkPlan, interaction: Interaction, contact: Contact, enrollment=None) -> None:
    """Keep the links of one message (the caller's transaction). Codes are 72 random bits:
    a collision (the unique constraint) fails the transaction, and its retry draws anew."""
    TrackedLink.objects.bulk_create(
        TrackedLink(
            code=code,
            url=url,
            interaction=interaction,
            contact=contact,
            enrollment=enrollment,
            created_at=interaction.created_at,
        )
        for code, url in plan.links
    )


# Link-preview fetchers and crawlers (docs/reference.md §7): redirected, never counted. Lower-case
# pieces of their User-Agent headers; a person's browser carries none of them.
PREVIEW_AGENTS = (
    "facebookexternalhit", "facebot", "facebookcatalog", "meta-externalagent",  # Facebook, Messenger
    "applebot", "apple-pubsub",  # Apple (iMessage previews also send facebookexternalhit)
    "twitterbot",  # Twitter / X
    "slackbot", "slack-imgproxy",  # Slack
    "whatsapp",  # WhatsApp
    "telegrambot",  # Telegram
    "discordbot",  # Discord
    "linkedinbot",  # LinkedIn
    "googlebot", "google-inspectiontool", "googleother", "adsbot-google", "mediapartners-google",
    "bingbot", "bingpreview", "msnbot", "duckduckbot", "yandexbot", "yandex.com/bots", "baiduspider",
    "yahoo! slurp", "petalbot", "seznambot", "sogou", "exabot",  # search engines
    "skypeuripreview", "pinterestbot", "redditbot", "embedly", "iframely", "vkshare",  # other previews
)  # fmt: skip


def link_preview_agent(user_agent: str) -> bool:
    """Is this User-Agent a link-preview fetcher or a crawler (not a person)?"""
    agent = (user_agent or "")[:1000].lower()
    return any(piece in agent for piece in PREVIEW_AGENTS)


_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")


def link_find(*, code: str) -> TrackedLink | None:
    """The link with `code`; None for anything that is not one (never a query for a string
    no code can be: PostgreSQL refuses NUL characters)."""
    if not _CODE.fullmatch(code or ""):
        return None
    return TrackedLink.objects.filter(code=code).select_related("contact").first()


def link_click_count(*, link: TrackedLink, now: datetime) -> bool:
    """Count a person's click on `link`: True for the first one (a guarded UPDATE decides,
    so two first clicks at once make one first)."""
    with transaction.atomic():
        first = bool(
            TrackedLink.objects.filter(pk=link.pk, first_clicked_at__isnull=True).update(
                first_clicked_at=now, last_clicked_at=now, clicks=F("clicks") + 1
            )
        )
        if not first:
            TrackedLink.objects.filter(pk=link.pk).update(last_clicked_at=now, clicks=F("clicks") + 1)
    return first


__all__ = [
    "LinkPlan",
    "link_click_count",
    "link_find",
    "link_preview_agent",
    "links_record",
    "links_shorten",
]
