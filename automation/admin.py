from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils.html import format_html
from django_fsm.admin import FSMAdminMixin

from automation import admin_contacts  # noqa: F401 - registers the contact's page
from automation.admin_cockpit import PlanCockpitMixin
from automation.forms import PlanForm, PlanStateForm, PlanStateFormSet, TransitionForm, TransitionFormSet
from automation.models import Enrollment, EnrollmentStatus, EnrollmentStep, Plan, PlanState, Transition
from automation.services.plans import plan_activate, plan_archive, plan_pause, plan_validate
from smsjourney.admin_mixins import ReadOnlyAdminMixin, ReadOnlyInlineMixin

# request attribute carrying the plan being edited to the inlines (the admin is shared
# between requests, so nothing request-specific is stored on it).
_PLAN_ATTR = "_automation_plan_admin_obj"


class _PlanStatesChoicesMixin:
    """Limit every state choice of an inline to the states of the plan being edited."""

    state_fields = ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.state_fields:
            plan = getattr(request, _PLAN_ATTR, None)
            kwargs["queryset"] = (
                PlanState.objects.filter(plan=plan).order_by("position", "id")
                if plan is not None and plan.pk
                else PlanState.objects.none()
            )
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and db_field.name in self.state_fields:
            field.error_messages["invalid_choice"] = (
                "Pick one of this plan's states (the chosen one belongs to another plan or no longer exists)."
            )
        return field


class PlanStateInline(_PlanStatesChoicesMixin, admin.TabularInline):
    model = PlanState
    form = PlanStateForm
    formset = PlanStateFormSet
    state_fields = ("timeout_to",)
    extra = 1  # fields: PlanStateForm.Meta.fields
    ordering = ["position", "id"]
    autocomplete_fields = []
    verbose_name_plural = "States (what is sent and recorded on entering each; timeouts are HH:MM:SS)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("message", "goal", "timeout_to")


class TransitionInline(_PlanStatesChoicesMixin, admin.TabularInline):
    model = Transition
    form = TransitionForm
    formset = TransitionFormSet
    state_fields = ("from_state", "to_state")
    extra = 1
    fields = ["from_state", "match", "pattern", "to_state", "priority", "goal"]
    ordering = ["from_state__position", "priority", "id"]
    verbose_name_plural = "Transitions (replies that move a contact from one state to another)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("from_state", "to_state", "goal")


