"""Daily roll-ups the cockpit reads (kept beside the models: automation.models imports them):
a plan report's figures per day (``ReportDay``) and the dashboard's (``DashboardDay``)."""

from django.db import models

from automation.models import Plan


class ReportDay(models.Model):
    """A plan's report figures for the enrollments begun on one day (site timezone), kept by
    the periodic job `report_days_refresh_task` (automation.cockpit.reports.days): the
    report adds the days of its range and counts live only what began since `computed_at`."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    figures = models.JSONField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "day"], name="report_day_unique")]

    def __str__(self) -> str:
        return f"{self.plan_id} {self.day}"


class DashboardDay(models.Model):
    """One day's figures for the dashboard (automation.cockpit.dashboard_figures), counted
    once the day is settled: the site's (plan NULL) or one plan's (enrolled, converted,
    revenue). Days in the site's timezone; a row is never changed."""

    day = models.DateField()
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    inbound, replies, opt_outs, clicks, conversions, failing, enrolled, converted = (
        models.PositiveIntegerField(default=0) for _ in range(8)
    )
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    counted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "plan"], name="dashboard_plan_day_once"),
            models.UniqueConstraint(fields=["day"], condition=models.Q(plan=None), name="dashboard_day_once"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.plan_id or 'site'}"
