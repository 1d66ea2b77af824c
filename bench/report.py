"""Benchmark: the plan report (automation.cockpit.reports.plan_report) on 1,000,000 enrollments.

    .venv/bin/python bench/report.py [--n 1000000] [--repeat 3] [--keep] [--db sj_bench_…]

Creates its own PostgreSQL database (``sj_bench_report``, or ``--db``, on 127.0.0.1, dropped first and
at the end unless ``--keep``), migrates, and seeds with COPY the spring survey
(docs/plans/spring-survey.json: a field split, an A/B split, five ask steps) and N
enrollments from N contacts, enrolled over 90 days with every branch, answer and outcome
(`journey`), their step rows (3 to 7 each), goal conversions and one outbound message
(+ its interaction) each; plus a few test contacts that the report must leave out. Then
it times the report — all time, and a 30-day range — `--repeat` times each, and prints
the best and median wall time and the number of SQL queries (always the same: the
report is a fixed set of aggregate queries); and the plans list for the same range
(automation.cockpit.plans_list), checking that it says what the report says.
"""

import argparse
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DBNAME = "sj_bench_report"


def django_setup(url: str) -> None:
    import os

    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsjourney.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def journey(i: int) -> tuple[list[dict], str, list[str]]:
    """Enrollment i's way through the spring survey (docs/plans/spring-survey.json): its
    step rows (step, from, via, value, kind), its status, and the goals it reached; by i
    modulo 20, so every branch, answer and outcome has its share."""
    k = i % 20
    rows = [("vip", "", "enroll", "", "")]
    if k == 0:
        ask = "ask-vip"
        rows.append((ask, "vip", "step", "", ""))
    else:
        ask = "ask-a" if i % 2 else "ask-b"
        rows += [("ab", "vip", "step", "", ""), (ask, "ab", "step", "A" if i % 2 else "B", "branch")]
    if k in (1, 2, 3, 4):  # no answer (yet)
        return rows, ["active", "expired", "opted_out", "exited"][k - 1], []
    if k == 5:  # two hours of silence, a reminder, still nothing
        rows.append(("remind", ask, "timeout", "", ""))
        return rows, "expired", []
    score = i % 5 + 1
    goals = []
    if score >= 4:
        rows += [("thanks", ask, "reply", str(score), "number"), ("ask-email", "thanks", "step", "", "")]
        goals.append("promoter")
    else:
        rows += [
            ("sorry", ask, "reply", str(score), "number"),
            ("ask-email", "sorry", "reply", f"It was late ({i % 1000})", "text"),
        ]
    if i % 3 == 0:
        rows.append(("bye", "ask-email", "reply", "", "private"))
        goals.append("email-captured")
    elif i % 3 == 1:
        rows.append(("bye", "ask-email", "reply", "NO", "choice"))
    else:
        return rows, "active", goals
    return rows, "completed", goals