@admin.register(Plan)
class PlanAdmin(PlanCockpitMixin, FSMAdminMixin, admin.ModelAdmin):
    form = PlanForm
    fsm_fields = ["status"]
    list_display = ["name", "slug", "status", "entry", "state_count", "active_enrollments", "updated_at"]
    list_filter = ["status", "entry_trigger"]
    search_fields = ["name", "slug", "entry_keywords"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [PlanStateInline, TransitionInline]
    fieldsets = [
        (
            None,
            {
                "fields": ["name", "slug", "status", "description"],
                "description": (
                    "Add the states first and save (“Save and continue editing”); the transitions "
                    "between them are added on the plan's page once the states exist. A draft may be "
                    "incomplete; Activate checks that the plan works."
                ),
            },
        ),
        ("Entry", {"fields": ["entry_trigger", "entry_keywords", "reentry", "interrupts_other_plans"]}),
        ("Lifetime", {"fields": ["enrollment_lifetime", "expiry_text"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                state_count=Count("states", distinct=True),
                active_count=Count(
                    "enrollments", filter=Q(enrollments__status=EnrollmentStatus.ACTIVE), distinct=True
                ),
            )
        )

    @admin.display(description="Entered by", ordering="entry_trigger")
    def entry(self, obj: Plan) -> str:
        if obj.entry_trigger == Plan.EntryTrigger.ANY:
            return "Any message"
        return obj.entry_keywords or "—"

    @admin.display(description="States", ordering="state_count")
    def state_count(self, obj: Plan) -> int:
        return obj.state_count

    @admin.display(description="Active enrollments", ordering="active_count")
    def active_enrollments(self, obj: Plan) -> int:
        return obj.active_count

    # --- the inlines see each other and the plan --------------------------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        setattr(request, _PLAN_ATTR, obj)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_inlines(self, request, obj):
        # Transitions join saved states: they appear once the plan (and its states) exist.
        return self.inlines if obj is not None and obj.pk else [PlanStateInline]

    def _create_formsets(self, request, obj, change):
        formsets, inline_instances = super()._create_formsets(request, obj, change)
        siblings = {fs.model: fs for fs in formsets}
        for i, fs in enumerate(formsets):
            fs.siblings = siblings
            fs.is_last = i == len(formsets) - 1
        return formsets, inline_instances

    def save_formset(self, request, form, formset, change):
        if formset.model is not PlanState:
            return super().save_formset(request, form, formset, change)
        # Save states losing the start flag before the one gaining it (one start per plan).
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            obj.delete()
        for obj in sorted(instances, key=lambda s: s.is_start):
            obj.save()
        formset.save_m2m()
        return None

    def response_add(self, request, obj, post_url_continue=None):
        self._warn_if_incomplete(request, obj)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if not request.POST.get(self.fsm_post_param):
            self._warn_if_incomplete(request, obj)
        return super().response_change(request, obj)

    def render_change_form(self, request, context, *args, **kwargs):
        # Whole-plan problems are shown on their inline; repeat them at the top of the page.
        if request.method == "POST":
            for inline in context.get("inline_admin_formsets", []):
                for error in inline.formset.non_form_errors():
                    self.message_user(request, error, messages.ERROR)
        return super().render_change_form(request, context, *args, **kwargs)

    def _warn_if_incomplete(self, request, obj: Plan) -> None:
        if obj.status == Plan.Status.ACTIVE:
            return
        problems = plan_validate(plan=obj)
        if problems:
            self.message_user(
                request,
                format_html(
                    "Saved. Before this plan can be activated: {}",
                    format_html(
                        "<ul>{}</ul>", format_html("".join(["<li>{}</li>"] * len(problems)), *problems)
                    ),
                ),
                messages.WARNING,
            )

    # --- Activate / Pause / Archive buttons go through the services ---------------------

    _services = {"activate": plan_activate, "pause": plan_pause, "archive": plan_archive}
    _done = {"activate": "is now active", "pause": "is paused", "archive": "is archived"}

    def _apply_fsm_transition(self, *, obj, transition_name, request, kwargs=None) -> bool:
        service = self._services.get(transition_name)
        if service is None:
            self.message_user(request, f"“{transition_name}” is not a plan action.", messages.ERROR)
            return False
        try:
            plan = service(plan=obj)
        except ValidationError as exc:
            for message in exc.messages:
                self.message_user(request, message, messages.ERROR)
            return False
        self.message_user(request, f"Plan “{plan.name}” {self._done[transition_name]}.", messages.SUCCESS)
        return True


class EnrollmentStepInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = EnrollmentStep
    fields = ["occurred_at", "state", "via", "interaction"]
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("state", "interaction")


class CurrentStateFilter(admin.SimpleListFilter):
    title = "current state"
    parameter_name = "current_state"

    def lookups(self, request, model_admin):
        states = PlanState.objects.select_related("plan").order_by("plan__name", "position", "id")
        plan = request.GET.get("plan__id__exact")
        if plan and plan.isdigit():
            states = states.filter(plan_id=plan)
        return [(str(s.pk), f"{s.plan.name}: {s.name}") for s in states]

    def queryset(self, request, queryset):
        value = self.value()
        if value and value.isdigit():
            return queryset.filter(current_state_id=value)
        return queryset


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "contact",
        "plan",
        "current_state",
        "status",
        "enrolled_at",
        "state_entered_at",
        "timeout_at",
        "expires_at",
        "ended_at",
    ]
    list_filter = ["plan", "status", CurrentStateFilter, "enrolled_at"]
    list_select_related = ["contact", "plan", "current_state"]
    search_fields = ["contact__phone", "contact__first_name", "contact__last_name"]
    date_hierarchy = "enrolled_at"
    inlines = [EnrollmentStepInline]
    fields = [
        "contact",
        "plan",
        "current_state",
        "status",
        "enrolled_at",
        "state_entered_at",
        "prompt_sent_at",
        "last_inbound_at",
        "timeout_at",
        "fallback_sent",
        "expires_at",
        "ended_at",
        "end_reason",
    ]
