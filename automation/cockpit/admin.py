import difflib
from html import escape
from urllib.parse import quote

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST
from django_fsm.admin import FSMAdminMixin

from automation.cockpit import (
    contacts_admin,  # noqa: F401 - registers the contact's page
    enrollments_admin,  # noqa: F401 - registers the enrollments' pages
    secrets_admin,  # noqa: F401 - registers the web service secrets
)
from automation.cockpit.forms import PlanForm
from automation.cockpit.json_admin import PlanJsonMixin
from automation.cockpit.plan_pages import PlanCockpitMixin
from automation.cockpit.plans_list import PlanResultsMixin
from automation.cockpit.steps_admin import PlanStepsMixin
from automation.cockpit.steps_view import (
    exit_goals,
    flow_order,
    goal_words,
    goals_legend,
    step_goal,
    step_title,
)
from automation.engine.plans import (
    document_dump,
    plan_activate,
    plan_archive,
    plan_draft_document,
    plan_draft_save,
    plan_pause,
    plan_publish,
    plan_rollback,
    plan_warnings,
)
from automation.engine.revisions import revision_flow
from automation.flow import flow_build
from automation.models import Enrollment, EnrollmentStatus, Plan
from contacts.models import Contact
from messaging.channels import address_channel
from messaging.preview import CHANNELS as PREVIEW_CHANNELS
from messaging.state_hours import RULES as STATE_RULES

# Each plan's active enrollments, test contacts left out: all its active ones, counted in the
# index on (plan, status) alone, less the few of test contacts. bench/report.py, 300,000
# active of 1,000,000: 0.04 s (a join of each plan to all its enrollments took 2.8 s).
_active = (
    Enrollment.objects.filter(plan=OuterRef("pk"), status=EnrollmentStatus.ACTIVE).order_by().values("plan")
)
_active_count = Coalesce(Subquery(_active.annotate(n=Count("*")).values("n")), 0) - Coalesce(
    Subquery(
        _active.filter(contact__in=Contact.objects.filter(is_test=True)).annotate(n=Count("*")).values("n")
    ),
    0,
)


