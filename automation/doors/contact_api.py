"""The read-only Contact API (docs/reference.md §3): thin DRF views with nested serializers.

- ``GET /api/contacts/?phone=<E.164>`` — contacts (paginated ``{"count", "next",
  "previous", "results"}``), each with its enrollments and goals, oldest first.
- ``GET /api/contacts/<id>/`` — one contact, same shape.
- ``GET /api/contacts/<id>/messages/`` — the contact's messages, oldest first, 200 a page
  (``{"count", "next", "previous", "results"}``), with addresses, status, error code, media.

Auth: ``Authorization: Token <key>``; no or bad token → 401, a user without
``contacts.view_contact`` → 403. Simulator contacts (``is_test``) are never shown.

The ``phone`` filter is normalised like every stored number (``phone_normalize``):
``%2B14155550100``, ``(415) 555-0100`` and a ``+`` decoded to a space all find
``+14155550100``. A syntactically E.164 number that is not a valid one (``+15551234567``)
is looked up as written (so: an empty list); anything else that is no phone number → 400
``{"phone": ["… is not a phone number."]}``. An empty ``?phone=`` is no filter.
"""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.response import Response
from rest_framework.views import APIView

from automation.engine.revisions import revision_flows, step_name
from automation.models import Enrollment
from contacts.models import Contact
from contacts.phone import phone_normalize
from tracking.models import GoalConversion, Interaction, TrackedLink

_E164 = re.compile(r"^\+[1-9]\d{5,14}$")


class ContactViewPermission(DjangoModelPermissions):
    """Django model permissions where reading needs the model's ``view`` permission
    (DRF's default maps GET to no permission at all)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }


def contact_api_queryset() -> QuerySet[Contact]:
    """Contacts shown by the API with everything the output needs, in a fixed number of
    queries per page: one for the contacts, one for their enrollments, one for their goals."""
    return (
        Contact.objects.filter(is_test=False)
        .prefetch_related(
            Prefetch(
                "enrollments",
                queryset=Enrollment.objects.select_related("plan", "revision").order_by("enrolled_at", "id"),
            ),
            Prefetch(
                "goal_conversions",
                queryset=GoalConversion.objects.select_related("goal").order_by("occurred_at", "id"),
            ),
        )
        .order_by("id")
    )


def contacts_flows_load(contacts) -> None:
    """Read the revisions the contacts' enrollments are on in one query (cached after)."""
    revision_flows({e.revision_id for contact in contacts for e in contact.enrollments.all()})


def phone_filter_value(raw: str) -> str:
    """The E.164 number to look for, from a ``phone`` query parameter. Raises ValidationError."""
    text = raw.strip()
    if raw[:1] == " " and text.isdigit():
        # An unencoded "+" arrives as a space: "?phone=+4477…" means "+4477…".
        text = "+" + text
    try:
        return phone_normalize(text)
    except ValidationError:
        if _E164.match(text):
            return text  # well-formed but not a valid number: no contact can have it
        raise


class BaseContactApi(APIView):
    permission_classes = [ContactViewPermission]
    queryset = Contact.objects.none()  # names the model for ContactViewPermission


class ContactOutputSerializer(serializers.Serializer):
    class EnrollmentSerializer(serializers.Serializer):
        plan = serializers.CharField(source="plan.slug")
        revision = serializers.IntegerField(source="revision.number")
        state = serializers.SerializerMethodField()
        step = serializers.CharField(source="step_id")
        status = serializers.CharField()
        enrolled_at = serializers.DateTimeField()
        expires_at = serializers.DateTimeField()
        branches = serializers.JSONField()

        def get_state(self, enrollment) -> str:
            return step_name(revision_id=enrollment.revision_id, step_id=enrollment.step_id)

    class GoalSerializer(serializers.Serializer):
        goal = serializers.CharField(source="goal.name")
        occurred_at = serializers.DateTimeField()

    id = serializers.IntegerField()
    phone = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.CharField()
    attributes = serializers.JSONField()
    opted_out = serializers.BooleanField()
    consent = serializers.CharField()  # opted_in | opted_out | none (docs/reference.md §3, §5)
    engagement_value = serializers.IntegerField()
    enrollments = EnrollmentSerializer(many=True)
    goals = GoalSerializer(many=True, source="goal_conversions")


