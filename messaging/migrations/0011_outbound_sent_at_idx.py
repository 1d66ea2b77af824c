"""The sending queue's rate now (messaging.selectors.sender_queues): the texts Twilio
accepted in the last minute, read by a range of this index rather than the whole table."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("messaging", "0010_pipeline_senders_lanes")]

    operations = [
        migrations.AddIndex(
            model_name="outboundmessage",
            index=models.Index(fields=["sent_at"], name="outbound_sent_at_idx"),
        ),
    ]
