"""Plans become flows, last step: the states, transitions and graph stamp are gone; every
enrollment names its revision."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("automation", "0009_plans_to_revisions"),
        ("messaging", "0004_outbound_drop_state"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="enrollmentstep", name="automation__state_i_fc2c47_idx"),
        migrations.RemoveField(model_name="enrollmentstep", name="state"),
        migrations.AddIndex(
            model_name="enrollmentstep",
            index=models.Index(fields=["step_id", "enrollment"], name="automation__step_id_0b6c73_idx"),
        ),
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
                    ("expiry", "Expired"),
                    ("opt_out", "Opted out"),
                    ("exit", "Exited"),
                    ("fail", "Failed"),
                ],
                max_length=16,
            ),
        ),
        migrations.RemoveField(model_name="enrollment", name="current_state"),
        migrations.RemoveField(model_name="enrollment", name="fallback_sent"),
        migrations.AlterField(
            model_name="enrollment",
            name="revision",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="enrollments",
                to="automation.planrevision",
            ),
        ),
        migrations.DeleteModel(name="Transition"),
        migrations.DeleteModel(name="PlanState"),
        migrations.DeleteModel(name="PlanGraphStamp"),
        migrations.RemoveField(model_name="plan", name="entry_trigger"),
        migrations.RemoveField(model_name="plan", name="entry_keywords"),
        migrations.RemoveField(model_name="plan", name="reentry"),
        migrations.RemoveField(model_name="plan", name="interrupts_other_plans"),
        migrations.RemoveField(model_name="plan", name="enrollment_lifetime"),
        migrations.RemoveField(model_name="plan", name="expiry_text"),
    ]
