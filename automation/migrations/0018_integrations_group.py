"""The "Integrations" group: what another system's API user needs — post events (docs/reference.md
§7: tracking.add_interaction) and read contacts (§3: contacts.view_contact). Put a shop's
user in it and give it a token (manage.py drf_create_token)."""

from django.db import migrations

GRANTS = {"tracking": ["add_interaction"], "contacts": ["view_contact"]}


def create(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Integrations")
    for app_label, codenames in GRANTS.items():
        group.permissions.add(*Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [("automation", "0017_marketers_see_tracked_links"), ("contacts", "0006_marketing_consent")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
