"""Benchmark: set-based enrollment expiry against a naive one-row-at-a-time loop.

    .venv/bin/python bench/expiry.py [--n 1000000] [--due 0.10] [--naive 10000] [--batch-size 5000] [--keep]

Uses its own PostgreSQL database (``sj_bench_expiry``: recreated and migrated, dropped at
the end unless ``--keep``; PGHOST/PGPORT/PGUSER as in bench/common.py) and seeds N active
enrollments, 10 % of them due, with COPY. A fresh child process then times
``manage.py expire_enrollments`` and reports its wall time, its peak memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``: the whole process, Django included) and
its number of SQL queries. In the same run a subset of the expired rows is put back to
active and expired the naive way (each row loaded, ``Enrollment.expire()`` through the FSM,
``save()``, one step row each) to print the per-row speed-up.
Goals (issue 4): 1,000,000 in < 60 s, peak memory < 200 MB, ratio >= 20x.
"""

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import database_drop, database_recreate, machine_busy, pg_url  # noqa: E402

DBNAME = "sj_bench_expiry"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # the run's "now" (--as-of): reproducible


def database_url() -> str:
    return pg_url(DBNAME)


def django_setup() -> None:
    os.environ["DATABASE_URL"] = database_url()
    # DEBUG=1: the development SECRET_KEY (queries are not logged outside requests).
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsjourney.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


class _Stream(io.RawIOBase):
    """A file-like object over an iterator of text lines, for COPY … FROM STDIN."""

    def __init__(self, lines):
        self._lines = lines
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                self._buffer += next(self._lines).encode()
            except StopIteration:
                break
        if size < 0:
            chunk, self._buffer = self._buffer, b""
        else:
            chunk, self._buffer = self._buffer[:size], self._buffer[size:]
        return chunk

    def readline(self, size: int = -1) -> bytes:  # psycopg2 does not need it; io wants it
        return self.read(size)


def _copy_value(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.total_seconds()} seconds"
    return str(value)


def copy_rows(model, rows, *, count: int) -> None:
    """COPY `count` rows of `model` from `rows` (dicts of attname → value); every other
    column gets the field's default, so the bench survives new fields with defaults."""
    from django.db import connection

    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    defaults = {}
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            defaults[f.attname] = NOW
        else:
            defaults[f.attname] = f.get_default()
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)

    def lines():
        for row in rows:
            values = {**defaults, **row}
            yield "\t".join(_copy_value(values[f.attname]) for f in fields) + "\n"

    with connection.cursor() as cursor:
        cursor.connection.cursor().copy_expert(
            f"COPY {model._meta.db_table} ({columns}) FROM STDIN", _Stream(lines()), size=1 << 16
        )
    print(f"  copied {count:,} {model._meta.verbose_name_plural}")


def seed(*, n: int, due: float) -> None:
    from django.core.management import call_command
    from django.db import connection

    from automation.engine.demo_plan import DEMO_DOCUMENT
    from automation.engine.plans import plan_import
    from automation.models import Enrollment
    from contacts.models import Contact

    call_command("migrate", verbosity=0)
    plan = plan_import(document={**DEMO_DOCUMENT, "slug": "bench", "name": "Bench"}).plan
    started = time.perf_counter()
    copy_rows(Contact, ({"phone": f"+1555{i:07d}"} for i in range(1, n + 1)), count=n)
    every = max(1, round(1 / due)) if due > 0 else 0
    enrolled_long_ago = NOW - timedelta(days=8)

    def enrollments():
        for i in range(1, n + 1):
            is_due = every and i % every == 0
            enrolled = enrolled_long_ago if is_due else NOW - timedelta(days=1)
            yield {
                "contact_id": i,
                "plan_id": plan.id,
                "revision_id": plan.published_id,
                "step_id": "invited",
                "status": "active",
                "enrolled_at": enrolled,
                "step_entered_at": enrolled,
                "expires_at": enrolled + timedelta(days=7) - timedelta(seconds=i % 3600),
            }

    copy_rows(Enrollment, enrollments(), count=n)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"  seeded in {time.perf_counter() - started:.1f} s")


def _count_queries():
    from django.db import connection

    counter = {"n": 0}

    def wrapper(execute, sql, params, many, context):
        counter["n"] += 1
        return execute(sql, params, many, context)

    return counter, connection.execute_wrapper(wrapper)


