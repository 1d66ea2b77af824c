from django import forms
from django.contrib import admin

from infra.admin_mixins import ReadOnlyAdminMixin, test_contacts_filter
from messaging.models import OutboundMessage, Sender
from messaging.senders import sender_address_kind, sender_cache_clear, sender_problem


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "created_at",
        "to_number",
        "from_number",
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
        "sender",
        "content_sid",
        "content_variables",
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


class SenderForm(forms.ModelForm):
    class Meta:
        model = Sender
        fields = ["address", "name", "messaging_service_sid", "mps"]

    def clean(self):
        cleaned = super().clean()
        cleaned["address"] = (cleaned.get("address") or "").strip()
        problem = sender_problem(
            address=cleaned["address"],
            mps=cleaned.get("mps"),
            messaging_service_sid=cleaned.get("messaging_service_sid") or "",
        )
        if problem:
            raise forms.ValidationError(problem)
        self.instance.kind = sender_address_kind(cleaned["address"])
        return cleaned


@admin.register(Sender)
class SenderAdmin(admin.ModelAdmin):
    """The addresses messages go from (docs/reference.md §8); `sender_set` does the same."""

    form = SenderForm
    list_display = ["address", "name", "kind", "mps", "messaging_service_sid", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["address", "name"]
    readonly_fields = ["kind", "created_at", "updated_at"]
    fields = ["address", "name", "kind", "messaging_service_sid", "mps", "created_at", "updated_at"]

    # This process forgets what it read of senders at once; the others within seconds
    # (messaging.senders.SENDER_CACHE_SECONDS).
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        sender_cache_clear()

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        sender_cache_clear()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        sender_cache_clear()

    # Senders are the operator's (docs/reference.md §8): only superusers add, change or delete
    # them; Marketers see them, read-only (automation 0021), beside the sending queue.
    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
