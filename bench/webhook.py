"""Benchmark of the inbound webhook ``POST /twilio/sms/`` (issue 3, item 9).

Run: ``.venv/bin/python bench/webhook.py`` (or ``make bench``). Needs PostgreSQL at
127.0.0.1:5432 (role root, trust) and Redis at 127.0.0.1:6379. See bench/README.md.

What it does, in one run and one server config:
1. creates the database ``sj_bench_webhook`` (dropped first), migrates, loads the demo
   plan (``load_demo_plan``; with ``--plan branching20`` a 20-step branching version of it,
   bench/plans.py), creates the floor's table, empties Redis db 5;
2. counts the SQL queries of one message of each kind through the real view, in-process
   (``CaptureQueriesContext``): a first message, QUOTE, BUY, an unmatched reply, a redelivery;
3. starts gunicorn (sync workers) with ``CELERY_BROKER_URL=redis://127.0.0.1:6379/5`` and no
   Celery worker, so the webhook only writes and enqueues;
4. drives, each for ``--seconds``, with ``--concurrency`` keep-alive loopback connections:
   the trivial view, the durable-floor view, phase A (first messages from new numbers:
   a contact, an enrollment and a queued prompt each) and phase B (QUOTE replies from
   contacts in Invited — the phase A contacts, topped up by an untimed seeding pass);
5. checks what the database holds, prints requests/s, p50/p99 and the ratios, and cleans
   up (gunicorn stopped, Redis db 5 emptied, database dropped unless ``--keep``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PhaseResult,
    cpu_seconds,
    database_drop,
    database_recreate,
    machine_busy,
    run_load,
    server_env,
)
from bench.costs import FLOOR, TRIVIAL, WEBHOOK, queries_per_message, report_costs
from bench.processes import CeleryWorker, Gunicorn
from bench.twilio_traffic import Signer, payload, phone_numbers, signed_post

GOAL_RATIO = 0.35


# --- setup in-process -----------------------------------------------------------------


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    # WhiteNoise warns that collectstatic never ran: no static file is served here.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

    django.setup()


def plan_load(which: str) -> str:
    from django.core.management import call_command

    call_command("load_demo_plan", verbosity=0)
    if which == "demo":
        return "manage.py load_demo_plan"
    from automation.engine.plans import plan_import
    from bench.plans import branching_20

    plan_import(document=branching_20())
    return "the demo journey grown to 20 branching steps (bench/plans.py), published over it"


def floor_table_create() -> None:
    from django.db import connection

    from bench.reference import FLOOR_DDL

    with connection.cursor() as cursor:
        cursor.execute(FLOOR_DDL)


def redis_flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def redis_queue_length(url: str) -> int:
    import redis

    return redis.Redis.from_url(url).llen("celery")


# --- the run --------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each measured phase")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    parser.add_argument("--concurrency", type=int, help="client connections (default: 2 per worker)")
    parser.add_argument("--max-requests", type=int, default=80000, help="cap per phase")
    parser.add_argument("--database", default="sj_bench_webhook")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--show-queries", action="store_true", help="print the SQL of each counted request")
    parser.add_argument("--queries-only", action="store_true", help="count queries, skip the load phases")
    parser.add_argument(
        "--plan", choices=["demo", "branching20"], default="demo", help="the plan the traffic walks through"
    )
    args = parser.parse_args()
    args.concurrency = args.concurrency or 2 * args.workers

    print(f"database {args.database}, broker {args.broker}, no Celery worker while measuring")
    try:
        redis_flush(args.broker)
    except Exception as exc:
        print(f"Redis is not answering at {args.broker} ({exc}); start it first.", file=sys.stderr)
        return 2
    try:
        db_url = database_recreate(args.database)
    except Exception as exc:
        print(f"PostgreSQL is not usable ({exc}); see bench/README.md.", file=sys.stderr)
        return 2
    env = server_env(database_url=db_url, broker_url=args.broker)
    try:
        django_setup(env)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        print("plan:", plan_load(args.plan))
        floor_table_create()

        numbers = phone_numbers(["212", "415", "646", "718", "917", "310", "312", "617", "702", "503"])
        queries = queries_per_message(numbers, show=args.show_queries)
        redis_flush(args.broker)
        if args.queries_only:
            report_costs(queries)
            return 0

        results = run_phases(args, env, numbers)
        counts = database_counts()
        queued_tasks = redis_queue_length(args.broker)
    finally:
        redis_flush(args.broker)
        from django.db import connections

        connections.close_all()
        if not args.keep:
            database_drop(args.database)

    report(args, results, queries, counts, queued_tasks)
    return 0


def run_phases(args, env: dict[str, str], numbers) -> dict[str, PhaseResult]:
    from django.db import connections

    connections.close_all()
    sign = Signer()
    results: dict[str, PhaseResult] = {}
    with Gunicorn(env=env, workers=args.workers, ready_path=TRIVIAL) as server:
        port = server.port
        pids = server.pids()
        cap = args.max_requests

        def unsigned(path: str, count: int):
            # The reference views do not check signatures; same payload and header size.
            # Nor do they parse the number: a cheap unique one will do.
            fake = "x" * 28
            return [
                (None, signed_post(port, path, payload(f"+1999{i:07d}", "Hello"), fake)) for i in range(count)
            ]

        def first_messages(count: int):
            out = []
            for phone in itertools.islice(numbers, count):
                params = payload(phone, "Hello")
                out.append((phone, signed_post(port, WEBHOOK, params, sign(WEBHOOK, params))))
            return out

        def replies(phones: list[str], word: str):
            out = []
            for phone in phones:
                params = payload(phone, word)
                out.append((phone, signed_post(port, WEBHOOK, params, sign(WEBHOOK, params))))
            return out

        def phase(name: str, requests, duration: float = args.seconds) -> PhaseResult:
            result = run_load(
                name,
                port=port,
                requests=requests,
                concurrency=args.concurrency,
                duration=duration,
                server_pids=pids,
            )
            print(
                f"  {name:<34} {result.ok:>7} ok in {result.elapsed:5.1f} s"
                f"  ({result.count - result.ok} non-200, {result.errors} errors)"
            )
            return result

        print(
            f"gunicorn: {args.workers} sync workers on 127.0.0.1:{port};"
            f" {args.concurrency} client connections"
        )
        # Warm-up (not measured): imports, connections, caches of every worker.
        phase("warm-up trivial", unsigned(TRIVIAL, 400), 3)
        phase("warm-up floor", unsigned(FLOOR, 400), 3)
        phase("warm-up webhook", first_messages(400), 5)

        results["trivial"] = phase("trivial view", unsigned(TRIVIAL, cap))
        results["floor"] = phase("durable floor", unsigned(FLOOR, cap))
        results["A"] = phase("webhook A: first messages", first_messages(cap))

        # Phase B replies QUOTE from contacts in Invited: phase A's, topped up so that
        # B cannot run dry at up to twice A's rate.
        pool = list(results["A"].sent)
        needed = int(results["A"].rps * args.seconds * 2) + 100
        if len(pool) < needed:
            seeded = phase(
                "seeding Invited contacts", first_messages(needed - len(pool)), duration=args.seconds * 4
            )
            pool += seeded.sent
        # No worker ran: the messages wait, stored. One worker routes them (and sends the
        # prompts) before phase B, whose contacts must be in Invited.
        results["route A"] = drain(env, args.broker, "routing phase A + seeding")
        # The machine's speed drifts within minutes, and B comes minutes after the first
        # floor: B is compared with a floor measured right before it.
        results["floor B"] = phase("durable floor, again", unsigned(FLOOR, cap))
        results["B"] = phase("webhook B: QUOTE replies", replies(pool, "QUOTE"))
        if results["B"].ok >= len(pool):
            print("  (phase B used every seeded contact: its rate is a lower bound)")
        results["route B"] = drain(env, args.broker, "routing phase B")
    return results


@dataclass
class Drain:
    messages: int
    seconds: float
    worker_cpu: float
    machine_util: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else float("nan")


def drain(env: dict[str, str], broker: str, name: str) -> Drain:
    """Start ONE Celery worker (threads pool, as in the Procfile), wait until every stored
    message is routed and every task is taken from Redis, stop it. Timed from the first
    message routed (worker start-up excluded) to the last task taken."""
    from tracking.models import Interaction

    def waiting() -> int:
        return Interaction.objects.filter(direction="inbound", routed_at__isnull=True).count()

    total = waiting()
    with CeleryWorker(env=env, pool="threads", concurrency=8) as worker:
        deadline = time.monotonic() + 60 + total / 20
        start = None
        while True:
            left = waiting()
            if start is None and left < total:
                start, cpu0, busy0, done0 = time.monotonic(), cpu_seconds(worker.pids()), machine_busy(), left
            if left == 0 and redis_queue_length(broker) == 0:
                break
            worker.check()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: {left} of {total} messages still waiting; see {worker.log.name}")
            time.sleep(0.05)
        end, cpu1, busy1 = time.monotonic(), cpu_seconds(worker.pids()), machine_busy()
    worker.log.close()
    os.unlink(worker.log.name)
    routed = done0 if start is not None else 0
    result = Drain(
        messages=routed,
        seconds=(end - start) if start is not None else 0.0,
        worker_cpu=cpu1 - cpu0 if start is not None else 0.0,
        machine_util=(busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]) if start is not None else 0.0,
    )
    print(f"  {name:<34} {total:>7} routed, {result.rate:.0f}/s with one worker")
    return result


def database_counts() -> dict[str, int]:
    from django.db import connection
    from django.db.models import Count

    from automation.models import Enrollment
    from bench.reference import FLOOR_TABLE
    from contacts.models import Contact
    from messaging.models import OutboundMessage
    from tracking.models import Interaction

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {FLOOR_TABLE}")
        floor_rows = cursor.fetchone()[0]
    by_state = dict(
        Enrollment.objects.values_list("step_id").annotate(n=Count("id")).values_list("step_id", "n")
    )
    return {
        "contacts": Contact.objects.count(),
        "inbound interactions": Interaction.objects.filter(direction="inbound").count(),
        "of them unrouted": Interaction.objects.filter(direction="inbound", routed_at__isnull=True).count(),
        "outbound messages": OutboundMessage.objects.count(),
        "of them sent": OutboundMessage.objects.filter(status="sent").count(),
        "enrollments in Invited": by_state.get("invited", 0),
        "enrollments in Quoted": by_state.get("quoted", 0),
        "floor rows": floor_rows,
    }


def report(
    args, results: dict[str, PhaseResult], queries: dict[str, tuple[int, int, int]], counts: dict, queued: int
) -> None:
    print()
    report_costs(queries)
    print()
    print("Database after the run:", ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"Celery tasks left in Redis after the last routing: {queued}")
    print()
    header = (
        f"{'endpoint':<30}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'server CPU ms/req':>19}{'client CPU ms/req':>19}{'machine busy':>14}"
    )
    print(header)
    print("-" * len(header))
    labels = {
        "trivial": "trivial Django view",
        "floor": "durable floor (1 INSERT)",
        "A": "webhook A: first messages",
        "floor B": "durable floor, again",
        "B": "webhook B: QUOTE replies",
    }
    for key, label in labels.items():
        r = results[key]
        cpu = r.server_cpu / r.ok * 1000 if r.ok else float("nan")
        client = r.client_cpu / r.ok * 1000 if r.ok else float("nan")
        print(
            f"{label:<30}{r.rps:>9.0f}{r.pct(50):>9.1f}{r.pct(99):>9.1f}"
            f"{cpu:>19.2f}{client:>19.2f}{r.machine_util:>14.0%}"
        )
    print()
    trivial = results["trivial"].rps
    # Each webhook phase against the floor measured right before it.
    for key, floor_key in (("A", "floor"), ("B", "floor B")):
        r, floor = results[key].rps, results[floor_key].rps
        verdict = "met" if r >= GOAL_RATIO * floor else "MISSED"
        print(
            f"{labels[key]:<30} {r / floor:5.2f} x floor  {r / trivial:5.2f} x trivial"
            f"   (goal >= {GOAL_RATIO} x floor: {verdict})"
        )
    first = results["floor"].rps
    print(f"(B against the first floor, measured minutes earlier: {results['B'].rps / first:.2f} x)")
    print()
    print("Routing, after each webhook phase (one Celery worker, threads pool, 8 threads; it also sends")
    print("the replies, with the console backend):")
    for key, label in (("route A", "first messages + seeding"), ("route B", "QUOTE replies")):
        d = results[key]
        cpu = d.worker_cpu / d.messages * 1000 if d.messages else float("nan")
        print(
            f"  {label:<28} {d.messages:>7} messages {d.rate:>7.0f}/s  worker CPU {cpu:.2f} ms/message"
            f"  machine busy {d.machine_util:.0%}"
        )
    phases = {k: r for k, r in results.items() if isinstance(r, PhaseResult)}
    bad = {k: (r.count - r.ok, r.errors) for k, r in phases.items() if r.count - r.ok or r.errors}
    if bad:
        print("non-200 answers / connection errors:", bad)
    print(
        f"\nconfig: gunicorn {args.workers} sync workers, {args.concurrency} keep-alive client connections "
        f"(Python threads, raw sockets), {args.seconds:.0f} s per phase, {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"bench/webhook.py done in {time.monotonic() - started:.0f} s")
    sys.exit(code)
