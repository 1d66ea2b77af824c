from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0003_outbound_step_id"),
        ("automation", "0009_plans_to_revisions"),
    ]

    operations = [
        migrations.RemoveField(model_name="outboundmessage", name="state"),
        migrations.RemoveField(model_name="outboundmessage", name="sms_message"),
    ]
