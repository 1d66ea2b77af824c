"""The enrollments' admin pages: who is where in which plan, with each step's history."""

from django.contrib import admin

from automation.engine.revisions import revision_flow, step_name
from automation.models import Enrollment, EnrollmentStep, Plan
from infra.admin_mixins import ReadOnlyAdminMixin, ReadOnlyInlineMixin, test_contacts_filter


class EnrollmentStepInline(ReadOnlyInlineMixin, admin.TabularInline):
    model = EnrollmentStep
    fields = ["occurred_at", "step_id", "via", "detail", "interaction"]
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("interaction")


class StepFilter(admin.SimpleListFilter):
    """The step enrollments are at, named with its plan (steps of the published revisions)."""

    title = "step"
    parameter_name = "step"

    def lookups(self, request, model_admin):
        plans = Plan.objects.filter(published__isnull=False).order_by("name")
        plan = request.GET.get("plan__id__exact")
        if plan and plan.isdigit():
            plans = plans.filter(pk=plan)
        return [
            (f"{p.pk}:{step_id}", f"{p.name}: {flow.steps[step_id].name}")
            for p in plans
            for flow in [revision_flow(p.published_id)]
            for step_id in flow.order
        ]

    def queryset(self, request, queryset):
        plan, _, step_id = (self.value() or "").partition(":")
        if plan.isdigit() and step_id:
            return queryset.filter(plan_id=plan, step_id=step_id)
        return queryset


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "contact",
        "plan",
        "revision_number",
        "step",
        "status",
        "enrolled_at",
        "step_entered_at",
        "timeout_at",
        "expires_at",
        "ended_at",
    ]
    list_filter = [test_contacts_filter("contact__is_test"), "plan", "status", StepFilter, "enrolled_at"]
    list_select_related = ["contact", "plan", "revision"]
    search_fields = ["contact__phone", "contact__first_name", "contact__last_name"]
    date_hierarchy = "enrolled_at"
    inlines = [EnrollmentStepInline]
    fields = [
        "contact",
        "plan",
        "revision",
        "step_id",
        "status",
        "branches",
        "enrolled_at",
        "step_entered_at",
        "prompt_sent_at",
        "last_inbound_at",
        "timeout_at",
        "other_count",
        "expires_at",
        "ended_at",
        "end_reason",
    ]

    @admin.display(description="Revision", ordering="revision__number")
    def revision_number(self, obj: Enrollment) -> int:
        return obj.revision.number

    @admin.display(description="Step", ordering="step_id")
    def step(self, obj: Enrollment) -> str:
        return step_name(revision_id=obj.revision_id, step_id=obj.step_id)
