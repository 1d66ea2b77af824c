"""Texts live in plan steps now (docs/reference.md §6): the separate SMS message type is gone."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0004_outbound_drop_state"),
        ("automation", "0010_drop_states"),
    ]

    operations = [
        migrations.DeleteModel(name="SmsMessage"),
        migrations.AlterField(
            model_name="outboundmessage",
            name="purpose",
            field=models.CharField(
                choices=[
                    ("prompt", "Step text"),
                    ("fallback", "Fallback (unmatched reply)"),
                    ("reminder", "Reminder (timeout)"),
                    ("expiry", "Expiry text"),
                    ("help", "Help answer"),
                    ("opt_out_confirmation", "Opt-out confirmation"),
                    ("bulk", "Bulk / campaign"),
                ],
                max_length=32,
            ),
        ),
    ]
