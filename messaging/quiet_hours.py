"""Quiet hours: pure functions, no database, no Django.

A window is written ``"HH:MM-HH:MM"`` in the recipient's wall-clock time: ``"21:00-08:00"``
wraps midnight (21:00 tonight until 08:00 tomorrow), ``"13:00-14:00"`` is within one day.
The start is inside the window, the end is not. An empty window disables quiet hours.

Times are wall-clock times in the recipient's zone, so the release is "08:00 local" even on
the nights daylight saving time starts or ends (the night is an hour shorter or longer). A
window end that does not exist on a given day (skipped by a spring-forward gap, e.g. 02:30 in
America/New_York on the second Sunday of March) releases at the first minute that does.
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_WINDOW_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def quiet_hours_parse(window: str) -> tuple[time, time] | None:
    """``"21:00-08:00"`` → ``(time(21), time(8))``; empty → ``None``; anything else → ValueError."""
    if window is None or not str(window).strip():
        return None
    match = _WINDOW_RE.match(str(window))
    if not match:
        raise ValueError(
            f"Quiet hours {window!r} is not a window: write it as HH:MM-HH:MM in 24-hour time, "
            'e.g. "21:00-08:00" (wraps midnight) or "13:00-14:00"; leave it empty to disable.'
        )
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    for hours, minutes in ((h1, m1), (h2, m2)):
        if hours > 23 or minutes > 59:
            raise ValueError(
                f"Quiet hours {window!r}: {hours:02d}:{minutes:02d} is not a time of day (00:00 to 23:59)."
            )
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        raise ValueError(
            f"Quiet hours {window!r} starts and ends at the same time; leave it empty to disable quiet hours."
        )
    return start, end


def quiet_hours_zone(*, tz_name: str) -> ZoneInfo:
    """The zone called `tz_name` (an IANA name) or ValueError with a clear message."""
    try:
        return ZoneInfo(str(tz_name).strip())
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(
            f"{tz_name!r} is not a known time zone (use an IANA name like America/New_York)."
        ) from exc


def quiet_hours_recipient_zone(*, contact_tz: str, implied_tz: str | None, site_tz: str) -> str:
    """The zone quiet hours are judged in: the contact's own (when it is a real zone), else
    the one its number implies (``contacts.phone.phone_timezone``), else the site's."""
    for candidate in (contact_tz, implied_tz):
        if candidate:
            try:
                quiet_hours_zone(tz_name=candidate)
            except ValueError:
                continue
            return candidate.strip()
    return site_tz


def _wall_clock_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The first instant whose local wall-clock time is `at` on `day` (or, inside a DST
    gap where `at` does not exist, the first minute after it that does)."""
    wall = datetime.combine(day, at)
    for minutes in range(0, 24 * 60):
        candidate = (wall + timedelta(minutes=minutes)).replace(tzinfo=zone, fold=0)
        in_utc = candidate.astimezone(UTC)
        if in_utc.astimezone(zone).replace(tzinfo=None) == candidate.replace(tzinfo=None):
            return in_utc
    raise AssertionError("unreachable: every day has a valid minute")  # pragma: no cover


def quiet_hours_release_at(*, now: datetime, tz_name: str, window: str) -> datetime | None:
    """If `now` falls inside `window` ("21:00-08:00", wall-clock time in `tz_name`), when the
    window ends (an aware UTC datetime); else None. An empty window disables quiet hours.

    Raises ValueError for a malformed window, an unknown zone or a naive `now`.
    """
    parsed = quiet_hours_parse(window)
    if parsed is None:
        return None
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("quiet_hours_release_at needs an aware datetime (now).")
    start, end = parsed
    zone = quiet_hours_zone(tz_name=tz_name)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    today = local.date()
    if start < end:  # same day, e.g. 13:00-14:00
        if not (start <= clock < end):
            return None
        release_day = today
    elif clock >= start:  # wraps midnight, evening part: ends tomorrow morning
        release_day = today + timedelta(days=1)
    elif clock < end:  # wraps midnight, morning part: ends this morning
        release_day = today
    else:
        return None
    release = _wall_clock_to_utc(release_day, end, zone)
    if release <= now:
        # Only when the end falls in the hour repeated by a fall-back transition and `now` is
        # already in its second pass: the end's second occurrence is the one still ahead.
        release = datetime.combine(release_day, end).replace(tzinfo=zone, fold=1).astimezone(UTC)
    return release if release > now else None


__all__ = [
    "quiet_hours_parse",
    "quiet_hours_recipient_zone",
    "quiet_hours_release_at",
    "quiet_hours_zone",
]
