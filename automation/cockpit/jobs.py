"""The cockpit's periodic jobs (``settings.CELERY_BEAT_SCHEDULE``; a module of its own,
listed in ``CELERY_IMPORTS``: the engine's ``automation.tasks`` must not import the
cockpit)."""

from automation.cockpit.dashboard_figures import dashboard_days_refresh
from automation.cockpit.reports.days import report_days_refresh
from automation.models import Plan
from infra.cron import cron_task


@cron_task("report_days_refresh_task")
def report_days_refresh_task() -> dict:
    """The daily roll-ups: the plan reports' (automation.cockpit.reports.days: every plan's
    days that may have changed, counted again) and the dashboard's settled days not counted
    yet (automation.cockpit.dashboard_figures), so that no marketer's request waits for
    them."""
    days = sum(report_days_refresh(plan=plan) for plan in Plan.objects.order_by("pk"))
    return {"days": days, "dashboard_days": dashboard_days_refresh()}
