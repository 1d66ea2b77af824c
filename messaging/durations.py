"""How long sending takes, in a marketer's words (docs/cockpit.md, "The sending queue" and
"Bulk enrollment"). Pure functions: no database, no settings.

A paced sender hands Twilio at most `mps` segments a second (docs/reference.md §8), spread
evenly with a small margin for jitter (SMS_PACING_MARGIN, 3 % by default), so sending
`segments` takes ``segments * 1.03 / mps`` seconds: 100,000 one-segment texts at 1 MPS
take 103,000 s, "about 29 hours".
"""

from __future__ import annotations

from infra.pacing import pacing_margin

MINUTE = 60
HOUR = 3600
DAY = 86400


def duration_words(seconds: float) -> str:
    """`seconds` as a person says it: "under a minute", "about 7 minutes", "about an hour",
    "about 29 hours", "about 3 days" (hours up to two days, then days)."""
    if seconds < MINUTE:
        return "under a minute"
    minutes = round(seconds / MINUTE)
    if minutes < 60:
        return "about a minute" if minutes == 1 else f"about {minutes} minutes"
    hours = round(seconds / HOUR)
    if hours < 48:
        return "about an hour" if hours == 1 else f"about {hours} hours"
    return f"about {round(seconds / DAY)} days"


def send_seconds(*, segments: int, mps: float) -> float:
    """How long a sender paced at `mps` segments a second takes to hand over `segments`."""
    if mps <= 0:
        raise ValueError("a paced sender's limit is more than 0 segments a second")
    return max(segments, 0) * (1 + pacing_margin()) / mps


def send_duration_words(*, contacts: int, segments_per_text: int, mps: float) -> str:
    """How long texting `contacts` people a text of `segments_per_text` segments takes at
    `mps` segments a second, in words: 100,000 contacts, 1 segment, 1 MPS → "about 29 hours"."""
    return duration_words(send_seconds(segments=contacts * max(segments_per_text, 1), mps=mps))
