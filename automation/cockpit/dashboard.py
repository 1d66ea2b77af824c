"""The admin's home is a dashboard (docs/cockpit.md, "The dashboard"): today's, the last
7 or 30 days' figures with their change from the period before, a chart per day, the
active plans and what needs attention; the apps the user may use below it. Wired in
smsjourney/urls.py in place of the admin's index; shown to whoever may see the plans
(Marketers, superusers), others get the admin's plain index. A thin door onto
``automation.cockpit.dashboard_figures``, ``automation.engine.plans.plans_warnings`` and
``messaging.selectors.sender_queues``."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode

from automation.cockpit.chart import COLOURS, line_chart
from automation.cockpit.dashboard_figures import (
    FAILING,
    LABELS,
    PERIOD_LABELS,
    PERIODS,
    DashboardFigures,
    PlanFigures,
    dashboard_figures,
)
from automation.engine.plans import plans_warnings
from messaging.selectors import sender_queues

# A sender whose campaign will take longer than this to drain needs attention.
QUEUE_HOURS = 1
# The active plans' warnings are kept this long (seconds): checking them reads every active
# plan's document (up to 1 MB each); they change when a plan is published or activated
# (a new key) or a secret or setting changes (seen within a minute).
WARNINGS_SECONDS = 60
CHARTED = ("inbound", "replies", "clicks", "conversions", "opt_outs", "failing")


@dataclass(frozen=True)
class Attention:
    text: str
    url: str | None = None
    kind: str = "warning"  # "warning" or "error"


def _warnings(plans: list[PlanFigures]) -> dict[int, list[str]]:
    key = "dashboard-warnings:" + ",".join(f"{p.plan.pk}.{p.plan.published_id}" for p in plans)
    found = cache.get(key)
    if found is None:
        found = plans_warnings(plans=[p.plan for p in plans])
        cache.set(key, found, WARNINGS_SECONDS)
    return found


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _attention(request: HttpRequest, figures: DashboardFigures) -> list[Attention]:
    user, items = request.user, []
    failing = figures.counts["failing"]
    if failing:
        url = None
        if user.has_perm("messaging.view_outboundmessage"):
            query = urlencode({"status__in": ",".join(FAILING)})
            url = reverse("admin:messaging_outboundmessage_changelist") + "?" + query
        when = "today" if figures.period == "today" else f"in the last {PERIODS[figures.period]} days"
        items.append(
            Attention(f"{_plural(failing, 'text')} failed or went undelivered {when}.", url, "error")
        )
    for p in figures.plans:
        warnings = _warnings(figures.plans).get(p.plan.pk, [])
        if warnings:
            items.append(
                Attention(
                    f"“{p.plan.name}” has {_plural(len(warnings), 'warning')}: {warnings[0]}",
                    reverse("admin:automation_plan_change", args=[p.plan.pk]),
                )
            )
    if user.has_perm("messaging.view_sender"):
        for queue in sender_queues():
            if queue.drain_seconds and queue.drain_seconds >= QUEUE_HOURS * 3600:
                items.append(
                    Attention(
                        f"{queue.label}: its campaign texts will have gone in {queue.drained_in} "
                        f"({queue.campaign_waiting} waiting).",
                        reverse("sending_queue"),
                    )
                )
    return items


def dashboard_context(request: HttpRequest) -> dict:
    period = request.GET.get("period", "today")
    if period not in PERIODS:
        period = "today"
    figures = dashboard_figures(period=period)
    days = [d for d, _ in figures.days]
    series = [(LABELS[k], [row[k] for _, row in figures.days]) for k in CHARTED]
    return {
        "dashboard": figures,
        "periods": [(key, label, key == period) for key, label in PERIOD_LABELS.items()],
        "period_label": PERIOD_LABELS[period],
        "chart": line_chart(days=days, series=series, label="Figures per day"),
        "legend": [(LABELS[k], c) for k, c in zip(CHARTED, COLOURS, strict=False)],
        "charted": CHARTED,
        "attention": _attention(request, figures),
    }


def dashboard_view(request: HttpRequest):
    """The admin's index, with the dashboard first for those who may see the plans."""
    extra = dashboard_context(request) if request.user.has_perm("automation.view_plan") else {}
    return admin.site.index(request, extra_context=extra)
