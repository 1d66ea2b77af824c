"""The consent log keeps the name of the person who recorded a change (actor_name), so an
audit still reads who did it after their user is deleted; the rows a person recorded so far
get their user's name now."""

from django.db import migrations, models


def names_from_users(apps, schema_editor):
    ConsentEvent = apps.get_model("contacts", "ConsentEvent")
    rows = ConsentEvent.objects.filter(actor__isnull=False, actor_name="").select_related("actor")
    for event in rows.iterator(chunk_size=500):
        user = event.actor
        full = f"{user.first_name} {user.last_name}".strip()  # as contacts.services.consent_actor_name
        event.actor_name = (f"{full} ({user.username})" if full else user.username)[:200]
        event.save(update_fields=["actor_name"])


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0006_marketing_consent"),
    ]

    operations = [
        migrations.AddField(
            model_name="consentevent",
            name="actor_name",
            field=models.CharField(
                blank=True,
                help_text="The person who recorded it, by name (kept when their user is deleted).",
                max_length=200,
            ),
        ),
        migrations.RunPython(names_from_users, migrations.RunPython.noop),
    ]
