"""The dashboard's settled days (docs/cockpit.md, "The dashboard"): one row per day for the
site and per plan, counted once (automation.cockpit.dashboard_figures)."""


import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('automation', '0022_report_days'),
    ]

    operations = [
        migrations.CreateModel(
            name='DashboardDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('inbound', models.PositiveIntegerField(default=0)),
                ('replies', models.PositiveIntegerField(default=0)),
                ('opt_outs', models.PositiveIntegerField(default=0)),
                ('clicks', models.PositiveIntegerField(default=0)),
                ('conversions', models.PositiveIntegerField(default=0)),
                ('failing', models.PositiveIntegerField(default=0)),
                ('enrolled', models.PositiveIntegerField(default=0)),
                ('converted', models.PositiveIntegerField(default=0)),
                ('revenue', models.DecimalField(decimal_places=2, default=0, max_digits=16)),
                ('counted_at', models.DateTimeField()),
                ('plan', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='automation.plan')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('day', 'plan'), name='dashboard_plan_day_once'), models.UniqueConstraint(condition=models.Q(('plan', None)), fields=('day',), name='dashboard_day_once')],
            },
        ),
    ]
