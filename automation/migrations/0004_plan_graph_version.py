"""The plan graph stamp: one row whose token database triggers rewrite whenever a row of
the journey graph changes (plans, states, transitions, SMS message types, goals), by any
path. automation.graph caches each process's copy of the graph under that token.

PostgreSQL: one statement-level trigger per table, the token drawn from a sequence (never
reused, not rolled back). SQLite: row-level triggers (it has no other kind), the token a
64-bit random number. Other databases get no triggers and automation.graph caches nothing.
"""

from django.db import migrations, models

GRAPH_TABLES = [
    ("automation", "Plan"),
    ("automation", "PlanState"),
    ("automation", "Transition"),
    ("messaging", "SmsMessage"),
    ("tracking", "Goal"),
]
STAMP = "automation_plangraphstamp"
FUNCTION = "automation_plan_graph_touch"
SEQUENCE = "automation_plan_graph_seq"


def _tables(apps) -> list[str]:
    return [apps.get_model(app, model)._meta.db_table for app, model in GRAPH_TABLES]


def triggers_create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    execute = schema_editor.execute
    if vendor == "postgresql":
        execute(f"CREATE SEQUENCE IF NOT EXISTS {SEQUENCE}")
        execute(
            f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN INSERT INTO {STAMP} (id, token) VALUES (1, nextval('{SEQUENCE}')) "
            f"ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token; RETURN NULL; END $$"
        )
        for table in _tables(apps):
            execute(
                f"CREATE TRIGGER {table}_graph_touch AFTER INSERT OR UPDATE OR DELETE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
            )
        execute(f"INSERT INTO {STAMP} (id, token) VALUES (1, nextval('{SEQUENCE}')) ON CONFLICT (id) DO NOTHING")
    elif vendor == "sqlite":
        for table in _tables(apps):
            for event in ("INSERT", "UPDATE", "DELETE"):
                execute(
                    f"CREATE TRIGGER {table}_graph_touch_{event.lower()} AFTER {event} ON {table} "
                    f"BEGIN INSERT INTO {STAMP} (id, token) VALUES (1, random()) "
                    f"ON CONFLICT (id) DO UPDATE SET token = excluded.token; END"
                )
        execute(f"INSERT OR IGNORE INTO {STAMP} (id, token) VALUES (1, random())")


def triggers_drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    execute = schema_editor.execute
    if vendor == "postgresql":
        for table in _tables(apps):
            execute(f"DROP TRIGGER IF EXISTS {table}_graph_touch ON {table}")
        execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
        execute(f"DROP SEQUENCE IF EXISTS {SEQUENCE}")
    elif vendor == "sqlite":
        for table in _tables(apps):
            for event in ("insert", "update", "delete"):
                execute(f"DROP TRIGGER IF EXISTS {table}_graph_touch_{event}")


class Migration(migrations.Migration):
    dependencies = [
        ("automation", "0003_marketers_group"),
        ("messaging", "0001_initial"),
        ("tracking", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="PlanGraphStamp",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("token", models.BigIntegerField()),
            ],
            options={"verbose_name": "plan graph stamp"},
        ),
        migrations.RunPython(triggers_create, triggers_drop, elidable=False),
    ]
