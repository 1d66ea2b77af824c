"""The marketer's cockpit on the contact admin: export (django-import-export), import in the
background with progress (contacts.imports), the contact's page (who they are and their
timeline, automation.cockpit.contact_view; the admin's form at `<id>/edit/`), and the
"Enroll in a plan…" bulk action.

`ContactCockpitMixin` is mixed into `automation.cockpit.contacts_admin.ContactAdmin` (first among its bases).
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR, TO_FIELD_VAR
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from import_export.admin import ExportMixin

from automation.cockpit.contact_view import contact_attributes, contact_consent, contact_journeys
from automation.cockpit.send_estimates import plans_send_estimates
from automation.cockpit.timeline import contact_timeline
from automation.engine.bulk import bulk_enrollment_create
from automation.models import Plan
from contacts.import_files import FORMATS
from contacts.imports import contact_import_create, file_too_large
from contacts.resources import ContactResource
from infra.uploads import size_label, upload_limit

# The bulk enrollment page estimates the sending time of at most this many active plans.
MAX_ESTIMATES = 50


class BulkEnrollForm(forms.Form):
    plan = forms.ModelChoiceField(
        queryset=Plan.objects.filter(status=Plan.Status.ACTIVE).order_by("name"),
        empty_label="Choose an active plan",
        help_text="Opted-out contacts and contacts already enrolled in it are skipped.",
    )


class ContactImportForm(forms.Form):
    import_file = forms.FileField(label="File")
    file_format = forms.ChoiceField(label="Format", choices=[(f, f.upper()) for f in FORMATS], initial="csv")

    def __init__(self, *args, refused: str = "", **kwargs):
        """`refused`: why the upload was stopped before it was read (then that is the form's
        only error: the file is not there to be required)."""
        super().__init__(*args, **kwargs)
        self.refused = refused
        if refused:
            for field in self.fields.values():
                field.required = False

    def clean(self):
        if self.refused:
            raise ValidationError(self.refused)
        return super().clean()


class ContactCockpitMixin(ExportMixin):
    resource_classes = [ContactResource]
    change_form_template = "admin/contacts/contact/cockpit_change_form.html"
    import_export_change_list_template = "admin/contacts/contact/change_list_import_export.html"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        # csrf_exempt: the import page runs the CSRF check itself, after its upload limit
        # (import_view).
        own = [
            path(
                "import/",
                self.admin_site.admin_view(csrf_exempt(self.import_view)),
                name="{}_{}_import".format(*info),
            ),
            path(
                "<path:object_id>/edit/",
                self.admin_site.admin_view(self.contact_edit_view),
                name="{}_{}_edit".format(*info),
            ),
        ]
        return own + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "has_import_permission": self.has_import_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def import_view(self, request):
        """Upload a file: it is checked without being read as a table (contacts.imports),
        recorded, and imported in the background; the import's own page shows the progress.

        The size limit comes before the form is read: a body whose Content-Length is too
        large is never read, and a file that streams in past the limit is stopped there
        (infra.uploads). Django would read the whole upload for the CSRF check, so the
        check runs here, after the limit is in place (the URL is csrf_exempt)."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return self._import_page(request, ContactImportForm())
        limit = upload_limit(request, max_bytes=settings.CONTACT_IMPORT_MAX_BYTES)
        if limit.refused:  # by its Content-Length: its form is not read (no CSRF token to check)
            return self._import_page(request, ContactImportForm({}, refused=file_too_large()), status=413)
        return csrf_protect(self._import_upload)(request, limit)

    def _import_upload(self, request, limit):
        files = request.FILES  # the upload is read here (or was, by the CSRF check), through `limit`
        if limit.refused:  # stopped as it streamed in: nothing of it was kept
            form = ContactImportForm(request.POST, refused=file_too_large())
            return self._import_page(request, form, status=413)
        form = ContactImportForm(request.POST, files)
        if form.is_valid():
            upload = form.cleaned_data["import_file"]
            try:
                job = contact_import_create(
                    content=upload.read(),
                    file_name=upload.name,
                    file_format=form.cleaned_data["file_format"],
                    user=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(
                    request, f"{job.file_name}: {job.total:,} rows queued for import.", messages.SUCCESS
                )
                return HttpResponseRedirect(reverse("admin:contacts_contactimport_change", args=[job.pk]))
        return self._import_page(request, form)

    def _import_page(self, request, form, *, status: int = 200):
        context = {
            **self.admin_site.each_context(request),
            "title": "Import contacts",
            "opts": self.opts,
            "form": form,
            "max_size": size_label(settings.CONTACT_IMPORT_MAX_BYTES),
            "max_rows": settings.CONTACT_IMPORT_MAX_ROWS,
        }
        return TemplateResponse(request, "admin/contacts/contact/import_upload.html", context, status=status)

    # Import needs the right to add and change contacts; export the right to see them.
    def has_import_permission(self, request):
        return request.user.has_perms(["contacts.add_contact", "contacts.change_contact"])

    def has_export_permission(self, request):
        return request.user.has_perm("contacts.view_contact")

    def get_export_queryset(self, request):
        return super().get_export_queryset(request).filter(is_test=False)

    # --- the contact's page: who they are and their timeline; the form one click away -------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The contact's own URL opens on their page (every link to a contact — the list, the
        history, other pages — leads there); the form is at `edit/`. A post (the form, as
        ever), a pop-up or a `_to_field` request gets the form here too."""
        if request.method == "POST" or IS_POPUP_VAR in request.GET or TO_FIELD_VAR in request.GET:
            return super().change_view(request, object_id, form_url, extra_context)
        contact = self.get_object(request, unquote(object_id))
        if contact is None:  # the admin's own answer: back to the index, saying so
            return super().change_view(request, object_id, form_url, extra_context)
        if not self.has_view_or_change_permission(request, contact):
            raise PermissionDenied
        return self._contact_page(request, contact)

    def contact_edit_view(self, request, object_id):
        """The admin's change form (fields, consent, the latest history inlines)."""
        return super().change_view(request, object_id)

    def response_post_save_change(self, request, obj):
        # "Save" goes back to the contact's page (where "Edit" was clicked).
        url = reverse("admin:contacts_contact_change", args=[obj.pk])
        preserved = {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts}
        return HttpResponseRedirect(add_preserved_filters(preserved, url))

    def _contact_page(self, request, contact):
        journeys, more_journeys = contact_journeys(contact)
        context = {
            **self.admin_site.each_context(request),
            "title": str(contact),
            "opts": self.opts,
            "original": contact,
            "contact": contact,
            "name": f"{contact.first_name} {contact.last_name}".strip(),
            "consent": contact_consent(contact),
            "attributes": contact_attributes(contact),
            "journeys": journeys,
            "more_journeys": more_journeys,
            "timeline": contact_timeline(contact=contact),
            "has_change_permission": self.has_change_permission(request, contact),
            "preserved_filters": self.get_preserved_filters(request),
            "history_links": self.history_links(contact),
        }
        return TemplateResponse(request, "admin/contacts/contact/contact_page.html", context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if request.user.has_perm("automation.add_bulkenrollmentjob"):
            actions["enroll_in_plan"] = (
                type(self).enroll_in_plan,
                "enroll_in_plan",
                "Enroll the selected contacts in a plan…",
            )
        return actions

    @admin.action(description="Enroll the selected contacts in a plan…")
    def enroll_in_plan(self, request, queryset):
        """An intermediate page picks the plan; the job runs in Celery batches."""
        form = BulkEnrollForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            ids = list(queryset.order_by().values_list("pk", flat=True))
            try:
                job = bulk_enrollment_create(
                    plan=form.cleaned_data["plan"], contact_ids=ids, user=request.user
                )
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                return None
            self.message_user(
                request,
                f"Bulk enrollment #{job.pk} queued: {job.total} contact(s) in {job.plan.name}.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:automation_bulkenrollmentjob_change", args=[job.pk]))
        count = queryset.count()
        # Before confirming: which sender each plan sends from, and how long at its limit.
        plans = form.fields["plan"].queryset.select_related("published")[:MAX_ESTIMATES]
        context = {
            **self.admin_site.each_context(request),
            "title": "Enroll contacts in a plan",
            "opts": self.model._meta,
            "form": form,
            "count": count,
            "estimates": plans_send_estimates(plans=plans, contacts=count),
            "queryset": queryset[:10],
            "select_across": request.POST.get("select_across", "0"),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/contacts/contact/cockpit_bulk_enroll.html", context)
