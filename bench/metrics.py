"""Benchmark: one scrape of ``GET /metrics`` (smsjourney/metrics.py, docs/reference.md §9) on
10,000,000 interactions and 1,000,000 enrollments, and what counting costs the code that
counts (infra/metrics.py).

    .venv/bin/python bench/metrics.py [--interactions 10000000] [--enrollments 1000000]
                                      [--database sj_bench_metrics] [--keep | --reuse] [--explain]

Creates its own PostgreSQL database (dropped first, and at the end unless ``--keep``;
``--reuse`` times a kept one again) and seeds it as ``bench/dashboard.py`` does (contacts,
enrollments in four statuses, interactions over 90 days, an OutboundMessage per outbound
one), then adds a send pipeline with work in it: 100,000 campaign texts queued on a sender
paced at 50 MPS, 1,000 replies queued, 5,000 texts held for quiet hours, 500 waiting to be
retried, 2,000 handed over with a lease, and 300 inbound messages not routed yet. Then it
times ``GET /metrics`` with the test client (the first scrape and the best and median of
``--repeat`` more), prints each of its SQL queries with its time, and, with
``--explain``, their plans. Last, the caller's cost of ``metric_count`` (a count taken
outside a transaction, added to the store by the process's own thread), and with
``--redis URL`` the same into Redis, and the scrapes again with the counters there.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dashboard import counts, seed, sql  # noqa: E402
from bench.plan_page import django_setup  # noqa: E402

TOKEN = "bench-metrics-token"


def pipeline_seed() -> None:
    """Texts waiting in the send pipeline, and inbound messages waiting to be routed."""
    from messaging.senders import sender_save

    paced = sender_save(address="12345", mps=50, name="Campaign short code")
    base = (
        "INSERT INTO tracking_interaction (contact_id, channel, direction, from_address, to_address, body, "
        "media, raw_payload, created_at, route_attempts, route_error) "
        "SELECT 1 + i % 1000000, 'sms', '{direction}', '', '', 'Hi', '[]', '{{}}', "
        "now() - (i % 600) * interval '1 second', 0, '' FROM generate_series(1, {n}) i"
    )
    steps = [
        ("unrouted inbound", base.format(direction="inbound", n=300), None),
    ]
    for label, n, status, sender, lane, attempts, lease in (
        ("campaign queued", 100_000, "queued", paced.pk, 1, 0, False),
        ("replies queued", 1_000, "queued", None, 0, 0, False),
        ("held", 5_000, "held", None, 1, 0, False),
        ("retrying", 500, "queued", None, 0, 2, False),
        ("handed over", 2_000, "sending", paced.pk, 1, 1, True),
    ):
        steps.append((f"{label}: interactions", base.format(direction="outbound", n=n), None))
        steps.append(
            (
                f"{label}: outbound",
                "INSERT INTO messaging_outboundmessage (interaction_id, contact_id, step_id, purpose, "
                "to_number, from_number, sender_id, lane, segments, content_sid, content_variables, "
                "media_urls, answers_contact, status, send_after, lease_until, hold_reason, attempts, "
                "error_code, error_message, created_at) "
                "SELECT id, contact_id, '', 'prompt', '', '', %s, %s, 1, '', '{}', '[]', %s, %s, "
                "now() + interval '1 hour', CASE WHEN %s THEN now() + interval '1 minute' END, '', %s, "
                "'', '', created_at FROM tracking_interaction WHERE direction = 'outbound' AND id > "
                "(SELECT coalesce(max(interaction_id), 0) FROM messaging_outboundmessage)",
                [sender, lane, lane == 0, status, lease, attempts],
            )
        )
    for label, statement, params in steps:
        print(f"  {label}: {sql(statement, params):.1f} s", flush=True)
    print(f"  VACUUM ANALYZE: {sql('VACUUM ANALYZE'):.1f} s", flush=True)


def time_scrape(client, *, repeat: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for label, runs in (("first", 1), ("warm", repeat)):
        times = []
        for _ in range(runs):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
                times.append(time.perf_counter() - started)
            assert response.status_code == 200, response.content[:300]
        best, median = min(times) * 1000, statistics.median(times) * 1000
        print(
            f"GET /metrics {label}: best {best:.0f} ms, median {median:.0f} ms over {runs}, "
            f"{len(queries.captured_queries)} queries, {len(response.content):,} bytes",
            flush=True,
        )
    for query in queries.captured_queries:
        print(f"    {float(query['time']) * 1000:7.1f} ms  {query['sql'][:150]}")


def explain() -> None:
    from django.db import connection
    from django.test import Client

    captured = []

    def capture(execute, statement, params, many, context):
        captured.append((statement, params))
        return execute(statement, params, many, context)

    with connection.execute_wrapper(capture):
        Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    with connection.cursor() as cursor:
        for statement, params in captured:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            print("  " + statement[:200])
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
            for (line,) in cursor.fetchall():
                print("      " + line)


def count_cost(n: int = 200_000) -> None:
    """What ``metric_count`` costs its caller outside a transaction (the webhook's case)."""
    from infra.metrics import INBOUND, _pending_counts, counters_read, metric_count, store

    before = counters_read().get(f"{INBOUND}|sms", 0.0)
    started = time.perf_counter()
    for _ in range(n):
        metric_count(INBOUND, "sms")
    spent = time.perf_counter() - started
    _pending_counts.flush()
    after = counters_read().get(f"{INBOUND}|sms", 0.0)
    kind = type(store()).__name__
    print(f"metric_count ({kind}): {spent / n * 1e6:.2f} µs a call to its caller ({n:,} calls)")
    print(f"  the store +{after - before:,.0f} after one last flush")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--enrollments", type=int, default=1_000_000)
    parser.add_argument("--interactions", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--database", default="sj_bench_metrics")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--redis", metavar="URL", help="also time counting into this Redis (a db of your own)"
    )
    args = parser.parse_args()
    assert args.database.startswith("sj_"), "bench scripts only ever touch sj_* databases"

    from bench.common import _pg_admin, pg_url

    if not args.reuse:
        _pg_admin(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        _pg_admin(f'CREATE DATABASE "{args.database}"')
    os.environ["METRICS_TOKEN"] = TOKEN
    django_setup(pg_url(args.database))
    try:
        from django.test import Client

        if not args.reuse:
            print(f"seeding {args.enrollments:,} enrollments, {args.interactions:,} interactions", flush=True)
            seed(enrollments=args.enrollments, interactions=args.interactions)
            pipeline_seed()
        print("  " + counts())
        time_scrape(Client(), repeat=args.repeat)
        if args.explain:
            explain()
        count_cost()
        if args.redis:
            from django.conf import settings

            settings.CELERY_BROKER_URL = args.redis  # the counters' store only: no task is sent
            count_cost()
            time_scrape(Client(), repeat=args.repeat)
    finally:
        if not (args.keep or args.reuse):
            from django.db import connections

            connections.close_all()
            _pg_admin(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
