from django.contrib import admin

from infra.admin_mixins import ReadOnlyAdminMixin, test_contacts_filter
from messaging.models import OutboundMessage


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
    list_filter = [
        test_contacts_filter("contact__is_test"),
        "status",
        "purpose",
        "answers_contact",
        "created_at",
    ]
    list_select_related = ["contact", "interaction"]
    search_fields = ["to_number", "contact__phone", "interaction__provider_sid", "interaction__body"]
    date_hierarchy = "created_at"
    fields = [
        "interaction",
        "body",
        "contact",
        "enrollment",
        "step_id",
        "purpose",
        "to_number",
        "from_number",
        "media_urls",
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
