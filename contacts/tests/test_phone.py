"""Phone numbers are stored as E.164; anything else is a validation error, never a crash."""

import pytest
from django.core.exceptions import ValidationError

from contacts.models import Contact
from contacts.phone import phone_normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+12125550123", "+12125550123"),
        ("+1 212 555 0123", "+12125550123"),
        ("+1 (212) 555-0123", "+12125550123"),
        ("  +44 20 7946 0958 ", "+442079460958"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("011 44 20 7946 0958", "+442079460958"),  # the US international call prefix
    ],
)
def test_international_formats_normalise_to_e164(raw, expected):
    assert phone_normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [("(212) 555-0123", "+12125550123"), ("212.555.0123", "+12125550123")]
)
def test_national_format_uses_the_default_region(settings, raw, expected):
    settings.PHONE_DEFAULT_REGION = "US"
    assert phone_normalize(raw) == expected


def test_national_format_in_another_default_region(settings):
    settings.PHONE_DEFAULT_REGION = "GB"
    assert phone_normalize("020 7946 0958") == "+442079460958"
    settings.PHONE_DEFAULT_REGION = "FR"
    assert phone_normalize("06 12 34 56 78") == "+33612345678"


def test_explicit_region_wins_over_the_default(settings):
    settings.PHONE_DEFAULT_REGION = "US"
    assert phone_normalize("020 7946 0958", region="GB") == "+442079460958"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "hello",
        "+",
        "12",
        "+1 212 555 01234567890",  # too long
        "+1 000 000 0000",  # not a valid US number
        "+999 1234567",  # no such country code
        "☎️☎️☎️",
        "x" * 10_000,
        "+1\x00212",
    ],
)
def test_garbage_is_a_validation_error(raw):
    with pytest.raises(ValidationError):
        phone_normalize(raw)


@pytest.mark.django_db
def test_model_clean_normalises_and_reports_on_the_phone_field(settings):
    settings.PHONE_DEFAULT_REGION = "US"
    contact = Contact(phone="(212) 555-0123")
    contact.full_clean()
    assert contact.phone == "+12125550123"
    bad = Contact(phone="not a number")
    with pytest.raises(ValidationError) as exc:
        bad.full_clean()
    assert "phone" in exc.value.message_dict
