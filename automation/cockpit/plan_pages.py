"""The marketer's cockpit on the plan admin: diagram, report, try-it simulator, CSV
segment enrollment; and the bulk enrollment job pages.

`PlanCockpitMixin` is mixed into `automation.admin.PlanAdmin` (first among its bases);
the views here are thin doors onto `automation.cockpit.diagram`, `automation.cockpit.reports` and
`automation.engine.{simulator,bulk}`.
"""

from datetime import date
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from automation.cockpit.diagram import plan_diagram_svg
from automation.cockpit.forms import ReportFilterForm
from automation.cockpit.reports import plan_report
from automation.cockpit.reports.export import csv_lines, enrollment_rows, report_table_rows
from automation.cockpit.reports.trends import trend_svg
from automation.cockpit.send_estimates import plans_send_estimates
from automation.cockpit.simulator import (
    MAX_MESSAGE_LENGTH,
    simulator_branches_set,
    simulator_event,
    simulator_fast_forward,
    simulator_reset,
    simulator_send,
    simulator_state,
)
from automation.cockpit.timeline import contact_timeline
from automation.engine.bulk import bulk_enrollment_from_csv
from automation.models import BulkEnrollmentJob, Plan
from messaging.services.outbound import links_untracked_reason
from tracking.models import EVENT_TYPE

MAX_SEGMENT_BYTES = 10 * 1024 * 1024


class SimulatorForm(forms.Form):
    channel = forms.ChoiceField(
        choices=(("sms", "SMS"), ("whatsapp", "WhatsApp")),
        required=False,
        label="As",
        help_text="Play a contact who texts by SMS, or on WhatsApp.",
    )
    text = forms.CharField(
        max_length=MAX_MESSAGE_LENGTH,
        strip=False,
        label="Message",
        widget=forms.TextInput(
            attrs={"autofocus": True, "autocomplete": "off", "placeholder": "Type a reply…"}
        ),
    )


class SimulatorEventForm(forms.Form):
    type = forms.CharField(
        max_length=50,
        label="Event",
        widget=forms.TextInput(attrs={"list": "simulator-event-types", "placeholder": "purchase"}),
    )
    value = forms.DecimalField(
        required=False,
        max_digits=14,
        decimal_places=2,
        label="Value",
        widget=forms.NumberInput(attrs={"step": "0.01", "placeholder": "49.90"}),
    )

    def clean_type(self) -> str:
        value = self.cleaned_data["type"]
        if not EVENT_TYPE.fullmatch(value):
            raise forms.ValidationError(
                "An event type is lower-case letters, digits, '_', '.' or '-' (e.g. purchase)."
            )
        return value


def _turn_say(request, take_turn) -> None:
    """Take one simulator turn; say its note, or why it could not be taken."""
    try:
        turn = take_turn()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if turn.note:
            messages.warning(request, turn.note)


