"""``POST /api/events/`` (docs/reference.md §7): something a contact did elsewhere, told by another
system (a shop's purchase). A thin door over ``automation.engine.events.event_receive``;
it lives here, at the top, because an event moves journeys.

- 201 ``{"id", "contact", "duplicate": false, "enrolled": [plan slugs]}``. An ``event_id``
  is unique per API user: the same one from the same user again: 200 with
  ``"duplicate": true`` and nothing changes; for another phone: 409
  ``{"errors": {"event_id": [...]}}``, nothing changes; from another user: a new event.
- Bad JSON or fields: 400 ``{"errors": {field: [messages]}}``, nothing stored. Unknown
  keys are refused by name (a misspelt ``opt_in`` must not pass for no consent). The body
  is read up to MAX_BODY bytes and parsed strictly (``infra.strict_json``: no NaN,
  bounded nesting, no NUL character or lone surrogate in any text, keys included).
- Auth: ``Authorization: Token <key>``; no or bad token → 401; a user without
  ``tracking.add_interaction`` → 403.
"""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from automation.engine.events import EventIdTaken, event_receive
from contacts.phone import phone_normalize
from infra.strict_json import JsonRefused, json_refusals, json_strict_parse
from tracking.models import EVENT_TYPE, Interaction
from tracking.services import EventIn

MAX_BODY = 64 * 1024  # an event is a few hundred bytes; its data a small object
# A shop's clock may run a little ahead of ours; an event further in the future is an error.
FUTURE_SKEW = timedelta(minutes=5)


class EventJsonParser(BaseParser):
    """The body as JSON whatever its Content-Type says (a form post is bad JSON: 400, not
    415), at most MAX_BODY bytes, parsed strictly (NaN and Infinity are not JSON; nesting
    too deep for the parser is an error like any other)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read(MAX_BODY + 1) if stream is not None else b""
        if len(raw) > MAX_BODY:
            raise ParseError(f"The body is larger than {MAX_BODY // 1024} KB.")
        try:
            return json_strict_parse(raw)
        except JsonRefused as exc:
            raise ParseError(f"The body is not JSON: {exc}") from exc


class MoneyField(serializers.DecimalField):
    """A number rounded to cents (a shop's 0.1 + 0.2 is 0.30), at most 12 digits before the
    point."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=14, decimal_places=2, **kwargs)

    def validate_precision(self, value: Decimal) -> Decimal:
        try:
            value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            self.fail("max_digits", max_digits=self.max_digits)
        return super().validate_precision(value)


class EventInputSerializer(serializers.Serializer):
    event_id = serializers.CharField(min_length=1, max_length=100)
    phone = serializers.CharField(max_length=64)
    type = serializers.CharField(max_length=50)
    value = MoneyField(required=False, allow_null=True)
    data = serializers.JSONField(required=False)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    opt_in = serializers.BooleanField(required=False, default=False)

    def validate_event_id(self, value: str) -> str:
        if any(ord(c) < 32 for c in value):
            raise serializers.ValidationError("Control characters are not allowed.")
        return value

    def validate_phone(self, value: str) -> str:
        if not value.startswith("+"):
            raise serializers.ValidationError(f"{value!r} is not an E.164 number (+ and the country code).")
        try:
            return phone_normalize(value, region=None)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def validate_type(self, value: str) -> str:
        if not EVENT_TYPE.fullmatch(value):
            raise serializers.ValidationError(
                "Use 1 to 50 lower-case letters, digits, '_', '.' or '-' (e.g. purchase)."
            )
        return value

    def validate_data(self, value):
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value

    def validate_occurred_at(self, value):
        if value is not None and value > timezone.now() + FUTURE_SKEW:
            raise serializers.ValidationError(
                "Is in the future (more than 5 minutes ahead of this server's clock); omit it for now."
            )
        return value

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {key: ["Unknown field (allowed: " + ", ".join(self.fields) + ")."] for key in unknown[:20]}
            )
        return attrs


class EventCreateApi(APIView):
    permission_classes = [DjangoModelPermissions]  # POST: tracking.add_interaction
    parser_classes = [EventJsonParser]
    queryset = Interaction.objects.none()  # names the model for the permission

    def post(self, request):
        try:
            payload = request.data
        except ParseError as exc:
            return _errors({api_settings.NON_FIELD_ERRORS_KEY: [str(exc.detail)]})
        refused = _refusals(payload)
        if refused:
            return _errors(refused)
        serializer = EventInputSerializer(data=payload)
        if not serializer.is_valid():
            return _errors(serializer.errors)
        data = serializer.validated_data
        try:
            received = event_receive(
                event=EventIn(
                    event_id=data["event_id"],
                    phone=data["phone"],
                    type=data["type"],
                    value=data.get("value"),
                    data=data.get("data") or {},
                    occurred_at=data.get("occurred_at") or timezone.now(),
                    opt_in=data["opt_in"],
                    posted_by_id=request.user.pk,
                )
            )
        except EventIdTaken as exc:
            return Response({"errors": {"event_id": [str(exc)]}}, status=status.HTTP_409_CONFLICT)
        return Response(
            {
                "id": received.interaction_id,
                "contact": received.contact_id,
                "duplicate": received.duplicate,
                "enrolled": received.enrolled,
            },
            status=status.HTTP_200_OK if received.duplicate else status.HTTP_201_CREATED,
        )


def _refusals(payload) -> dict[str, list[str]]:
    """What the body holds that it may not, by the field it is in: text with a NUL character
    or a lone surrogate (PostgreSQL stores neither; keys too), nesting too deep."""
    errors: dict[str, list[str]] = {}
    for path, reason in json_refusals(payload):
        field = path[0] if path and isinstance(payload, dict) else api_settings.NON_FIELD_ERRORS_KEY
        where = "".join(f"[{p!r}]" for p in path[1:])
        errors.setdefault(str(field)[:100], []).append(f"{where}: {reason}" if where else reason)
    return errors


def _errors(errors) -> Response:
    return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
