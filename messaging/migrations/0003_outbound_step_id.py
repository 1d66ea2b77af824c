from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0002_delivery_statuses"),
    ]

    operations = [
        migrations.AddField(
            model_name="outboundmessage",
            name="step_id",
            field=models.CharField(blank=True, default="", max_length=50),
        ),
    ]
