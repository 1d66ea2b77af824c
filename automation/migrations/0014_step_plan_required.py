"""Every step row names its plan (filled in by 0013, in a transaction of its own: on
PostgreSQL a table with pending foreign-key checks cannot be altered in the same one)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("automation", "0013_step_history_for_reports")]

    operations = [
        migrations.AlterField(
            model_name="enrollmentstep",
            name="plan",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, related_name="+", to="automation.plan"
            ),
        ),
        migrations.AddIndex(
            model_name="enrollmentstep",
            index=models.Index(
                fields=["plan", "step_id", "enrollment"], name="automation__plan_id_ac08ae_idx"
            ),
        ),
    ]
