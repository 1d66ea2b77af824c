"""Step history for the report that follows the flow (issue 11): each row names its plan
(reports read a plan's rows without joining enrollments), the step it came from, and the
answer or branch that moved it. Existing rows are filled in: their plan, the step before
them, and the branch of rows that recorded one in their detail."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, Substr


def backfill(apps, schema_editor):
    Enrollment = apps.get_model("automation", "Enrollment")
    EnrollmentStep = apps.get_model("automation", "EnrollmentStep")
    EnrollmentStep.objects.update(
        plan_id=Subquery(Enrollment.objects.filter(pk=OuterRef("enrollment_id")).values("plan_id")[:1])
    )
    before = (
        EnrollmentStep.objects.filter(enrollment_id=OuterRef("enrollment_id"))
        .filter(
            Q(occurred_at__lt=OuterRef("occurred_at"))
            | Q(occurred_at=OuterRef("occurred_at"), id__lt=OuterRef("id"))
        )
        .order_by("-occurred_at", "-id")
        .values("step_id")[:1]
    )
    EnrollmentStep.objects.exclude(via="enroll").update(from_step_id=Coalesce(Subquery(before), Value("")))
    EnrollmentStep.objects.filter(detail__startswith="branch ").update(
        value=Substr("detail", 8), value_kind="branch"
    )
    if schema_editor.connection.vendor == "postgresql":
        # Check the new foreign key now: the index Django builds for it after this function
        # cannot be made while its checks are pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("automation", "0012_simulator_branches"),
        ("tracking", "0004_interaction_route_attempts"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="enrollmentstep",
            name="automation__step_id_0b6c73_idx",
        ),
        migrations.AddField(
            model_name="enrollmentstep",
            name="from_step_id",
            field=models.CharField(blank=True, max_length=50),
        ),
        migrations.AddField(
            model_name="enrollmentstep",
            name="plan",
            field=models.ForeignKey(
                null=True, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="automation.plan"
            ),
        ),
        migrations.AddField(
            model_name="enrollmentstep",
            name="value",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="enrollmentstep",
            name="value_kind",
            field=models.CharField(
                blank=True,
                choices=[
                    ("number", "Number"),
                    ("choice", "Choice"),
                    ("text", "Free text"),
                    ("private", "Private (not kept)"),
                    ("branch", "Branch"),
                ],
                max_length=10,
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="enrollmentstep",
            name="via",
            field=models.CharField(
                choices=[
                    ("enroll", "Enrolled"),
                    ("reply", "Reply"),
                    ("timeout", "Timer"),
                    ("event", "Event"),
                    ("http", "Web service answer"),
                    ("step", "Went on at once"),
                    ("complete", "Completed"),
                    ("expiry", "Expired"),
                    ("opt_out", "Opted out"),
                    ("exit", "Exited"),
                    ("fail", "Failed"),
                ],
                max_length=16,
            ),
        ),
    ]