def phase_expire(batch_size: int) -> None:
    """Child process: the real command, timed, with its query count and peak memory."""
    django_setup()
    from django.core.management import call_command

    counter, wrapping = _count_queries()
    out = io.StringIO()
    with wrapping:
        started = time.perf_counter()
        call_command(
            "expire_enrollments", "--as-of", NOW.isoformat(), "--batch-size", str(batch_size), stdout=out
        )
        elapsed = time.perf_counter() - started
    expired = int(out.getvalue().split()[1])
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"elapsed": elapsed, "expired": expired, "queries": counter["n"], "peak_kb": peak_kb}))


def naive_expire(*, now: datetime, limit: int) -> int:
    """The one-row-at-a-time way: every enrollment loaded, moved by its FSM transition and
    saved, its step written, each in its own transaction."""
    from django.db import transaction

    from automation.models import Enrollment, EnrollmentStep

    done = 0
    for enrollment in Enrollment.objects.filter(status="active", expires_at__lte=now).order_by("id")[:limit]:
        with transaction.atomic():
            enrollment.expire()
            enrollment.ended_at = now
            enrollment.timeout_at = None
            enrollment.end_reason = "expired"
            enrollment.save()
            EnrollmentStep.objects.create(
                enrollment=enrollment, step_id=enrollment.step_id, via="expiry", occurred_at=now
            )
        done += 1
    return done


def phase_naive(limit: int) -> dict:
    """Put `limit` of the expired rows back to active, then expire them the naive way."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "WITH subset AS ("
            "SELECT id FROM automation_enrollment WHERE status = 'expired' ORDER BY id LIMIT %s) "
            "UPDATE automation_enrollment e SET status = 'active', ended_at = NULL, end_reason = '' "
            "FROM subset WHERE e.id = subset.id",
            [limit],
        )
        cursor.execute(
            "DELETE FROM automation_enrollmentstep s USING automation_enrollment e "
            "WHERE s.enrollment_id = e.id AND e.status = 'active'"
        )
    counter, wrapping = _count_queries()
    with wrapping:
        started = time.perf_counter()
        done = naive_expire(now=NOW, limit=limit)
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "expired": done, "queries": counter["n"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="active enrollments (default 1,000,000)")
    parser.add_argument("--due", type=float, default=0.10, help="share of them already due (default 0.10)")
    parser.add_argument("--naive", type=int, default=10_000, help="naive loop subset (default 10,000)")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--keep", action="store_true", help="keep the database sj_bench_expiry afterwards")
    parser.add_argument("--phase", choices=["expire"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase == "expire":
        phase_expire(args.batch_size)
        return

    print(f"bench/expiry.py — database {database_url()}")
    database_recreate(DBNAME)
    django_setup()
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            database_drop(DBNAME)


def run(args) -> None:
    print(f"Seeding {args.n:,} active enrollments ({args.due:.0%} due) …")
    seed(n=args.n, due=args.due)

    print("Set-based: manage.py expire_enrollments (fresh process) …")
    busy_before = machine_busy()
    child = subprocess.run(
        [sys.executable, __file__, "--phase", "expire", "--batch-size", str(args.batch_size)],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode:
        sys.stderr.write(child.stdout + child.stderr)
        sys.exit(child.returncode)
    fast = json.loads(child.stdout.strip().splitlines()[-1])
    busy_after = machine_busy()
    busy = (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1])

    from django.db import connection

    connection.close()
    print(f"Naive: one row at a time on {args.naive:,} of them …")
    naive = phase_naive(args.naive)

    fast_rate = fast["expired"] / fast["elapsed"]
    naive_rate = naive["expired"] / naive["elapsed"]
    ratio = fast_rate / naive_rate
    peak_mb = fast["peak_kb"] / 1024
    print()
    print(f"  table:            {args.n:,} active enrollments, {fast['expired']:,} due")
    print(
        f"  set-based:        {fast['expired']:,} expired in {fast['elapsed']:.2f} s "
        f"({fast_rate:,.0f}/s), {fast['queries']} queries, peak memory {peak_mb:.0f} MB"
    )
    print(
        f"  naive:            {naive['expired']:,} expired in {naive['elapsed']:.2f} s "
        f"({naive_rate:,.0f}/s), {naive['queries']:,} queries"
    )
    print(f"  speed-up per row: {ratio:.0f}x")
    print(f"  machine busy:     {busy:.0%} of 2 cores during the set-based run (everything, not just us)")
    goals = [
        (f"{args.n:,} in < 60 s", fast["elapsed"] < 60),
        ("peak memory < 200 MB", peak_mb < 200),
        ("ratio ≥ 20x", ratio >= 20),
    ]
    print("  goals:            " + ", ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in goals))


if __name__ == "__main__":
    main()