def seed(n: int) -> int:
    import json

    from django.core.management import call_command
    from django.db import connection

    from automation.engine.plans import plan_import
    from automation.models import Enrollment, EnrollmentStep
    from bench.expiry import NOW, copy_rows
    from contacts.models import Contact
    from messaging.models import OutboundMessage
    from tracking.models import Goal, GoalConversion, Interaction, TrackedLink

    call_command("migrate", verbosity=0)
    document = json.loads((ROOT / "docs/plans/spring-survey.json").read_text())
    plan = plan_import(document={**document, "slug": "bench", "name": "Bench"}).plan
    revision_id = plan.published_id
    goal_ids = dict(Goal.objects.values_list("slug", "id"))
    points = dict(Goal.objects.values_list("slug", "points"))
    started = time.perf_counter()
    tests = 10
    copy_rows(
        Contact,
        ({"phone": f"+1555{i:07d}", "is_test": i > n} for i in range(1, n + tests + 1)),
        count=n + tests,
    )

    def enrolled_at(i: int):
        return NOW - timedelta(days=90) + timedelta(seconds=(i * 7919) % (90 * 86400))

    total = n + tests  # the test contacts (ids n+1…) are enrolled too

    def enrollments():
        for i in range(1, total + 1):
            at = enrolled_at(i)
            rows, status, _ = journey(i)
            yield {
                "contact_id": i,
                "plan_id": plan.id,
                "revision_id": revision_id,
                "step_id": rows[-1][0],
                "status": status,
                "enrolled_at": at,
                "step_entered_at": at,
                "expires_at": at + timedelta(days=7),
                "ended_at": None if status == "active" else at + timedelta(days=1),
                "branches": {"ab": "A" if i % 2 else "B"} if i % 20 else {},
            }

    copy_rows(Enrollment, enrollments(), count=total)

    def steps():
        for i in range(1, total + 1):
            at = enrolled_at(i)
            for j, (step_id, source, via, value, kind) in enumerate(journey(i)[0]):
                yield {
                    "enrollment_id": i,
                    "plan_id": plan.id,
                    "step_id": step_id,
                    "from_step_id": source,
                    "via": via,
                    "value": value,
                    "value_kind": kind,
                    "occurred_at": at + timedelta(minutes=j),
                }

    copy_rows(EnrollmentStep, steps(), count=sum(len(journey(i)[0]) for i in range(1, total + 1)))

    def conversions():
        for i in range(1, total + 1):
            for slug in journey(i)[2]:
                yield {
                    "contact_id": i,
                    "goal_id": goal_ids[slug],
                    "enrollment_id": i,
                    "points": points[slug],
                    # Revenue (docs/reference.md §7): as if a purchase event converted it.
                    "value": Decimal(10 + i % 90) if slug == "promoter" else None,
                    "occurred_at": enrolled_at(i),
                }

    copy_rows(GoalConversion, conversions(), count=sum(len(journey(i)[2]) for i in range(1, total + 1)))

    copy_rows(
        Interaction,
        (
            {
                "contact_id": i,
                "direction": "outbound",
                "body": "Hi!",
                "created_at": enrolled_at(i),
                "enrollment_id": i,
            }
            for i in range(1, total + 1)
        ),
        count=total,
    )
    outcomes = ["delivered"] * 16 + ["sent", "undelivered", "failed", "queued"]
    copy_rows(
        OutboundMessage,
        (
            {
                "interaction_id": i,
                "contact_id": i,
                "enrollment_id": i,
                "step_id": journey(i)[0][-1][0],
                "purpose": "prompt",
                "to_number": f"+1555{i:07d}",
                "status": outcomes[i % 20],
                "created_at": enrolled_at(i),
            }
            for i in range(1, total + 1)
        ),
        count=total,
    )
    # Tracked links (docs/reference.md §7): the review link of every "thanks" text, a third clicked.
    thanked = [i for i in range(1, total + 1) if any(r[0] == "thanks" for r in journey(i)[0])]
    copy_rows(
        TrackedLink,
        (
            {
                "code": f"bench{i:07d}",
                "url": "https://example.com/review",
                "interaction_id": i,
                "contact_id": i,
                "enrollment_id": i,
                "clicks": (i % 3 == 0) * (1 + i % 4),
                "first_clicked_at": enrolled_at(i) if i % 3 == 0 else None,
                "created_at": enrolled_at(i),
            }
            for i in thanked
        ),
        count=len(thanked),
    )
    with connection.cursor() as cursor:
        # What autovacuum does in production soon after a bulk load: statistics and the
        # visibility map (index-only scans).
        cursor.execute("VACUUM ANALYZE")
    print(f"  seeded in {time.perf_counter() - started:.1f} s")
    return plan.id


def time_report(
    plan_id: int, *, repeat: int, date_from=None, date_to=None, per_query: bool = False
) -> tuple[list[float], int, object]:
    from django.db import connection

    from automation.cockpit.reports import plan_report
    from automation.models import Plan

    plan = Plan.objects.get(pk=plan_id)
    counter = {"n": 0}

    timings: list[tuple[float, str]] = []

    def count(execute, sql, params, many, context):
        counter["n"] += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append((time.perf_counter() - started, sql))

    times, report = [], None
    for _ in range(repeat):
        counter["n"] = 0
        timings.clear()
        with connection.execute_wrapper(count):
            started = time.perf_counter()
            report = plan_report(plan=plan, date_from=date_from, date_to=date_to)
            times.append(time.perf_counter() - started)
    if per_query:
        for seconds, sql in timings:
            print(f"    {seconds:6.2f} s  {sql[:150]}")
    return times, counter["n"], report


