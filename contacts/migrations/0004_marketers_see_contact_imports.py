"""Marketers import contacts: they may see the imports and their progress."""

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
            Permission.objects.get(content_type__app_label="contacts", codename="view_contactimport")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0003_contact_import"),
        ("automation", "0003_marketers_group"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
