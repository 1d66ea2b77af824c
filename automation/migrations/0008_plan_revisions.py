"""Plans become flows (docs/reference.md §6), first step: revisions and the enrollment's step id
beside the old states (0009 converts, 0010 drops the old model)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("automation", "0007_bulk_enrollment_batch"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PlanRevision",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveIntegerField()),
                ("document", models.JSONField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("published_at", models.DateTimeField(blank=True, null=True)),
                ("note", models.CharField(blank=True, max_length=200)),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "published_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "plan",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="revisions", to="automation.plan"
                    ),
                ),
            ],
            options={
                "ordering": ["plan", "-number"],
                "constraints": [
                    models.UniqueConstraint(fields=("plan", "number"), name="revision_number_unique_in_plan"),
                    models.UniqueConstraint(
                        condition=models.Q(("published_at__isnull", True)), fields=("plan",), name="one_draft_per_plan"
                    ),
                ],
            },
        ),
        migrations.AddField(
            model_name="plan",
            name="published",
            field=models.ForeignKey(
                blank=True,
                help_text="The revision new enrollments take.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="automation.planrevision",
            ),
        ),
        migrations.AddField(
            model_name="enrollment",
            name="revision",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="enrollments",
                to="automation.planrevision",
            ),
        ),
        migrations.AddField(
            model_name="enrollment",
            name="step_id",
            field=models.CharField(default="", help_text="The step of its revision it is at.", max_length=50),
            preserve_default=False,
        ),
        migrations.RenameField(model_name="enrollment", old_name="state_entered_at", new_name="step_entered_at"),
        migrations.AddField(
            model_name="enrollment",
            name="visit",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="enrollment",
            name="other_count",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="Unmatched replies answered at this visit of the step."
            ),
        ),
        migrations.AddField(
            model_name="enrollment",
            name="branches",
            field=models.JSONField(blank=True, default=dict, help_text="Split step id → the branch name taken."),
        ),
        migrations.AddField(
            model_name="enrollmentstep",
            name="step_id",
            field=models.CharField(blank=True, max_length=50, default=""),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="enrollmentstep",
            name="detail",
            field=models.CharField(blank=True, help_text="The branch taken, the value saved …", max_length=200),
        ),
    ]