def time_plans_list(plan_id: int, *, repeat: int, query: dict, report) -> None:
    """The plans list with its results columns (automation.cockpit.plans_list), rendered as a
    superuser sees it for the same range; its figures must be the report's."""
    from django.contrib import admin
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import RequestFactory

    from automation.models import Plan

    counter, times = {"n": 0}, []

    def count(execute, sql, params, many, context):
        counter["n"] += 1
        return execute(sql, params, many, context)

    for _ in range(repeat):
        request = RequestFactory().get("/admin/automation/plan/", query)
        request.user = User(username="bench", is_superuser=True, is_staff=True, is_active=True)
        counter["n"] = 0
        with connection.execute_wrapper(count):
            started = time.perf_counter()
            response = admin.site._registry[Plan].changelist_view(request)
            response.render()
            times.append(time.perf_counter() - started)
    (plan,) = [p for p in response.context_data["cl"].result_list if p.pk == plan_id]
    shown = plan.results_row.results
    assert (shown.enrolled, shown.conversions, shown.revenue) == (
        report.enrolled,
        report.conversions,
        report.revenue,
    ), (shown, report.enrolled, report.conversions, report.revenue)
    print(
        f"plans list, {query or 'all time'}: best {min(times):.2f} s, median "
        f"{statistics.median(times):.2f} s over {repeat} runs; {counter['n']} queries; the report's "
        f"figures: enrolled {shown.enrolled:,}, conversions {shown.conversions:,}, revenue {shown.revenue}"
    )


def refresh(plan_id: int, *, live: bool) -> None:
    """The daily roll-up (automation.cockpit.reports.days), as the periodic job keeps it:
    a first full run, then a run as every 10 minutes (the days still open); `live`: none.
    Both run as of 10 minutes before the seed's last enrollment: the report counts the
    enrollments of those 10 minutes (about 80) live, as it would between two runs."""
    from automation.cockpit.reports.days import report_days_refresh
    from automation.models import Plan, ReportDay
    from bench.expiry import NOW

    ReportDay.objects.all().delete()
    if live:
        return
    plan = Plan.objects.get(pk=plan_id)
    for label, full in (("first (every day)", True), ("periodic (days still open)", False)):
        started = time.perf_counter()
        days = report_days_refresh(plan=plan, full=full, now=NOW - timedelta(minutes=10))
        print(f"roll-up job, {label}: {days} days in {time.perf_counter() - started:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="enrollments (and contacts)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--db", default=DBNAME, help=f"the database's name (sj_bench_…; {DBNAME})")
    parser.add_argument("--reuse", action="store_true", help="time the database an earlier --keep run left")
    parser.add_argument("--per-query", action="store_true", help="print each query's time (the last run)")
    parser.add_argument(
        "--live", action="store_true", help="no daily roll-up: the report counted live (before issue 21)"
    )
    args = parser.parse_args()

    from bench.common import database_drop, database_recreate

    if args.reuse:
        from bench.common import pg_url

        url = pg_url(args.db)
        django_setup(url)
        from django.core.management import call_command

        from automation.models import Plan

        call_command("migrate", verbosity=0)
        plan_id = Plan.objects.get(slug="bench").pk
        print(f"reusing {args.db} as seeded by an earlier --keep run")
    else:
        url = database_recreate(args.db)
    try:
        if not args.reuse:
            django_setup(url)
            print(f"seeding {args.n:,} enrollments into {args.db} …")
            plan_id = seed(args.n)
        refresh(plan_id, live=args.live)
        for label, kwargs in (
            ("all time", {}),
            ("30 days", {"date_from": date(2026, 4, 1), "date_to": date(2026, 4, 30)}),
        ):
            times, queries, report = time_report(
                plan_id, repeat=args.repeat, per_query=args.per_query, **kwargs
            )
            dates = {k: v.isoformat() for k, v in kwargs.items()}
            time_plans_list(plan_id, repeat=args.repeat, query=dates or {"range": "all"}, report=report)
            print(
                f"plan report, {label}: best {min(times):.2f} s, median {statistics.median(times):.2f} s "
                f"over {args.repeat} runs; {queries} queries; enrolled {report.enrolled:,}, "
                f"funnel {[r.reached for r in report.funnel]}, conversions {report.conversions:,}, "
                f"messages {report.messages:,}, branches "
                f"{[(b.name, b.enrolled) for split in report.splits for b in split.branches]}, answers "
                f"{sum(a.total for a in report.answers):,}, revenue {report.revenue}, links "
                f"{[(row.sent, row.clicked, row.clicks) for row in report.links]}"
            )
    finally:
        if not (args.keep or args.reuse):
            from django.db import connections

            connections.close_all()
            database_drop(args.db)


if __name__ == "__main__":
    main()
