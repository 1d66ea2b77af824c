"""Phone numbers: everything we store is E.164, normalised with `phonenumbers`."""

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError


def phone_normalize(raw: str, *, region: str | None = None) -> str:
    """Return `raw` as E.164 (``+14155550100``) or raise ``ValidationError``.

    Numbers without a ``+country`` prefix are read in `region` (default:
    ``settings.PHONE_DEFAULT_REGION``).
    """
    text = (raw or "").strip()
    if not text:
        raise ValidationError("Enter a phone number.", code="required")
    try:
        number = phonenumbers.parse(text, region or settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            "%(raw)s is not a phone number.", code="invalid", params={"raw": text[:40]}
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            "%(raw)s is not a valid phone number.", code="invalid", params={"raw": text[:40]}
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_place(e164: str) -> str:
    """Where a number's area code is, as phonenumbers' geocoder names it ("Florida",
    "New York, NY"); "" when it does not say."""
    from phonenumbers import geocoder

    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ""
    return geocoder.description_for_number(number, "en")


def phone_timezone(e164: str) -> str | None:
    """The timezone a number implies, when it implies exactly one (else ``None``)."""
    from phonenumbers import timezone as pn_timezone

    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in pn_timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    return zones[0] if len(zones) == 1 else None
