"""Marketers author plans: they see every revision (revisions are written by publishing,
never edited in the admin)."""

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
        group.permissions.add(
            Permission.objects.get(content_type__app_label="automation", codename="view_planrevision")
        )


class Migration(migrations.Migration):
    dependencies = [("automation", "0010_drop_states")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
