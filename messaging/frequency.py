"""The frequency cap (docs/reference.md §2 ``SMS_FREQUENCY_CAP``, issue 12): at most N messages that
do not answer the contact, per contact, in any rolling window, across all plans. Pure: no
database, no Django.

``"3/1d"`` is three a day; the window is minutes (``m``), hours (``h``), days (``d``) or
weeks (``w``). An extra message is deferred, never dropped: it goes when the window allows,
after the contact's messages already planned (so the order they were queued in is kept).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_CAP = re.compile(r"^\s*(\d{1,4})\s*/\s*(\d{1,4})\s*([mhdw])\s*$")
_UNITS = {"m": ("minute", 60), "h": ("hour", 3600), "d": ("day", 86400), "w": ("week", 604800)}


@dataclass(frozen=True)
class FrequencyCap:
    most: int
    window: timedelta
    written: str

    def __str__(self) -> str:
        return f"at most {self.most} in {self.written}"


@functools.cache
def frequency_cap_parse(text: str | None) -> FrequencyCap | None:
    """``"3/1d"`` → at most 3 a rolling day; empty → None (off); anything else → ValueError."""
    if text is None or not str(text).strip():
        return None
    match = _CAP.match(str(text))
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise ValueError(
            f"{text!r} is not a frequency cap: write how many messages in how long, e.g. "
            '"3/1d" (3 a day), "1/12h", "5/1w"; leave it empty for no cap.'
        )
    most, amount, unit = int(match.group(1)), int(match.group(2)), match.group(3)
    name, seconds = _UNITS[unit]
    return FrequencyCap(
        most=most,
        window=timedelta(seconds=amount * seconds),
        written=f"{amount} {name}{'s' if amount != 1 else ''}",
    )


def frequency_cap_release_at(*, now: datetime, planned: list[datetime], cap: FrequencyCap) -> datetime | None:
    """When a new message may go, given the send times of the contact's messages that count
    (sent within the window before `now`, or planned after it): None when it may go now.
    The new one goes after every planned one, and at least a window after the N-th latest
    of them, so no window of that length ever holds more than N."""
    if len(planned) < cap.most:
        return None
    times = sorted(planned)
    at = max(now, times[-1], times[-cap.most] + cap.window)
    return None if at <= now else at