class ContactListApi(BaseContactApi):
    class FilterSerializer(serializers.Serializer):
        phone = serializers.CharField(required=False, trim_whitespace=False, max_length=64)

        def validate_phone(self, value: str) -> str:
            try:
                return phone_filter_value(value)
            except ValidationError as exc:
                raise serializers.ValidationError(exc.messages) from exc

    OutputSerializer = ContactOutputSerializer

    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)

        contacts = contact_api_queryset()
        if "phone" in filters.validated_data:
            contacts = contacts.filter(phone=filters.validated_data["phone"])

        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(contacts, request, view=self)
        contacts_flows_load(page)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class ContactDetailApi(BaseContactApi):
    OutputSerializer = ContactOutputSerializer

    def get(self, request, contact_id: int):
        contact = get_object_or_404(contact_api_queryset(), pk=contact_id)
        contacts_flows_load([contact])
        return Response(self.OutputSerializer(contact).data)


class MessagesPagination(PageNumberPagination):
    page_size = 200  # docs/reference.md §3: at most 200 a page


class ContactMessagesApi(BaseContactApi):
    class OutputSerializer(serializers.Serializer):
        direction = serializers.CharField()
        channel = serializers.CharField()
        body = serializers.CharField()
        sid = serializers.SerializerMethodField()
        status = serializers.SerializerMethodField()
        error_code = serializers.SerializerMethodField()
        media = serializers.SerializerMethodField()
        links = serializers.SerializerMethodField()
        created_at = serializers.DateTimeField()

        def to_representation(self, interaction: Interaction) -> dict:
            data = super().to_representation(interaction)
            # "from" is a Python keyword: the two addresses are added here.
            return {**data, "from": interaction.from_address, "to": interaction.to_address}

        def get_sid(self, interaction: Interaction) -> str | None:
            # Twilio's MessageSid; for an event (docs/reference.md §7), its event_id.
            return interaction.provider_sid or interaction.event_id

        def get_status(self, interaction: Interaction) -> str | None:
            if interaction.direction == Interaction.Direction.INBOUND:
                return "received"
            outbound = getattr(interaction, "outbound", None)
            return outbound.status if outbound is not None else None

        def get_error_code(self, interaction: Interaction) -> int | None:
            outbound = getattr(interaction, "outbound", None)
            code = outbound.error_code if outbound is not None else ""
            return int(code) if code.isascii() and code.isdigit() else None

        def get_media(self, interaction: Interaction) -> list[dict]:
            return [
                {"url": str(item.get("url", "")), "content_type": str(item.get("content_type", ""))}
                for item in interaction.media or []
                if isinstance(item, dict)
            ]

        def get_links(self, interaction: Interaction) -> list[dict]:
            # Tracked links (docs/reference.md §7) of an outbound message, in the order they were made.
            base = settings.PUBLIC_BASE_URL.rstrip("/")
            return [
                {"url": link.url, "short_url": f"{base}/l/{link.code}", "clicks": link.clicks}
                for link in interaction.links.all()
            ]

    def get(self, request, contact_id: int):
        contact = get_object_or_404(Contact.objects.filter(is_test=False), pk=contact_id)
        interactions = (
            Interaction.objects.filter(contact=contact)
            .select_related("outbound")
            .prefetch_related(Prefetch("links", queryset=TrackedLink.objects.order_by("id")))
            .order_by("created_at", "id")
        )
        paginator = MessagesPagination()
        page = paginator.paginate_queryset(interactions, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