class SegmentForm(forms.Form):
    file = forms.FileField(
        label="CSV file", help_text="A 'phone' column (or phone numbers in the first column)."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_SEGMENT_BYTES:
            raise ValidationError("The file is larger than 10 MB.")
        raw = upload.read()
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                return raw.decode("latin-1")
            except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes anything
                raise ValidationError("The file is not text (CSV).") from exc


class PlanCockpitMixin:
    change_form_template = "admin/automation/plan/cockpit_change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/report/", view(self.cockpit_report_view), name="automation_plan_report"),
            path(
                "<path:object_id>/report/csv/",
                view(self.cockpit_report_csv_view),
                name="automation_plan_report_csv",
            ),
            path(
                "<path:object_id>/try/", view(self.cockpit_simulator_view), name="automation_plan_simulator"
            ),
            path(
                "<path:object_id>/enroll-csv/",
                view(self.cockpit_segment_view),
                name="automation_plan_segment",
            ),
            *super().get_urls(),
        ]

    def get_list_display(self, request):
        return [*super().get_list_display(request), "cockpit_links"]

    @admin.display(description="Cockpit")
    def cockpit_links(self, obj: Plan) -> str:
        return format_html(
            '<a href="{}">Report</a> · <a href="{}">Try it</a>',
            reverse("admin:automation_plan_report", args=[obj.pk]),
            reverse("admin:automation_plan_simulator", args=[obj.pk]),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        plan = Plan.objects.filter(pk=object_id).first() if str(object_id).isdigit() else None
        if plan is not None:
            # The page edits the draft: draw it (else the newest revision).
            newest = plan.revisions.order_by("-number").values_list("pk", flat=True).first()
            extra_context["plan_diagram"] = plan_diagram_svg(plan=plan, revision_id=newest)
        return super().change_view(request, object_id, form_url, extra_context)

    # --- pages ----------------------------------------------------------------------------

    def _cockpit_plan(self, request, object_id, *, change: bool) -> Plan:
        plan = self.get_object(request, unquote(object_id))
        if plan is None:
            raise Http404("No such plan.")
        allowed = (
            self.has_change_permission(request, plan) if change else self.has_view_permission(request, plan)
        )
        if not allowed:
            raise PermissionDenied
        return plan

    def _cockpit_context(self, request, plan: Plan, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": plan,
            "plan": plan,
            "title": title,
            "has_view_permission": True,
        }

    def _report_range(self, request) -> tuple[ReportFilterForm, date | None, date | None]:
        form = ReportFilterForm(request.GET or None)
        if form.is_bound and form.is_valid():
            return form, form.cleaned_data["date_from"], form.cleaned_data["date_to"]
        return form, None, None

    def cockpit_report_view(self, request, object_id):
        plan = self._cockpit_plan(request, object_id, change=False)
        form, date_from, date_to = self._report_range(request)
        report = plan_report(plan=plan, date_from=date_from, date_to=date_to)
        context = self._cockpit_context(request, plan, f"Report: {plan.name}")
        context.update(
            {
                "form": form,
                "report": report,
                "funnel_max": max([row.reached for row in report.funnel] + [1]),
                "plan_diagram": plan_diagram_svg(plan=plan),
                "trend_chart": trend_svg(report.trend) if report.trend.has_data else "",
                "links_note": links_untracked_reason(),
                # The range shown (a bad one is not: the page shows all time and says why).
                "range_query": urlencode(
                    {k: v for k, v in form.cleaned_data.items() if v} if date_from or date_to else {}
                ),
            }
        )
        return TemplateResponse(request, "cockpit/plan_report.html", context)

    def cockpit_report_csv_view(self, request, object_id):
        """The report's tables (`?of=tables`, the default) or its enrollments with their
        outcome (`?of=enrollments`, streamed), for the same date range."""
        plan = self._cockpit_plan(request, object_id, change=False)
        form, date_from, date_to = self._report_range(request)
        if form.errors:
            said = f"No CSV: {form.problems()} Dates are written YYYY-MM-DD, the first not after the last."
            return HttpResponse(said, status=400, content_type="text/plain; charset=utf-8")
        span = f"{date_from or 'start'}-to-{date_to or 'now'}"
        if request.GET.get("of") == "enrollments":
            rows = enrollment_rows(plan=plan, date_from=date_from, date_to=date_to)
            response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
            name = f"{plan.slug}-enrollments-{span}.csv"
        else:
            report = plan_report(plan=plan, date_from=date_from, date_to=date_to)
            response = HttpResponse(
                "".join(csv_lines(report_table_rows(report))), content_type="text/csv; charset=utf-8"
            )
            name = f"{plan.slug}-report-{span}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def cockpit_simulator_view(self, request, object_id):
        plan = self._cockpit_plan(request, object_id, change=True)
        url = reverse("admin:automation_plan_simulator", args=[plan.pk])
        form = SimulatorForm()
        if request.method == "POST":
            if "reset" in request.POST:
                if simulator_reset(plan=plan, user=request.user):
                    messages.success(request, "The test contact and everything it did were deleted.")
                return HttpResponseRedirect(url)
            if "fast_forward" in request.POST:
                messages.info(request, simulator_fast_forward(plan=plan, user=request.user))
                return HttpResponseRedirect(url)
            if "branches" in request.POST:
                choices = {
                    key.removeprefix("split-"): value
                    for key, value in request.POST.items()
                    if key.startswith("split-") and value
                }
                kept = simulator_branches_set(plan=plan, user=request.user, choices=choices)
                said = ", ".join(f"{k}: {v}" for k, v in kept.items()) or "every split draws at random"
                messages.info(request, f"A/B splits: {said}.")
                return HttpResponseRedirect(url)
            if "event" in request.POST:
                event_form = SimulatorEventForm(request.POST)
                if not event_form.is_valid():
                    for errors in event_form.errors.values():
                        messages.error(request, " ".join(errors))
                    return HttpResponseRedirect(url)
                _turn_say(
                    request,
                    lambda: simulator_event(
                        plan=plan,
                        user=request.user,
                        type=event_form.cleaned_data["type"],
                        value=event_form.cleaned_data["value"],
                    ),
                )
                return HttpResponseRedirect(url)
            form = SimulatorForm(request.POST)
            if form.is_valid():
                _turn_say(
                    request,
                    lambda: simulator_send(
                        plan=plan,
                        user=request.user,
                        text=form.cleaned_data["text"],
                        channel=form.cleaned_data["channel"] or "sms",
                    ),
                )
                return HttpResponseRedirect(url)
        state = simulator_state(plan=plan, user=request.user)
        if not form.is_bound:
            form = SimulatorForm(initial={"channel": state.channel})
        timeline = contact_timeline(contact=state.contact) if state.contact else None
        current = state.enrollment.step_id if state.enrollment and state.status == "active" else None
        context = self._cockpit_context(request, plan, f"Try it: {plan.name}")
        context.update(
            {
                "form": form,
                "event_form": SimulatorEventForm(initial={"type": state.waits_for}),
                "state": state,
                "timeline": timeline,
                "plan_diagram": plan_diagram_svg(
                    plan=plan,
                    revision_id=state.enrollment.revision_id if state.enrollment else None,
                    highlight_step=current,
                ),
            }
        )
        return TemplateResponse(request, "cockpit/plan_simulator.html", context)

    def cockpit_segment_view(self, request, object_id):
        plan = self._cockpit_plan(request, object_id, change=True)
        if not request.user.has_perm("automation.add_bulkenrollmentjob"):
            raise PermissionDenied
        form = SegmentForm()
        if request.method == "POST":
            form = SegmentForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    job = bulk_enrollment_from_csv(
                        plan=plan, data=form.cleaned_data["file"], user=request.user
                    )
                except ValidationError as exc:
                    for message in exc.messages:
                        form.add_error("file", message)
                else:
                    messages.success(request, f"Bulk enrollment #{job.pk} queued: {job.total} contact(s).")
                    return HttpResponseRedirect(
                        reverse("admin:automation_bulkenrollmentjob_change", args=[job.pk])
                    )
        context = self._cockpit_context(request, plan, f"Enroll a CSV segment in {plan.name}")
        context["form"] = form
        context["estimate"] = plans_send_estimates(plans=[plan], contacts=None)[0]
        return TemplateResponse(request, "cockpit/plan_segment.html", context)


@admin.register(BulkEnrollmentJob)
class BulkEnrollmentJobAdmin(admin.ModelAdmin):
    """Progress of bulk enrollments (read-only; started from the contacts list or a plan)."""

    change_form_template = "admin/automation/bulkenrollmentjob/cockpit_change_form.html"
    list_display = [
        "id",
        "plan",
        "source",
        "status",
        "progress",
        "enrolled",
        "skipped_opted_out",
        "skipped_no_consent",
        "skipped_enrolled",
        "skipped_other",
        "not_found",
        "created_by",
        "created_at",
    ]
    list_filter = ["status", "plan"]
    list_select_related = ["plan", "created_by"]
    fields = [
        "plan",
        "source",
        "status",
        "progress",
        "total",
        "processed",
        "enrolled",
        "skipped_opted_out",
        "skipped_no_consent",
        "skipped_enrolled",
        "skipped_other",
        "not_found",
        "note",
        "created_by",
        "created_at",
        "finished_at",
    ]
    readonly_fields = fields

    @admin.display(description="Progress")
    def progress(self, obj: BulkEnrollmentJob) -> str:
        return format_html(
            '<progress class="cockpit-progress" max="100" value="{}"></progress> {} / {}',
            obj.percent,
            obj.processed,
            obj.total,
        )

    def has_add_permission(self, request):
        return False  # started from the contacts list (action) or a plan (CSV segment)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
