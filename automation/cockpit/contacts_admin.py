"""The contact's admin page (contacts' model, with its enrollments, goals and messages as
inlines, and the cockpit: timeline, import/export, bulk enrollment): a door onto several
apps' data, so it lives in the highest of them (docs/architecture.md §4)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html

from automation.cockpit.contact_pages import ContactCockpitMixin
from automation.engine.consent import contact_opt_out
from automation.models import Enrollment
from contacts import services
from contacts.models import ConsentEvent, Contact
from contacts.phone import phone_normalize
from infra.admin_mixins import ReadOnlyInlineMixin, test_contacts_filter
from tracking.models import GoalConversion, Interaction

# The latest rows shown in each history inline; the full lists are one link away.
HISTORY_LIMIT = 50

# docs/reference.md §5: no admin action, import or API call takes back an opt-out.
ONLY_THE_CONTACT = "Only the contact can take back an opt-out, by texting START."


class ContactAdminForm(forms.ModelForm):
    consent_source = forms.CharField(
        required=False,
        max_length=200,
        label="Record marketing consent",
        help_text="Why you record it: where and when the contact gave it (e.g. “signed up at the "
        "counter, 2026-05-01”); kept in the consent log with your name. Empty: nothing changes. "
        f"An opted-out contact gets none: {ONLY_THE_CONTACT}",
    )

    class Meta:
        model = Contact
        fields = ["phone", "first_name", "last_name", "email", "timezone", "locale", "attributes"]

    def clean_phone(self) -> str:
        # National formats are read in settings.PHONE_DEFAULT_REGION; bad input is a form error.
        return phone_normalize(self.cleaned_data.get("phone", ""))

    def clean_consent_source(self) -> str:
        reason = self.cleaned_data.get("consent_source", "").strip()
        if reason and self.instance.pk and self.instance.opted_out:
            raise ValidationError(f"This contact opted out: consent cannot be recorded. {ONLY_THE_CONTACT}")
        return reason


class LatestFirstFormSet(forms.BaseInlineFormSet):
    """A history inline: only the latest HISTORY_LIMIT rows."""

    def get_queryset(self):
        if not hasattr(self, "_latest"):
            self._latest = super().get_queryset()[:HISTORY_LIMIT]
        return self._latest


class InteractionInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Interaction
    formset = LatestFirstFormSet
    fields = [
        "created_at",
        "direction",
        "channel",
        "from_address",
        "to_address",
        "body",
        "provider_sid",
        "enrollment",
    ]
    ordering = ["-created_at", "-id"]
    verbose_name_plural = f"Interactions (latest {HISTORY_LIMIT})"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("enrollment__plan", "enrollment__contact")


class GoalConversionInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = GoalConversion
    formset = LatestFirstFormSet
    fields = ["occurred_at", "goal", "points", "enrollment"]
    ordering = ["-occurred_at", "-id"]
    verbose_name_plural = f"Goal conversions (latest {HISTORY_LIMIT})"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("goal", "enrollment__plan", "enrollment__contact")


class EnrollmentInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = Enrollment
    formset = LatestFirstFormSet
    fields = ["plan", "revision", "step_id", "status", "enrolled_at", "expires_at", "ended_at", "end_reason"]
    ordering = ["-enrolled_at", "-id"]
    verbose_name_plural = f"Enrollments (latest {HISTORY_LIMIT})"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("plan", "revision", "contact")


class ConsentEventInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = ConsentEvent
    formset = LatestFirstFormSet
    fields = ["occurred_at", "kind", "source", "detail", "actor_name"]
    ordering = ["-occurred_at", "-id"]
    show_change_link = False
    verbose_name_plural = f"Consent log (latest {HISTORY_LIMIT})"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Contact)
class ContactAdmin(ContactCockpitMixin, admin.ModelAdmin):
    form = ContactAdminForm
    list_display = [
        "phone", "full_name", "opted_out", "consent", "engagement_value", "last_inbound_at", "created_at",
    ]  # fmt: skip
    list_display_links = ["phone", "full_name"]
    list_filter = [
        test_contacts_filter("is_test"),
        "opted_out",
        ("enrollments__plan", admin.RelatedOnlyFieldListFilter),
        "enrollments__status",
    ]
    search_fields = ["phone", "first_name", "last_name", "email"]
    search_help_text = "Phone (any format, e.g. +1 212 555 0123 or (212) 555-0123), name or email."
    readonly_fields = [
        "is_test",
        "opted_out",
        "opted_out_at",
        "consent",
        "consent_at",
        "engagement_value",
        "last_inbound_at",
        "created_at",
        "updated_at",
        "history_links",
    ]
    fieldsets = [
        (None, {"fields": ["phone", "first_name", "last_name", "email"]}),
        ("Preferences", {"fields": ["timezone", "locale", "attributes", "is_test"]}),
        (
            "Engagement and consent",
            {
                "fields": [
                    "opted_out",
                    "opted_out_at",
                    "consent",
                    "consent_at",
                    "consent_source",
                    "engagement_value",
                    "last_inbound_at",
                    "created_at",
                    "updated_at",
                    "history_links",
                ]
            },
        ),
    ]
    inlines = [EnrollmentInline, GoalConversionInline, InteractionInline, ConsentEventInline]
    # No "opt in" action: only the contact takes back an opt-out, by texting START (docs/reference.md §5).
    actions = ["opt_out"]

    @admin.display(description="Marketing consent")
    def consent(self, obj: Contact) -> str:
        return {"opted_in": "Yes", "opted_out": "Opted out", "none": "None on record"}[obj.consent]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        source = form.cleaned_data.get("consent_source")
        if source:
            recorded = services.contact_consent_record(
                contact=obj, source=ConsentEvent.Source.ADMIN, detail=source, actor=request.user
            )
            if not recorded:
                why = "it is on record already."
                if obj.opted_out:  # since the form was checked
                    why = f"the contact opted out. {ONLY_THE_CONTACT}"
                self.message_user(request, f"Consent was not recorded: {why}", messages.WARNING)

    @admin.display(description="Name", ordering="last_name")
    def full_name(self, obj: Contact) -> str:
        return f"{obj.first_name} {obj.last_name}".strip() or "—"

    @admin.display(description="Full history")
    def history_links(self, obj: Contact) -> str:
        if not obj.pk:
            return "—"
        links = [
            ("tracking_interaction", "interactions"),
            ("tracking_goalconversion", "goal conversions"),
            ("automation_enrollment", "enrollments"),
            ("contacts_consentevent", "consent log"),
        ]
        return format_html(
            " · ".join(['<a href="{}?contact__id__exact={}">{}</a>'] * len(links)),
            *[part for name, label in links for part in (reverse(f"admin:{name}_changelist"), obj.pk, label)],
        )

    def get_search_results(self, request, queryset: QuerySet, search_term: str):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term and any(ch.isdigit() for ch in term):
            try:
                e164 = phone_normalize(term)
            except ValidationError:
                pass
            else:
                results = results | queryset.filter(phone=e164)
        return results, may_have_duplicates

    @admin.action(
        description="Opt out the selected contacts (ends their enrollments)", permissions=["change"]
    )
    def opt_out(self, request, queryset):
        changed = 0
        for contact in queryset.order_by("pk"):
            changed += bool(
                contact_opt_out(contact=contact, source=ConsentEvent.Source.ADMIN, actor=request.user)
            )
        self.message_user(request, f"{changed} contact(s) opted out; {queryset.count() - changed} unchanged.")

    # An opt-out is kept (docs/reference.md §5): deleting an opted-out contact would drop it — a
    # contact made again for their number (an import, an event) would be texted.
    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.opted_out:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions[name] = (type(self).delete_selected_keeping_opt_outs, name, description)
        return actions

    def delete_selected_keeping_opt_outs(self, request, queryset):
        opted_out = queryset.filter(opted_out=True).count()
        if opted_out:
            self.message_user(
                request,
                f"Nothing was deleted: {opted_out} of the selected contacts opted out, and an opt-out is "
                f"kept (deleted, a contact made again for their number would be texted). {ONLY_THE_CONTACT}",
                messages.ERROR,
            )
            return None
        return delete_selected(self, request, queryset)
