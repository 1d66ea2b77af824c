"""Marketers may start bulk enrollments and watch their progress."""

from django.db import migrations

CODENAMES = ["add_bulkenrollmentjob", "view_bulkenrollmentjob"]


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Marketers")
    group.permissions.add(*Permission.objects.filter(content_type__app_label="automation", codename__in=CODENAMES))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="Marketers"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="automation", codename__in=CODENAMES)
        )


class Migration(migrations.Migration):
    dependencies = [("automation", "0004_bulk_enrollment_job")]

    operations = [migrations.RunPython(grant, revoke)]
