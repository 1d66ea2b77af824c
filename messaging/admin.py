from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_POST

from messaging.forms import SmsMessageForm
from messaging.models import OutboundMessage, SmsMessage
from messaging.preview import sample_contact, sms_preview
from messaging.segments import sms_segments
from smsjourney.admin_mixins import ReadOnlyAdminMixin

# A body longer than this is not previewed (an SMS is never near it; keeps the view cheap).
PREVIEW_MAX_CHARS = 5000


@admin.register(SmsMessage)
class SmsMessageAdmin(admin.ModelAdmin):
    form = SmsMessageForm
    change_form_template = "admin/messaging/smsmessage/change_form.html"
    list_display = ["name", "short_body", "encoding", "segments", "state_count", "updated_at"]
    search_fields = ["name", "body"]
    readonly_fields = ["encoding_and_segments"]
    fields = ["name", "body", "encoding_and_segments", "media_url"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(state_count=Count("states"))

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "preview/", self.admin_site.admin_view(self.preview_view), name="{}_{}_preview".format(*info)
            ),
            *super().get_urls(),
        ]

    @staticmethod
    def _stats(obj: SmsMessage):
        result = sms_preview(template=obj.body)
        return sms_segments(result["body"]) if result["ok"] else None

    @admin.display(description="Text")
    def short_body(self, obj: SmsMessage) -> str:
        return obj.body if len(obj.body) <= 60 else obj.body[:59] + "…"

    @admin.display(description="Encoding")
    def encoding(self, obj: SmsMessage) -> str:
        stats = self._stats(obj)
        return stats.encoding_label if stats else "—"

    @admin.display(description="Segments")
    def segments(self, obj: SmsMessage) -> str:
        stats = self._stats(obj)
        return str(stats.segments) if stats else "—"

    @admin.display(description="Used by states", ordering="state_count")
    def state_count(self, obj: SmsMessage) -> int:
        return obj.state_count

    @admin.display(description="Encoding and length")
    def encoding_and_segments(self, obj: SmsMessage | None) -> str:
        if obj is None or not obj.pk:
            return "Shown as you type."
        stats = self._stats(obj)
        if stats is None:
            return "The text does not render."
        return (
            f"{stats.encoding_label}, {stats.units} units, {stats.segments} segment(s) "
            f"(rendered for {sample_contact()})"
        )

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """POST body=<template> → the text rendered for the sample contact, encoding, segments."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        return _preview_response(request)


@require_POST
def _preview_response(request: HttpRequest) -> JsonResponse:
    template = request.POST.get("body", "")
    if len(template) > PREVIEW_MAX_CHARS:
        return JsonResponse(
            {"ok": False, "error": f"The text is longer than {PREVIEW_MAX_CHARS} characters."}
        )
    return JsonResponse(sms_preview(template=template))


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "to_number",
        "contact",
        "purpose",
        "status",
        "attempts",
        "sent_at",
        "error_code",
        "provider_sid",
    ]
    list_filter = ["status", "purpose", "answers_contact", "created_at"]
    list_select_related = ["contact", "interaction"]
    search_fields = ["to_number", "contact__phone", "interaction__provider_sid", "interaction__body"]
    date_hierarchy = "created_at"
    fields = [
        "interaction",
        "body",
        "contact",
        "enrollment",
        "state",
        "sms_message",
        "purpose",
        "to_number",
        "from_number",
        "media_url",
        "answers_contact",
        "status",
        "send_after",
        "attempts",
        "error_code",
        "error_message",
        "created_at",
        "sent_at",
        "status_updated_at",
    ]

    @admin.display(description="Provider SID", ordering="interaction__provider_sid")
    def provider_sid(self, obj: OutboundMessage) -> str:
        return obj.interaction.provider_sid or "—"

    @admin.display(description="Body")
    def body(self, obj: OutboundMessage) -> str:
        return obj.interaction.body
