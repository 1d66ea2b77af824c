"""Quiet hours: the pure window function, no database."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from messaging.quiet_hours import (
    quiet_hours_parse,
    quiet_hours_recipient_zone,
    quiet_hours_release_at,
)

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def local(tz, *args, fold=0):
    return datetime(*args, tzinfo=tz, fold=fold)


def release(now, tz="America/New_York", window="21:00-08:00"):
    return quiet_hours_release_at(now=now, tz_name=tz, window=window)


@pytest.mark.parametrize(
    ("hour", "minute", "expected_day", "held"),
    [
        (20, 59, None, False),  # just before the window
        (21, 0, 16, True),  # the start is inside
        (23, 30, 16, True),  # evening: released tomorrow morning
        (0, 0, 15, True),  # midnight: released this morning
        (3, 0, 15, True),
        (7, 59, 15, True),
        (8, 0, None, False),  # the end is outside
        (12, 0, None, False),
    ],
)
def test_a_window_across_midnight_holds_what_falls_in_it_until_08_00(hour, minute, expected_day, held):
    now = local(NY, 2026, 6, 15, hour, minute)
    result = release(now)
    if not held:
        assert result is None
    else:
        assert result == local(NY, 2026, 6, expected_day, 8, 0).astimezone(UTC)
        assert result.tzinfo == UTC


@pytest.mark.parametrize(
    ("hour", "minute", "held"),
    [
        (12, 59, False),
        (13, 0, True),
        (13, 30, True),
        (13, 59, True),
        (14, 0, False),
        (22, 0, False),
        (3, 0, False),
    ],
)
def test_window_within_one_day(hour, minute, held):
    now = local(LONDON, 2026, 1, 10, hour, minute)
    result = release(now, tz="Europe/London", window="13:00-14:00")
    assert result == (local(LONDON, 2026, 1, 10, 14, 0).astimezone(UTC) if held else None)


def test_release_is_in_the_recipients_zone_not_the_servers():
    now = datetime(2026, 6, 15, 7, 0, tzinfo=UTC)  # 03:00 in New York, 08:00 in London, 16:00 in Tokyo
    assert release(now, tz="America/New_York") == datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    assert release(now, tz="Europe/London") is None
    assert release(now, tz="Asia/Tokyo") is None
    assert release(datetime(2026, 6, 15, 13, 0, tzinfo=UTC), tz="Asia/Tokyo") == datetime(
        2026, 6, 15, 23, 0, tzinfo=UTC
    )  # 22:00 in Tokyo → 08:00 there


def test_now_in_any_offset_gives_the_same_answer():
    in_utc = datetime(2026, 6, 15, 7, 0, tzinfo=UTC)
    assert release(in_utc.astimezone(ZoneInfo("Asia/Kolkata"))) == release(in_utc)


def test_spring_forward_night_releases_at_eight_local():
    # 2026-03-08: New York clocks jump 02:00 EST → 03:00 EDT; the night is an hour shorter.
    evening = local(NY, 2026, 3, 7, 22, 0)  # EST
    result = release(evening)
    assert result == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # 08:00 EDT = 12:00 UTC
    assert result.astimezone(NY).hour == 8
    assert result - evening.astimezone(UTC) == timedelta(hours=9)  # not 10: an hour was skipped


def test_fall_back_night_releases_at_eight_local():
    # 2026-11-01: New York clocks go back 02:00 EDT → 01:00 EST; the night is an hour longer.
    evening = local(NY, 2026, 10, 31, 22, 0)  # EDT
    result = release(evening)
    assert result == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)  # 08:00 EST = 13:00 UTC
    assert result.astimezone(NY).hour == 8
    assert result - evening.astimezone(UTC) == timedelta(hours=11)


@pytest.mark.parametrize("fold", [0, 1])
def test_inside_the_repeated_hour_of_fall_back(fold):
    now = local(NY, 2026, 11, 1, 1, 30, fold=fold)  # 01:30 happens twice
    assert release(now) == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)


def test_an_end_skipped_by_spring_forward_releases_when_the_clock_jumps():
    # 02:30 does not exist in New York on 2026-03-08: release at the jump (03:00 EDT).
    now = local(NY, 2026, 3, 8, 1, 30)  # EST
    assert release(now, window="22:00-02:30") == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_an_end_inside_the_repeated_hour_is_its_first_occurrence_then_the_second():
    window = "21:00-01:30"
    first_pass = local(NY, 2026, 11, 1, 1, 15, fold=0)  # EDT
    assert release(first_pass, window=window) == local(NY, 2026, 11, 1, 1, 30, fold=0).astimezone(UTC)
    second_pass = local(NY, 2026, 11, 1, 1, 15, fold=1)  # EST, an hour later
    assert release(second_pass, window=window) == local(NY, 2026, 11, 1, 1, 30, fold=1).astimezone(UTC)


def test_a_sydney_spring_forward_night_still_releases_at_08_00_local():
    # Sydney springs forward on 2026-10-04 at 02:00 → 03:00; quiet night still ends at 08:00.
    sydney = ZoneInfo("Australia/Sydney")
    result = release(local(sydney, 2026, 10, 3, 23, 0), tz="Australia/Sydney")
    assert result.astimezone(sydney) == local(sydney, 2026, 10, 4, 8, 0)


@pytest.mark.parametrize("window", ["", "   "])
def test_an_empty_window_holds_nothing(window):
    assert release(local(NY, 2026, 6, 15, 3, 0), window=window) is None
    assert quiet_hours_parse(window) is None


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("21-08", "HH:MM-HH:MM"),
        ("21:00", "HH:MM-HH:MM"),
        ("9pm-8am", "HH:MM-HH:MM"),
        ("21:00-08:00-09:00", "HH:MM-HH:MM"),
        ("25:00-08:00", "25:00 is not a time of day"),
        ("21:00-08:60", "08:60 is not a time of day"),
        ("08:00-08:00", "same time"),
    ],
)
def test_invalid_window_is_a_clear_value_error(window, message):
    with pytest.raises(ValueError, match=message):
        release(local(NY, 2026, 6, 15, 3, 0), window=window)


def test_parse_tolerates_spaces_and_single_digit_hours():
    assert quiet_hours_parse(" 9:00 - 17:30 ") == (time(9, 0), time(17, 30))


def test_unknown_zone_and_naive_now_are_value_errors():
    with pytest.raises(ValueError, match="not a known time zone"):
        release(local(NY, 2026, 6, 15, 3, 0), tz="Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="aware"):
        release(datetime(2026, 6, 15, 3, 0))


def test_recipient_zone_prefers_contact_then_number_then_site():
    zone = quiet_hours_recipient_zone
    assert zone(contact_tz="Europe/Paris", implied_tz="America/New_York", site_tz="UTC") == "Europe/Paris"
    assert zone(contact_tz="", implied_tz="America/New_York", site_tz="UTC") == "America/New_York"
    assert zone(contact_tz="Not/AZone", implied_tz=None, site_tz="UTC") == "UTC"
