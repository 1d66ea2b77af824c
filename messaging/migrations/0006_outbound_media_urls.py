"""An outbound message may carry several images (a plan's `send` step lists `media`)."""

from django.db import migrations, models


def forwards(apps, schema_editor):
    OutboundMessage = apps.get_model("messaging", "OutboundMessage")
    for pk, url in OutboundMessage.objects.exclude(media_url="").values_list("pk", "media_url").iterator():
        OutboundMessage.objects.filter(pk=pk).update(media_urls=[url])


class Migration(migrations.Migration):
    dependencies = [("messaging", "0005_drop_sms_message")]

    operations = [
        migrations.AddField(
            model_name="outboundmessage",
            name="media_urls",
            field=models.JSONField(blank=True, default=list, help_text="Image URLs sent with it (MMS)."),
        ),
        migrations.RunPython(forwards, migrations.RunPython.noop),
        migrations.RemoveField(model_name="outboundmessage", name="media_url"),
    ]
