"""Benchmark: the admin's home, the dashboard (automation.cockpit.dashboard), on 1,000,000
enrollments and 10,000,000 interactions.

    .venv/bin/python bench/dashboard.py [--interactions 10000000] [--enrollments 1000000] [--keep]

Creates its own PostgreSQL database (``sj_bench_dashboard`` on 127.0.0.1, dropped first and
at the end unless ``--keep``; ``--reuse`` times a kept one again), migrates, and seeds it
inside PostgreSQL (``INSERT … SELECT`` over ``generate_series``: Python would take most of
the time budget building 10 M rows): five active plans, one contact per enrollment with a
consent event each and 2 % opted out, N enrollments spread over the last 90 days (20 %
converting, with a value), and M interactions spread over the same 90 days up to now —
45 % inbound texts, 45 % outbound texts (each with its ``OutboundMessage``: a third
answering the contact, 2 % failed or undelivered), 5 % first clicks (``link_click``
events), 5 % other events; then ``VACUUM ANALYZE``. Then, with the test client as a
superuser, it times ``GET /admin/?period=…`` for today, 7 and 30 days: the first request
(which counts the settled days once) and the best and median of ``--repeat`` more, with
their SQL queries; ``--explain`` prints the plan of the live interactions query.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.plan_page import django_setup  # noqa: E402

DBNAME = "sj_bench_dashboard"
DAYS = 90


def sql(statement: str, params=None) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
    return time.perf_counter() - started


def seed(*, enrollments: int, interactions: int) -> None:
    import json

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from automation.engine.plans import plan_import
    from automation.models import Plan

    call_command("migrate", verbosity=0)
    get_user_model().objects.create_superuser("bench", password="x")
    document = json.loads((ROOT / "docs/plans/spring-survey.json").read_text())
    plans = []
    for i in range(5):
        entry = {**document.get("entry", {}), "trigger": "keyword", "keywords": [f"BENCH{i}"]}
        plan = plan_import(document={**document, "slug": f"bench-{i}", "name": f"Bench {i}", "entry": entry})
        plan = plan.plan
        Plan.objects.filter(pk=plan.pk).update(status=Plan.Status.ACTIVE)
        plans.append((plan.pk, plan.published_id))
    goal = call_goal()
    started = time.perf_counter()
    n, m = enrollments, interactions
    span = f"{DAYS} * 86400"
    steps = [
        (
            "contacts",
            "INSERT INTO contacts_contact (phone, opted_out, opted_out_at, created_at, updated_at, is_test) "
            "SELECT '+1555' || lpad(i::text, 7, '0'), i % 50 = 0, "
            f"CASE WHEN i % 50 = 0 THEN now() - ((i::bigint * 7919) % ({span})) * interval '1 second' END, "
            f"now(), now(), i > {n} FROM generate_series(1, {n + 10}) i",
        ),
        (
            "consent events",
            "INSERT INTO contacts_consentevent (contact_id, kind, source, detail, text, rule, actor_name, "
            "occurred_at) SELECT id, 'consent', 'import', '', '', '', '', now() - interval '100 days' "
            "FROM contacts_contact UNION ALL SELECT id, 'opt_out', 'keyword', 'STOP', 'STOP', '', '', "
            "opted_out_at FROM contacts_contact WHERE opted_out",
        ),
        (
            "enrollments",
            "INSERT INTO automation_enrollment (contact_id, plan_id, revision_id, step_id, status, "
            "enrolled_at, expires_at, step_entered_at, visit, other_count, branches, end_reason) "
            "SELECT c.id, p.plan_id, p.revision_id, 'vip', "
            "(ARRAY['active','completed','expired','opted_out'])[1 + c.id % 4], "
            f"now() - ((c.id::bigint * 7919) % ({span})) * interval '1 second', "
            "now() + interval '7 days', now(), "
            "0, 0, '{}', '' FROM contacts_contact c "
            "JOIN (SELECT * FROM unnest(%s::int[], %s::int[]) "
            "WITH ORDINALITY AS t(plan_id, revision_id, k)) p "
            "ON p.k = 1 + c.id % 5",
        ),
        (
            "goal conversions",
            "INSERT INTO tracking_goalconversion "
            "(contact_id, goal_id, enrollment_id, points, value, occurred_at) "
            "SELECT contact_id, %s, id, 10, 10 + id % 90, enrolled_at + interval '3 hours' "
            "FROM automation_enrollment WHERE id % 5 = 0 AND enrolled_at + interval '3 hours' < now()",
        ),
        (
            "interactions",
            "INSERT INTO tracking_interaction "
            "(contact_id, channel, direction, from_address, to_address, body, "
            "media, raw_payload, created_at, routed_at, route_attempts, route_error) "
            f"SELECT 1 + (i::bigint * 7) % {n}, CASE WHEN i % 20 < 18 THEN 'sms' ELSE 'api' END, "
            "CASE WHEN i % 20 < 9 OR i % 20 >= 18 THEN 'inbound' ELSE 'outbound' END, '', '', "
            "CASE WHEN i % 20 = 18 THEN 'link_click' WHEN i % 20 = 19 THEN 'purchase' ELSE 'Hi' END, "
            "'[]', '{}', "
            f"now() - ((i::bigint * 104729) % ({span}::bigint * 1000)) * interval '1 millisecond', "
            f"now(), 0, '' FROM generate_series(1, {m}) i",
        ),
        (
            "outbound messages",
            "INSERT INTO messaging_outboundmessage (interaction_id, contact_id, step_id, purpose, to_number, "
            "from_number, lane, segments, content_sid, content_variables, media_urls, answers_contact, "
            "status, hold_reason, attempts, error_code, error_message, created_at) "
            "SELECT id, contact_id, '', 'prompt', '', '', 1, 1, '', '{}', '[]', id % 3 = 0, "
            "CASE WHEN id % 50 = 0 THEN 'failed' WHEN id % 50 = 1 THEN 'undelivered' ELSE 'delivered' END, "
            "'', 1, '', '', created_at FROM tracking_interaction WHERE direction = 'outbound'",
        ),
    ]
    plan_ids, revision_ids = [p for p, _ in plans], [r for _, r in plans]
    for label, statement in steps:
        params = (plan_ids, revision_ids) if label == "enrollments" else (goal,) if "goal" in label else None
        if params:
            statement = statement.replace("%", "%%").replace("%%s", "%s")
        print(f"  {label}: {sql(statement, params):.1f} s", flush=True)
    print(f"  VACUUM ANALYZE: {sql('VACUUM ANALYZE'):.1f} s")
    print(f"  seeded in {time.perf_counter() - started:.1f} s")


def call_goal() -> int:
    from tracking.models import Goal

    goal, _ = Goal.objects.get_or_create(slug="bench-buy", defaults={"name": "Bench buy", "points": 10})
    return goal.pk


def counts() -> str:
    from django.db import connection

    out = []
    with connection.cursor() as cursor:
        for table in (
            "contacts_contact",
            "contacts_consentevent",
            "automation_enrollment",
            "tracking_goalconversion",
            "tracking_interaction",
            "messaging_outboundmessage",
        ):
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
            out.append(f"{table} ≈ {cursor.fetchone()[0]:,}")
    return "; ".join(out)


def time_page(client, period: str, *, repeat: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    results = {}
    for label, runs in (("first", 1), ("warm", repeat)):
        times = []
        for _ in range(runs):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                page = client.get("/admin/", {"period": period})
                times.append(time.perf_counter() - started)
            assert page.status_code == 200, page.status_code
        results[label] = (min(times), statistics.median(times), len(queries.captured_queries))
    return results


def explain() -> None:
    """EXPLAIN ANALYZE the live passes over interactions and outgoing texts (yesterday and
    today), as the dashboard runs them."""
    from django.db import connection
    from django.utils import timezone

    from automation.cockpit import dashboard_figures as figures

    captured = []

    def capture(execute, sql, params, many, context):
        if "tracking_interaction" in sql or "messaging_outboundmessage" in sql:
            captured.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        figures.dashboard_figures(period="today", now=timezone.now())
    with connection.cursor() as cursor:
        for statement, params in captured[-2:]:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            for (line,) in cursor.fetchall():
                print("    " + line)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--enrollments", type=int, default=1_000_000)
    parser.add_argument("--interactions", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the sj_bench_dashboard database")
    parser.add_argument("--reuse", action="store_true", help="time the database an earlier --keep run left")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the live interactions pass")
    args = parser.parse_args()

    from bench.common import database_drop, database_recreate, machine_busy, pg_url

    url = pg_url(DBNAME) if args.reuse else database_recreate(DBNAME)
    django_setup(url)
    try:
        from django.contrib.auth import get_user_model
        from django.test import Client

        if args.reuse:
            from django.core.management import call_command

            from automation.models import DashboardDay

            call_command("migrate", verbosity=0)
            DashboardDay.objects.all().delete()  # the first request counts the settled days again
            print(f"reusing {DBNAME} as seeded by an earlier --keep run")
        else:
            print(f"seeding {args.enrollments:,} enrollments, {args.interactions:,} interactions", flush=True)
            seed(enrollments=args.enrollments, interactions=args.interactions)
        print("  " + counts())
        client = Client()
        client.force_login(get_user_model().objects.get(username="bench"))
        busy0, total0 = machine_busy()
        for period in ("today", "7d", "30d"):
            r = time_page(client, period, repeat=args.repeat)
            print(
                f"dashboard {period:>5}: first request {r['first'][0]:.3f} s ({r['first'][2]} queries); "
                f"then best {r['warm'][0]:.3f} s, median {r['warm'][1]:.3f} s over {args.repeat} "
                f"({r['warm'][2]} queries)",
                flush=True,
            )
        busy1, total1 = machine_busy()
        print(f"  machine busy {100 * (busy1 - busy0) / max(total1 - total0, 1):.0f} % while timing")
        if args.explain:
            explain()
    finally:
        if not (args.keep or args.reuse):
            from django.db import connections

            connections.close_all()
            database_drop(DBNAME)
        os.environ.pop("DATABASE_URL", None)


if __name__ == "__main__":
    main()
