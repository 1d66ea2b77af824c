"""Quiet hours: a pure function, no database. Owner: time (issue 4)."""

from datetime import datetime


def quiet_hours_release_at(*, now: datetime, tz_name: str, window: str) -> datetime | None:
    """If `now` falls inside `window` ("21:00-08:00", in `tz_name`), when it ends (aware UTC
    datetime); else None. An empty window disables quiet hours."""
    return None  # placeholder until issue 4
