"""The "Marketers" group: staff users in it author plans, messages and goals in the admin,
see contacts and their history, start bulk enrollments, and administer no users or groups."""

from django.db import migrations

MARKETERS = "Marketers"

PERMISSIONS = {
    # app_label: {model: actions}
    "automation": {
        "plan": ["add", "change", "delete", "view"],
        "planstate": ["add", "change", "delete", "view"],
        "transition": ["add", "change", "delete", "view"],
        "enrollment": ["view"],
        "enrollmentstep": ["view"],
        "bulkenrollmentjob": ["add", "view"],
    },
    "messaging": {
        "smsmessage": ["add", "change", "delete", "view"],
        "outboundmessage": ["view"],
    },
    "tracking": {
        "goal": ["add", "change", "delete", "view"],
        "interaction": ["view"],
        "goalconversion": ["view"],
    },
    "contacts": {
        "contact": ["add", "change", "view"],
        "consentevent": ["view"],
    },
}


def create_marketers(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after migrate; create them now so they can be granted.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=MARKETERS)
    wanted = []
    for app_label, models in PERMISSIONS.items():
        for model, actions in models.items():
            for action in actions:
                wanted.append(
                    Permission.objects.get(content_type__app_label=app_label, codename=f"{action}_{model}")
                )
    group.permissions.set(wanted)


def remove_marketers(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=MARKETERS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("automation", "0002_initial"),
        ("contacts", "0001_initial"),
        ("messaging", "0001_initial"),
        ("tracking", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_marketers, remove_marketers)]