@admin.register(Plan)
class PlanAdmin(
    PlanStepsMixin, PlanJsonMixin, PlanResultsMixin, PlanCockpitMixin, FSMAdminMixin, admin.ModelAdmin
):
    form = PlanForm
    fsm_fields = ["status"]
    # The results for a range (automation.cockpit.plans_list) come after the status.
    list_display = ["name", "status_entry", "active_enrollments"]
    list_filter = ["status"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["status"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "status", "description"]}),
        (
            "Who enters",
            {
                "fields": [
                    "trigger",
                    "keywords",
                    "event",
                    "sender",
                    "reentry",
                    "interrupts_other_plans",
                    "double_opt_in",
                ]
            },
        ),
        ("The journey", {"fields": ["start", "lifetime", "expiry_text", "track_links"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("published").annotate(active_count=_active_count)

    def get_readonly_fields(self, request, obj=None):
        # The slug names the plan for good (exports, plan_import, enter_plan steps).
        return ["slug", "status"] if obj is not None else ["status"]

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj is not None else self.prepopulated_fields

    @admin.display(description="Entered by")
    def entry(self, obj: Plan) -> str:
        if obj.published_id is None:
            return "—"
        entry = revision_flow(obj.published_id).entry
        if entry.trigger == "keyword":
            return ", ".join(sorted(entry.keywords))
        return {"any": "Any message", "event": f"Event {entry.event}", "none": "Bulk / manual only"}[
            entry.trigger
        ]

    @admin.display(description="Status", ordering="status")
    def status_entry(self, obj: Plan) -> str:
        """The status, and who enters under it (one column: the list fits a laptop)."""
        return format_html(
            '{}<br><span class="help plan-entry">{}</span>', obj.get_status_display(), self.entry(obj)
        )

    @admin.display(description="Active now", ordering="active_count")
    def active_enrollments(self, obj: Plan) -> int:
        return obj.active_count

    # --- the document is the draft ------------------------------------------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        document = plan_draft_document(plan=obj) if obj is not None and obj.pk else None

        class BoundPlanForm(form):
            def __init__(self, *args, **kw):
                super().__init__(*args, initial_document=document, **kw)

        return BoundPlanForm

    def save_model(self, request, obj, form, change):
        normal = form.cleaned_data["normal"]
        if change:
            # The plan's name is the published revision's; a new one waits in the draft.
            obj.name = Plan.objects.filter(pk=obj.pk).values_list("name", flat=True).first() or obj.name
        super().save_model(request, obj, form, change)
        plan_draft_save(plan=obj, document=normal, user=request.user)

    def response_post_save_change(self, request, obj):
        return self._maybe_publish(request, obj) or super().response_post_save_change(request, obj)

    def response_post_save_add(self, request, obj):
        return self._maybe_publish(request, obj) or super().response_post_save_add(request, obj)

    def _refused(self, request, exc: ValidationError) -> None:
        """What a service refused, each reason as an error message on the page."""
        for message in exc.messages:
            self.message_user(request, message, messages.ERROR)

    def _maybe_publish(self, request, obj, *, force: bool = False):
        if "_publish" not in request.POST and not force:
            return None
        try:
            revision = plan_publish(plan=obj, user=request.user)
        except ValidationError as exc:
            self._refused(request, exc)
        else:
            self.message_user(
                request,
                f"Revision {revision.number} of “{obj.name}” is published: new enrollments take it; "
                f"the {live_count(obj)} enrollments under way stay on the revision they started in.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:automation_plan_change", args=[obj.pk]))

    # --- revisions: listed, viewed and compared, rolled back, exported -------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        plan = Plan.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        extra_context = dict(extra_context or {})
        if plan is not None:
            # The table lists revisions, not what they say: one document is read, the newest.
            revisions = list(
                plan.revisions.select_related("published_by").defer("document").order_by("-number")[:50]
            )
            extra_context["plan_revisions"] = revisions
            document = plan_draft_document(plan=plan) if revisions else None
            if document is not None:
                flow = flow_build(document)
                extra_context["plan_steps"] = steps_listed(flow, plan_id=plan.pk)
                extra_context["plan_goals"] = goals_legend(flow)
                extra_context["plan_has_draft"] = revisions[0].published_at is None
                extra_context["plan_warnings"] = plan_warnings(plan=plan, document=document)
                extra_context["preview_track_links"] = document.get("track_links", True)
                # A plan bound to a WhatsApp sender texts over WhatsApp: preview it so.
                sender = (document.get("entry") or {}).get("sender") or ""
                extra_context["preview_channel"] = address_channel(sender)
            extra_context["plan_live"] = live_count(plan)
        extra_context["preview_states"] = sorted((code, rule.name) for code, rule in STATE_RULES.items())
        extra_context["preview_channels"] = [(key, label) for key, (label, _) in PREVIEW_CHANNELS.items()]
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/revisions/<int:number>/",
                view(self.revision_view),
                name="automation_plan_revision",
            ),
            path(
                "<path:object_id>/revisions/<int:number>/rollback/",
                view(require_POST(self.rollback_view)),
                name="automation_plan_rollback",
            ),
            path("<path:object_id>/export/", view(self.export_view), name="automation_plan_export"),
            *super().get_urls(),
        ]

    def revision_view(self, request, object_id, number):
        plan = self._cockpit_plan(request, object_id, change=False)
        revision = plan.revisions.filter(number=number).first()
        if revision is None:
            raise Http404("No such revision.")
        previous = plan.revisions.filter(number__lt=number).order_by("-number").first()
        diff = []
        if previous is not None:
            diff = list(
                difflib.unified_diff(
                    document_dump(previous.document).splitlines(),
                    document_dump(revision.document).splitlines(),
                    f"revision {previous.number}",
                    f"revision {revision.number}",
                    lineterm="",
                )
            )
        context = self._cockpit_context(request, plan, f"{plan.name}: revision {revision.number}")
        context |= {
            "revision": revision,
            "previous": previous,
            "diff": diff,
            "document": document_dump(revision.document),
            "can_rollback": self.has_change_permission(request, plan) and revision.published_at is not None,
        }
        return TemplateResponse(request, "cockpit/plan_revision.html", context)

    def rollback_view(self, request, object_id, number):
        plan = self._cockpit_plan(request, object_id, change=True)
        revision = plan.revisions.filter(number=number, published_at__isnull=False).first()
        if revision is None:
            raise Http404("No such published revision.")
        try:
            new = plan_rollback(plan=plan, revision=revision, user=request.user)
        except ValidationError as exc:
            self._refused(request, exc)
        else:
            self.message_user(
                request,
                f"Revision {revision.number} is published again as revision {new.number}.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:automation_plan_change", args=[plan.pk]))

    def export_view(self, request, object_id):
        plan = self._cockpit_plan(request, object_id, change=False)
        revision = plan.revisions.order_by("-number").first()
        if revision is None:
            raise Http404("This plan has no revision yet.")
        response = HttpResponse(document_dump(revision.document), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{plan.slug}.json"'
        return response

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
            self._refused(request, exc)
            return False
        said = f"Plan “{plan.name}” {self._done[transition_name]}."
        if transition_name in ("pause", "archive"):
            said += f" No one new enters; the {live_count(plan)} people in it go on where they are."
        self.message_user(request, said, messages.SUCCESS)
        return True


def live_count(plan: Plan) -> int:
    """How many real contacts are in the plan now (test contacts are not counted)."""
    return Enrollment.objects.filter(
        plan=plan, status=EnrollmentStatus.ACTIVE, contact__is_test=False
    ).count()


def steps_listed(flow, *, plan_id: int) -> list[dict]:
    """The draft's steps (its Flow) as the plan page lists them, in the order a journey
    goes through them (`flow_order`): each by its title, what it does (its whole text),
    the goal it records, and where each of its ways out goes (`exits_html`)."""
    step_urls = {i: reverse("admin:automation_plan_step", args=[plan_id, i]) for i in flow.order}
    add_url = reverse("admin:automation_plan_step_add", args=[plan_id])
    names = {i: step_title(step) for i, step in flow.steps.items()}
    rows = []
    for step_id in flow_order(flow):
        step = flow.steps[step_id]
        kind = step.kind
        goal = step_goal(flow, step)
        rows.append(
            {
                "id": step_id,
                "url": step_urls[step_id],
                "name": names[step_id],
                "kind": kind.description,
                "type": step.type,
                "does": "" if kind.label(step) == names[step_id] else kind.label(step),
                "goal": goal_words(goal) if goal else "",
                "is_start": step_id == flow.start,
                "exits_html": _exits_html(
                    [(way, exit_goals(flow, way)) for way in kind.exits(step.data)],
                    names=names,
                    step_urls=step_urls,
                    add_url=f"{add_url}?after={quote(step_id)}&exit=",
                ),
            }
        )
    return rows


def _exits_html(exits, *, names: dict[str, str], step_urls: dict[str, str], add_url: str) -> SafeString:
    """A step's ways out as the list's items: what takes each (and the goal it records), to
    which step (or the end of the journey), and a link to put a new step there. Written
    here, not by the template: an ask has up to 50 rules, and a loop with two {% url %} per
    exit took a 100-step plan's page half a second (bench/plan_page.py)."""
    items = []
    for way, goals in exits:
        if way.target in names:
            target = f'<a href="{escape(step_urls[way.target])}">{escape(names[way.target])}</a>'
        else:
            target = '<em class="exit-end">End of the journey</em>'
        marks = "".join(f' <span class="exit-goal">{escape(goal_words(g))}</span>' for g in goals)
        items.append(
            f'<li data-exit="{escape(way.field)}">'
            f'<span class="exit-label">{escape(way.label)}</span>{marks} → '
            f'{target}\n            <a class="exit-add" href="{escape(add_url + quote(way.field))}">'
            "+ add a step here</a></li>"
        )
    return mark_safe("".join(items))  # every value above is escaped
