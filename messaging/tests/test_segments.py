"""GSM-7 / UCS-2 encoding and segment counting (pure, no database)."""

import pytest

from messaging.segments import GSM7, GSM7_BASIC, GSM7_EXTENSION, UCS2, is_gsm7, sms_segments


def test_empty_text_is_no_segment():
    info = sms_segments("")
    assert (info.encoding, info.units, info.segments) == (GSM7, 0, 0)


def test_plain_text_is_gsm7_one_segment():
    info = sms_segments("Hi! Reply QUOTE to get your exclusive discount.")
    assert (info.encoding, info.units, info.segments, info.per_segment) == (GSM7, 47, 1, 160)
    assert info.encoding_label == "GSM-7"


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_gsm7_segments_hold_160_alone_and_153_when_split(length, segments):
    info = sms_segments("a" * length)
    assert (info.units, info.segments) == (length, segments)
    assert info.per_segment == (160 if segments == 1 else 153)


@pytest.mark.parametrize(("length", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
def test_ucs2_segments_hold_70_alone_and_67_when_split(length, segments):
    info = sms_segments("ж" * length)
    assert (info.encoding, info.units, info.segments) == (UCS2, length, segments)
    assert info.per_segment == (70 if segments == 1 else 67)


@pytest.mark.parametrize("ch", sorted(GSM7_EXTENSION))
def test_extension_characters_count_two(ch):
    info = sms_segments(ch)
    assert (info.encoding, info.units) == (GSM7, 2)


def test_extension_characters_push_past_a_single_segment():
    assert sms_segments("a" * 158 + "€").segments == 1  # 160 septets
    assert sms_segments("a" * 159 + "€").segments == 2  # 161 septets


def test_an_escaped_character_is_never_split_across_segments():
    # 152 septets, then "€" (2): it does not fit in the first segment's last septet.
    info = sms_segments("a" * 152 + "€" + "a" * 152)
    assert info.units == 306
    assert info.segments == 3  # 152 | 2+151 | 1 — not 2, because "€" moves whole


def test_gsm7_accents_and_greek_stay_gsm7():
    info = sms_segments("Café à Århus: ΔΦΓΛΩ ¿Qué? ¡Ja! ñ ü ø @ £ $ ¥ § _")
    assert info.encoding == GSM7
    assert all(ch in GSM7_BASIC for ch in "ÉéèùìòÇØøÅåÆæßÄÖÑÜäöñüà")


@pytest.mark.parametrize(
    "text",
    [
        "Hi 😀",
        "Curly \u2019quotes\u2019",
        "ç lower-case c cedilla",
        "Ä — em dash",
        "Tab\there",
        "S\u00ed (i acute is not GSM-7)",
    ],
)
def test_non_gsm_characters_switch_to_ucs2(text):
    info = sms_segments(text)
    assert info.encoding == UCS2
    assert not is_gsm7(text)
    assert info.non_gsm_chars


def test_non_gsm_chars_are_listed_once_in_order():
    assert sms_segments("\u2019a\u2019😀").non_gsm_chars == ("\u2019", "😀")


def test_emoji_outside_the_bmp_take_two_units():
    info = sms_segments("😀" * 35)
    assert (info.units, info.segments) == (70, 1)
    info = sms_segments("😀" * 36)
    assert (info.units, info.segments) == (72, 2)


def test_a_surrogate_pair_is_never_split():
    # 66 units then an emoji (2): it cannot take the 67th unit alone.
    info = sms_segments("ж" * 66 + "😀" + "ж" * 66)
    assert info.units == 134
    assert info.segments == 3


def test_as_dict_for_the_admin_preview():
    assert sms_segments("Hi \u2019").as_dict() == {
        "encoding": "ucs2",
        "encoding_label": "UCS-2",
        "units": 4,
        "segments": 1,
        "per_segment": 70,
        "non_gsm_chars": ["\u2019"],
    }
