"""SMS encoding and segment count: pure functions, no Django.

A message that fits the GSM 03.38 7-bit alphabet (basic table, plus the extension table
whose characters take two septets: an escape and the character) is sent as GSM-7:
160 septets in one message, 153 per segment once it is split (7 go to the concatenation
header). Anything else is sent as UCS-2 (UTF-16 on the wire): 70 code units in one
message, 67 per segment; a character outside the Basic Multilingual Plane (most emoji)
takes two code units. A character is never split across two segments.
"""

from dataclasses import dataclass

GSM7 = "gsm7"
UCS2 = "ucs2"

# GSM 03.38 basic character set (the escape 0x1B is not a character of its own).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# GSM 03.38 extension table: each costs two septets (escape + character).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

_LIMITS = {
    # encoding: (units in a single message, units per segment of a split message)
    GSM7: (160, 153),
    UCS2: (70, 67),
}


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # the limit that applies to this message (160/153 or 70/67)
    non_gsm_chars: tuple[str, ...]  # the characters that forced UCS-2, in order of appearance

    @property
    def encoding_label(self) -> str:
        return "GSM-7" if self.encoding == GSM7 else "UCS-2"

    def as_dict(self) -> dict:
        return {
            "encoding": self.encoding,
            "encoding_label": self.encoding_label,
            "units": self.units,
            "segments": self.segments,
            "per_segment": self.per_segment,
            "non_gsm_chars": list(self.non_gsm_chars),
        }


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _char_units(ch: str, encoding: str) -> int:
    if encoding == GSM7:
        return 2 if ch in GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1


def sms_segments(text: str) -> SegmentInfo:
    """Encoding, length in units and number of segments of `text` as an SMS."""
    text = text or ""
    non_gsm: list[str] = []
    for ch in text:
        if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION and ch not in non_gsm:
            non_gsm.append(ch)
    encoding = UCS2 if non_gsm else GSM7
    single, per_segment = _LIMITS[encoding]
    units = [_char_units(ch, encoding) for ch in text]
    total = sum(units)
    if total == 0:
        return SegmentInfo(encoding, 0, 0, single, tuple(non_gsm))
    if total <= single:
        return SegmentInfo(encoding, total, 1, single, tuple(non_gsm))
    # Split: fill each segment greedily without cutting a character in two.
    segments, used = 1, 0
    for size in units:
        if used + size > per_segment:
            segments += 1
            used = 0
        used += size
    return SegmentInfo(encoding, total, segments, per_segment, tuple(non_gsm))


def message_segments(*, body: str, media: bool, channel: str) -> int:
    """What one message costs its sender's limit (docs/reference.md §8): its SMS segments;
    an MMS or a WhatsApp message counts 1."""
    return 1 if media or channel == "whatsapp" else max(sms_segments(body).segments, 1)
