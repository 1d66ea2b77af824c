"""Sending hours by US state (docs/reference.md §2 ``SMS_STATE_HOURS``, issue 12): the stricter hours
and days some states set for marketing texts, on top of ``SMS_QUIET_HOURS``. Pure: the
rules are data in this one module, each with its source; legal holidays come from the
`holidays` package (a state's own, e.g. Mardi Gras in Louisiana).

The table is what these statutes said when it was written (December 2026); laws change,
and this is not legal advice: have counsel check it for your program, and say so in the
closing note when a rule changes. A state not listed adds nothing to `SMS_QUIET_HOURS`.

A window is ``(start, end)`` in the recipient's wall-clock time, start included, end not;
``None`` for a day means no marketing texts at all that day.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Window = tuple[time, time] | None


@dataclass(frozen=True)
class StateRule:
    state: str  # USPS code
    name: str
    weekdays: Window  # Monday to Friday
    saturday: Window
    sunday: Window
    no_holidays: bool  # no marketing texts on the state's legal holidays
    source: str
    zone: str = "America/New_York"  # its main time zone (the text preview's sample contact)

    def window(self, day: date) -> Window:
        if self.no_holidays and is_holiday(day, self.state):
            return None
        return (
            self.weekdays,
            self.weekdays,
            self.weekdays,
            self.weekdays,
            self.weekdays,
            self.saturday,
            self.sunday,
        )[day.weekday()]

    def __str__(self) -> str:
        return f"{self.name}'s sending hours ({self.source})"


def _w(start: int, end: int) -> Window:
    return time(start), time(end)


RULES = {
    rule.state: rule
    for rule in (
        StateRule("FL", "Florida", _w(8, 20), _w(8, 20), _w(8, 20), False,
                  "Fla. Stat. § 501.059(8)(a), Florida Telephone Solicitation Act: 8 a.m. to 8 p.m."),
        StateRule("OK", "Oklahoma", _w(8, 20), _w(8, 20), _w(8, 20), False,
                  "Okla. Stat. tit. 15, § 775C.4, Telephone Solicitation Act of 2022: 8 a.m. to 8 p.m.", zone="America/Chicago"),
        StateRule("MD", "Maryland", _w(8, 20), _w(8, 20), _w(8, 20), False,
                  "Md. Code, Com. Law § 14-4503, Stop the Spam Calls Act of 2023: 8 a.m. to 8 p.m."),
        StateRule("WA", "Washington", _w(8, 20), _w(8, 20), _w(8, 20), False,
                  "RCW 80.36.390(3), telephone solicitation: 8 a.m. to 8 p.m.", zone="America/Los_Angeles"),
        StateRule("CT", "Connecticut", _w(9, 20), _w(9, 20), _w(9, 20), False,
                  "Conn. Gen. Stat. § 42-288a(c), as amended by Public Act 23-98: 9 a.m. to 8 p.m."),
        StateRule("TX", "Texas", _w(9, 21), _w(9, 21), _w(12, 21), False,
                  "Tex. Bus. & Com. Code § 301.051: 9 a.m. to 9 p.m., Sundays noon to 9 p.m.", zone="America/Chicago"),
        StateRule("LA", "Louisiana", _w(8, 20), _w(8, 20), None, True,
                  "La. R.S. 45:844.11 et seq., Telephone Solicitation Relief Act: 8 a.m. to 8 p.m., "
                  "never on Sundays or legal holidays.", zone="America/Chicago"),
        StateRule("AL", "Alabama", _w(8, 20), _w(8, 20), None, True,
                  "Ala. Code § 8-19A-1 et seq., Telephone Solicitations Act: 8 a.m. to 8 p.m., "
                  "never on Sundays or state holidays.", zone="America/Chicago"),
        StateRule("MS", "Mississippi", _w(8, 20), _w(8, 20), None, False,
                  "Miss. Code § 77-3-701 et seq., Telephone Solicitation Act: 8 a.m. to 8 p.m., never on Sundays.", zone="America/Chicago"),
        StateRule("UT", "Utah", _w(8, 21), _w(8, 21), None, True,
                  "Utah Code Title 13, Chapter 25a, Telephone Fraud Prevention Act: 8 a.m. to 9 p.m., "
                  "never on Sundays or legal holidays.", zone="America/Denver"),
        StateRule("RI", "Rhode Island", _w(9, 18), _w(10, 17), None, True,
                  "R.I. Gen. Laws Chapter 5-61, Telephone Sales Solicitation Act: weekdays 9 a.m. to 6 p.m., "
                  "Saturdays 10 a.m. to 5 p.m., "
                  "never on Sundays or holidays."),
        StateRule("KY", "Kentucky", _w(10, 21), _w(10, 21), _w(10, 21), False,
                  "KRS 367.46951 et seq., telephone solicitation: 10 a.m. to 9 p.m."),
    )
}  # fmt: skip

STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS",
    "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA",
    "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT",
    "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM",
    "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK",
    "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC",
    "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT",
    "Virginia": "VA", "Washington": "WA", "Washington State": "WA", "West Virginia": "WV",
    "Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC", "District of Columbia": "DC",
}  # fmt: skip
CODES = frozenset(STATES.values())


def state_of(description: str) -> str | None:
    """The USPS code in a place as phonenumbers' geocoder names it: "Florida" → FL,
    "New York, NY" → NY, "Washington State" → WA; None when it is no US state."""
    description = (description or "").strip()
    if description in STATES:
        return STATES[description]
    _, _, tail = description.rpartition(", ")
    return tail if tail in CODES else None


@functools.cache
def _holidays(state: str, year: int):
    import holidays

    return holidays.US(subdiv=state, years=year)


def is_holiday(day: date, state: str) -> bool:
    return day in _holidays(state, day.year)


def state_hours_release_at(*, now: datetime, tz_name: str, state: str | None) -> datetime | None:
    """When a marketing text may go to a contact in `state` whose time zone is `tz_name`,
    if not at `now` (aware): the first allowed minute of the state's hours, skipping days
    it forbids; None when it may go now or the state sets no hours of its own."""
    rule = RULES.get(state or "")
    if rule is None:
        return None
    zone = ZoneInfo(tz_name)
    local = now.astimezone(zone)
    for offset in range(0, 15):  # a week and a holiday or two at most
        day = local.date() + timedelta(days=offset)
        window = rule.window(day)
        if window is None:
            continue
        start = _at(day, window[0], zone)
        end = _at(day, window[1], zone)
        if offset == 0 and start <= now < end:
            return None
        if now < start:
            return start
    raise AssertionError(f"{rule.state}: no allowed minute within two weeks")  # pragma: no cover


def sending_hours_release_at(
    *, now: datetime, tz_name: str, quiet_window: str, state: str | None
) -> tuple[datetime, list[str]]:
    """The first minute from `now` that is outside quiet hours (`quiet_window`, see
    messaging.quiet_hours) and inside the hours of `state`, in `tz_name`; and the reasons it
    is later than `now` (none: it may go now)."""
    from messaging.quiet_hours import quiet_hours_release_at

    rules = [
        (
            f"quiet hours ({quiet_window}, the contact's time)",
            lambda t: quiet_hours_release_at(now=t, tz_name=tz_name, window=quiet_window),
        )
    ]
    if state in RULES:
        rules.append(
            (str(RULES[state]), lambda t: state_hours_release_at(now=t, tz_name=tz_name, state=state))
        )
    at, reasons = now, []
    for _ in range(4):  # each moves the time later; a few rounds find a minute both allow
        moved = False
        for reason, release_at in rules:
            release = release_at(at)
            if release is not None:
                at, moved = release, True
                if reason not in reasons:
                    reasons.append(reason)
        if not moved:
            break
    return at, reasons


def _at(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The first instant whose wall-clock time in `zone` is `at` on `day` (the hours these
    rules name never fall in a DST gap, which is at 2 a.m.)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
