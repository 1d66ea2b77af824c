"""The contacts app's own admin pages: the consent log and contact imports. The contact's
own page (with its enrollments, goals and messages) shows several apps' data, so it lives
in the highest of them: automation/admin_contacts.py."""

from django.contrib import admin
from django.utils.html import format_html_join

from contacts.models import ConsentEvent, ContactImport
from smsjourney.admin_mixins import ReadOnlyAdminMixin, test_contacts_filter


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["occurred_at", "contact", "kind", "source", "detail", "actor"]
    list_filter = [test_contacts_filter("contact__is_test"), "kind", "source", "occurred_at"]
    list_select_related = ["contact", "actor"]
    search_fields = ["contact__phone", "detail"]
    date_hierarchy = "occurred_at"
    fields = ["occurred_at", "contact", "kind", "source", "detail", "actor"]


@admin.register(ContactImport)
class ContactImportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Imports of contact files and their progress (started from the contacts list)."""

    list_display = [
        "id",
        "file_name",
        "status",
        "progress",
        "total",
        "created",
        "updated",
        "created_by",
        "created_at",
    ]
    list_filter = ["status"]
    list_select_related = ["created_by"]
    fields = [
        "file_name", "file_format", "status", "progress", "total", "created", "updated", "unchanged",
        "problem_list", "created_by", "created_at", "finished_at",
    ]  # fmt: skip

    @admin.display(description="Progress")
    def progress(self, obj: ContactImport) -> str:
        return f"{obj.percent}%"

    @admin.display(description="Problems")
    def problem_list(self, obj: ContactImport) -> str:
        if not obj.problems:
            return "—"
        return format_html_join("", "<div>{}</div>", ((p,) for p in obj.problems))
