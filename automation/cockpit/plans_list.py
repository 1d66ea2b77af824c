"""The plans list side by side (docs/cockpit.md, "The plans list"): for a chosen range —
7, 30 or 90 days, all time, or dates picked — each plan's enrolled, conversion rate,
revenue and revenue per recipient, the plan report's own figures for that range
(`automation.cockpit.reports.plans`), sortable by each.

`PlanResultsMixin` is mixed into `automation.cockpit.admin.PlanAdmin`. Its change list
(`PlansChangeList`) reads the range from the query string (`range=7d|30d|90d|all`, or
`date_from` / `date_to` as the report takes them; anything else is 30 days, and bad dates
say why), counts every plan's figures in two queries, and sorts by them in the database:
each figure is an annotation of the page's one query (a `CASE` on the plan's id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Case, FloatField, IntegerField, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from automation.cockpit.forms import ReportFilterForm
from automation.cockpit.reports.plans import PlanResults, plans_results
from automation.models import Plan

RANGES = {"7d": ("7 days", 7), "30d": ("30 days", 30), "90d": ("90 days", 90), "all": ("All time", None)}
DEFAULT_RANGE = "30d"
PARAMS = ("range", "date_from", "date_to")
NOTHING = PlanResults()


@dataclass(frozen=True)
class PlansRange:
    """The range the figures are for: a preset (`key`), or dates picked ("dates")."""

    key: str
    date_from: date | None
    date_to: date | None
    errors: tuple[str, ...] = ()

    @property
    def query(self) -> str:
        """The range as the plan report's query string (its figures are the same)."""
        dates = {"date_from": self.date_from, "date_to": self.date_to}
        return urlencode({k: v.isoformat() for k, v in dates.items() if v is not None})

    @property
    def words(self) -> str:
        """ "begun from 8 Nov 2026 to 7 Dec 2026", "begun up to …", "whenever they began"."""

        def day(d: date) -> str:
            return date_format(d, "j M Y")

        if self.date_from and self.date_to:
            return f"begun from {day(self.date_from)} to {day(self.date_to)}"
        if self.date_from:
            return f"begun since {day(self.date_from)}"
        if self.date_to:
            return f"begun up to {day(self.date_to)}"
        return "whenever they began"


def plans_range_read(params) -> PlansRange:
    """The range a query string asks for (`params`: a QueryDict or a dict of strings)."""
    dates = {k: params.get(k) for k in ("date_from", "date_to") if params.get(k)}
    if dates:
        form = ReportFilterForm(dates)
        if form.is_valid():
            return PlansRange("dates", form.cleaned_data["date_from"], form.cleaned_data["date_to"])
        errors = tuple(f"{e}" for field in form.errors.values() for e in field)
        return _preset(DEFAULT_RANGE, errors=errors)
    key = params.get("range")
    return _preset(key if key in RANGES else DEFAULT_RANGE)


def _preset(key: str, *, errors: tuple[str, ...] = ()) -> PlansRange:
    days = RANGES[key][1]
    if days is None:
        return PlansRange(key, None, None, errors)
    today = timezone.localdate()
    return PlansRange(key, today - timedelta(days=days - 1), today, errors)


def _sort_key(results: dict[int, PlanResults], figure, field):
    """One figure of every plan as a `CASE` on its id, to sort by (none: -1, after 0)."""
    whens = [When(pk=pk, then=Value(figure(r))) for pk, r in results.items() if figure(r) is not None]
    return Case(*whens, default=Value(-1 if field is FloatField else 0), output_field=field())


def _float(value) -> float | None:
    return None if value is None else float(value)


def _ratio(value, results: PlanResults) -> float | None:
    """`value` over enrolled, unrounded (what the list sorts by; None: nothing to divide)."""
    return None if value is None or not results.enrolled else float(value) / results.enrolled


@dataclass(frozen=True)
class PlanRow:
    """What a row of the list shows of a plan's results."""

    results: PlanResults
    report_url: str


