"""Marketers watch the sending queue (docs/cockpit.md, "The sending queue") and see the
senders their plans send from, read-only: only superusers add or change senders."""

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
        group.permissions.add(Permission.objects.get(content_type__app_label="messaging", codename="view_sender"))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Marketers").first()
    permission = Permission.objects.filter(content_type__app_label="messaging", codename="view_sender").first()
    if group is not None and permission is not None:
        group.permissions.remove(permission)


class Migration(migrations.Migration):
    dependencies = [("automation", "0020_enrollment_sender"), ("messaging", "0010_pipeline_senders_lanes")]

    operations = [migrations.RunPython(grant, revoke)]
