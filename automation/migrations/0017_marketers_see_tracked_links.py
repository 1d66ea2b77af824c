"""Marketers watch their plans: they see the tracked links and their clicks (written by
sending and clicking, never edited in the admin)."""

from django.db import migrations


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Marketers").first()
    if group is not None:
        group.permissions.add(Permission.objects.get(content_type__app_label="tracking", codename="view_trackedlink"))


class Migration(migrations.Migration):
    dependencies = [("automation", "0016_bulk_no_consent"), ("tracking", "0006_tracked_links")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