class PlansChangeList(ChangeList):
    """The plans list, with each plan's results for the range asked (see the module)."""

    def __init__(self, request, *args, **kwargs):
        self.plans_range = plans_range_read(request.GET)
        self.plan_results: dict[int, PlanResults] | None = None
        super().__init__(request, *args, **kwargs)

    def get_filters_params(self, params=None):
        # The range is not a lookup on the plans (it stays in every link of the page).
        lookups = super().get_filters_params(params)
        for name in PARAMS:
            lookups.pop(name, None)
        return lookups

    def get_queryset(self, request, exclude_parameters=None):
        if self.plan_results is None:
            rng = self.plans_range
            self.plan_results = plans_results(
                plan_ids=list(Plan.objects.order_by().values_list("pk", flat=True)),
                date_from=rng.date_from,
                date_to=rng.date_to,
            )
            r = self.plan_results
            self.root_queryset = self.root_queryset.annotate(
                results_enrolled=_sort_key(r, lambda x: x.enrolled, IntegerField),
                results_conversion=_sort_key(r, lambda x: _ratio(x.conversions, x), FloatField),
                results_revenue=_sort_key(r, lambda x: _float(x.revenue), FloatField),
                results_per_recipient=_sort_key(r, lambda x: _ratio(x.revenue, x), FloatField),
            )
        return super().get_queryset(request, exclude_parameters)

    def get_results(self, request):
        super().get_results(request)
        self.result_list = list(self.result_list)
        query = self.plans_range.query
        for plan in self.result_list:
            url = reverse("admin:automation_plan_report", args=[plan.pk])
            plan.results_row = PlanRow(
                results=self.plan_results.get(plan.pk, NOTHING), report_url=f"{url}?{query}" if query else url
            )

    @property
    def range_choices(self) -> list[tuple[str, str, str, bool]]:
        """The presets as links: (key, label, query string, selected)."""
        return [
            (
                key,
                label,
                self.get_query_string({"range": key}, ["date_from", "date_to"]),
                key == self.plans_range.key,
            )
            for key, (label, _) in RANGES.items()
        ]

    @property
    def range_kept_params(self) -> list[tuple[str, str]]:
        """The page's other parameters (search, filters, sort), kept by the dates' form."""
        return [(k, v) for k, v in self.params.items() if k not in PARAMS]


def _row(plan: Plan) -> PlanRow:
    return getattr(plan, "results_row", None) or PlanRow(NOTHING, "")


def _money(value) -> str:
    return "—" if value is None else f"{value:,.2f}"


class PlanResultsMixin:
    """The plans list's results columns (after the plan's status)."""

    def get_changelist(self, request, **kwargs):
        return PlansChangeList

    def get_list_display(self, request):
        shown = list(super().get_list_display(request))
        at = shown.index("status_entry") + 1 if "status_entry" in shown else len(shown)
        columns = ["results_enrolled", "results_conversion", "results_revenue", "results_per_recipient"]
        return [*shown[:at], *columns, *shown[at:]]

    @admin.display(description="Enrolled", ordering="results_enrolled")
    def results_enrolled(self, plan: Plan) -> str:
        row = _row(plan)
        if not row.report_url:
            return str(row.results.enrolled)
        return format_html(
            '<a href="{}" title="This plan\'s report for the same range">{}</a>',
            row.report_url,
            f"{row.results.enrolled:,}",
        )

    @admin.display(description="Conversion", ordering="results_conversion")
    def results_conversion(self, plan: Plan) -> str:
        results = _row(plan).results
        if results.conversion_rate is None:
            return "—"
        return format_html(
            '{}%<br><span class="help results-conversions">{} conversion{}</span>',
            results.conversion_rate,
            f"{results.conversions:,}",
            "" if results.conversions == 1 else "s",
        )

    @admin.display(description="Revenue", ordering="results_revenue")
    def results_revenue(self, plan: Plan) -> str:
        return _money(_row(plan).results.revenue)

    @admin.display(description="Revenue per recipient", ordering="results_per_recipient")
    def results_per_recipient(self, plan: Plan) -> str:
        return _money(_row(plan).results.revenue_per_recipient)

    @admin.display(description="Cockpit")
    def cockpit_links(self, plan: Plan) -> str:
        """The report for the list's range (its figures are the list's), and Try it."""
        return format_html(
            '<a href="{}">Report</a> · <a href="{}">Try it</a>',
            _row(plan).report_url or reverse("admin:automation_plan_report", args=[plan.pk]),
            reverse("admin:automation_plan_simulator", args=[plan.pk]),
        )
