"""Twilio-shaped traffic for the benches: inbound payloads, signatures, valid numbers."""

from __future__ import annotations

import itertools
from urllib.parse import urlencode

from bench.common import (
    BENCH_ACCOUNT_SID,
    BENCH_AUTH_TOKEN,
    BENCH_FROM_NUMBER,
    BENCH_PUBLIC_BASE_URL,
    build_request,
)

_sids = itertools.count(1)


def payload(phone: str, body: str) -> dict[str, str]:
    """An inbound SMS as Twilio posts it (shared/fixtures/twilio/inbound_sms.json)."""
    sid = f"SM{next(_sids):032x}"
    return {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "SAN FRANCISCO",
        "FromZip": "10001",
        "SmsSid": sid,
        "FromState": "NY",
        "SmsStatus": "received",
        "Body": body,
        "FromCountry": "US",
        "To": BENCH_FROM_NUMBER,
        "ToZip": "94105",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": BENCH_ACCOUNT_SID,
        "From": phone,
        "ApiVersion": "2010-04-01",
    }


class Signer:
    def __init__(self) -> None:
        from twilio.request_validator import RequestValidator

        self.validator = RequestValidator(BENCH_AUTH_TOKEN)

    def __call__(self, path: str, params: dict) -> str:
        return self.validator.compute_signature(BENCH_PUBLIC_BASE_URL + path, params)


def signed_post(port: int, path: str, params: dict, signature: str) -> bytes:
    return build_request(
        "POST",
        path,
        port=port,
        body=urlencode(params).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )


def phone_numbers(area_codes: list[str]):
    """Distinct valid US numbers (phonenumbers-valid, so the webhook accepts them)."""
    import phonenumbers

    for area in area_codes:
        for exchange in range(201, 1000):
            if exchange % 100 == 11 or exchange == 555:
                continue
            for line in range(0, 10000, 7):
                e164 = f"+1{area}{exchange}{line:04d}"
                if phonenumbers.is_valid_number(phonenumbers.parse(e164)):
                    yield e164
