"""The contacts app's own admin pages: the consent log and contact imports. The contact's
own page (with its enrollments, goals and messages) shows several apps' data, so it lives
in the highest of them: automation/cockpit/contacts_admin.py."""

import csv

from django.contrib import admin
from django.http import StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html_join

from contacts.models import ConsentEvent, ContactImport
from contacts.resources import formula_escape
from contacts.selectors import CONSENT_COLUMNS, consent_log_rows
from infra.admin_mixins import ReadOnlyAdminMixin, test_contacts_filter


class _Echo:
    def write(self, value):
        return value


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    change_list_template = "admin/contacts/consentevent/change_list.html"
    list_display = ["occurred_at", "contact", "kind", "source", "rule", "text", "detail", "by"]
    list_filter = [test_contacts_filter("contact__is_test"), "kind", "source", "occurred_at"]
    list_select_related = ["contact", "actor"]
    search_fields = ["contact__phone", "detail", "text"]
    date_hierarchy = "occurred_at"
    fields = ["occurred_at", "contact", "kind", "source", "rule", "text", "detail", "by"]
    readonly_fields = fields

    @admin.display(description="By", ordering="actor_name")
    def by(self, obj: ConsentEvent) -> str:
        """The person who recorded it, by the name kept with the change."""
        return obj.actor_name or (obj.actor.get_username() if obj.actor else "")

    def get_urls(self):
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="contacts_consentevent_export",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request):
        """The whole consent log as CSV, for an audit (streamed: any length)."""
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        writer = csv.writer(_Echo())
        # Every cell a spreadsheet could run is defused, as in the contacts export; the phone
        # (E.164: a number to a spreadsheet) is written as it is, as there.
        rows = (
            writer.writerow([v if i == 1 else formula_escape(v) for i, v in enumerate(row)])
            for row in consent_log_rows()
        )
        response = StreamingHttpResponse(
            (line for chunk in ([writer.writerow(CONSENT_COLUMNS)], rows) for line in chunk),
            content_type="text/csv; charset=utf-8",
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="consent-log-{stamp}.csv"'
        return response


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
