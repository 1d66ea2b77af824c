"""Benchmark: how fast one Celery worker sends queued messages (issue 3 goal: ≥ 100 sends/s
per worker process — a short code's rate — so sending is never our bottleneck).

    .venv/bin/python bench/send.py [--messages 2000] [--pool threads] [--concurrency 16] [--compare]

Against PostgreSQL (its own database ``sj_bench_send`` on 127.0.0.1, dropped and created,
then migrated; dropped again at the end unless --keep) and Redis (BENCH_BROKER_URL, else
CELERY_BROKER_URL, else redis://127.0.0.1:6379/0; a queue name of its own per run).
A local fake Twilio REST API
(``messaging.tests.fake_twilio``: threaded, HTTP/1.1 keep-alive, TCP_NODELAY) runs in this
process; the worker uses the real ``twilio`` backend pointed at it with TWILIO_API_BASE_URL.

Each run: N contacts and N QUEUED outbound messages are written, N `outbound_send_task`
tasks are published, then ONE `celery -A smsjourney worker` process is started (default
`--pool threads --concurrency 16`: a send is mostly waiting — two PostgreSQL commits and
one HTTP round trip — so threads in one process beat prefork children on 2 cores; see
bench/README.md for the comparison). The rate is
measured at the fake Twilio server, from the first send to the last (steady state,
worker start-up excluded), and the run ends when the database shows all N handed to
Twilio: ACCEPTED, since the fake answers "queued" like Twilio (issue 9: never shown sent
before Twilio says so). The end-to-end rate, from publish to the last one, is printed too.
`--compare` measures several pool/concurrency settings one after the other.
"""

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    cpu_seconds,
    database_drop,
    database_recreate,
    machine_busy,
    server_env,
)
from bench.processes import CeleryWorker  # noqa: E402
from messaging.tests.fake_twilio import FakeTwilio  # noqa: E402

DBNAME = "sj_bench_send"
COMPARE = [
    ("solo", 1),
    ("prefork", 2),
    ("prefork", 4),
    ("threads", 4),
    ("threads", 8),
    ("threads", 16),
    ("threads", 32),
]


def broker_url() -> str:
    return (
        os.environ.get("BENCH_BROKER_URL")
        or os.environ.get("CELERY_BROKER_URL")
        or "redis://127.0.0.1:6379/0"
    )


def seed(n: int) -> list[int]:
    """N contacts, each with one QUEUED outbound message (as outbound_queue leaves them)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from contacts.models import Contact
    from messaging.models import DeliveryStatus, OutboundMessage
    from tracking.models import Interaction

    with connection.cursor() as cur:
        cur.execute(
            "TRUNCATE messaging_outboundmessage, tracking_interaction, contacts_consentevent, "
            "contacts_contact RESTART IDENTITY CASCADE"
        )
    now = timezone.now()
    with transaction.atomic():
        contacts = Contact.objects.bulk_create(
            [Contact(phone=f"+1212{5550000 + i:07d}", first_name=f"C{i}") for i in range(n)], batch_size=1000
        )
        interactions = Interaction.objects.bulk_create(
            [
                Interaction(
                    contact=c,
                    direction=Interaction.Direction.OUTBOUND,
                    body=f"Hello {c.first_name}! Your code is {i:06d}.",
                    created_at=now,
                )
                for i, c in enumerate(contacts)
            ],
            batch_size=1000,
        )
        messages = OutboundMessage.objects.bulk_create(
            [
                OutboundMessage(
                    interaction=it,
                    contact=c,
                    purpose=OutboundMessage.Purpose.BULK,
                    to_number=c.phone,
                    from_number="+14155550100",
                    status=DeliveryStatus.QUEUED,
                    send_after=now,
                    status_updated_at=now,
                )
                for c, it in zip(contacts, interactions, strict=True)
            ],
            batch_size=1000,
        )
    return [m.pk for m in messages]


def sent_count() -> int:
    from messaging.models import DeliveryStatus, OutboundMessage

    return OutboundMessage.objects.filter(status=DeliveryStatus.ACCEPTED).count()


def run(*, n: int, pool: str, concurrency: int, fake: FakeTwilio, env: dict) -> dict:
    from automation.tasks import outbound_send_task

    ids = seed(n)
    fake.received.clear()
    queue = f"bench-send-{uuid.uuid4().hex[:8]}"
    t_publish = time.perf_counter()
    for pk in ids:
        outbound_send_task.apply_async(args=(pk,), queue=queue)
    publish_s = time.perf_counter() - t_publish

    t_start = time.perf_counter()
    with CeleryWorker(env=env, pool=pool, concurrency=concurrency, queue=queue) as worker:
        deadline = time.monotonic() + max(120, n / 10)
        done = 0
        cpu0 = busy0 = None
        while time.monotonic() < deadline:
            if cpu0 is None and fake.received:  # the worker is up and sending: CPU from here
                cpu0, busy0, sent0 = cpu_seconds(worker.pids()), machine_busy(), len(fake.received)
            done = sent_count()
            if done >= n:
                break
            worker.check()
            time.sleep(0.1)
        t_done = time.perf_counter()
        cpu = cpu_seconds(worker.pids()) - (cpu0 or 0.0)
        busy1 = machine_busy()
    if done < n:
        raise RuntimeError(f"only {done}/{n} sent before the deadline; see {worker.log.name}")
    worker.log.close()
    os.unlink(worker.log.name)
    stamps = sorted(r["at"] for r in fake.received)
    steady = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")
    return {
        "pool": pool,
        "concurrency": concurrency,
        "n": n,
        "http_requests": len(fake.received),
        "steady": steady,
        "from_start": n / (t_done - t_start),
        "first_send_after": stamps[0] - t_start,
        "publish_s": publish_s,
        "cpu_ms_per_send": 1000 * cpu / max(1, n - sent0),
        "machine_util": (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--pool", default="threads", choices=["prefork", "threads", "solo"])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--compare", action="store_true", help="measure several pools/concurrencies")
    parser.add_argument("--keep", action="store_true", help=f"keep the {DBNAME} database afterwards")
    args = parser.parse_args()

    fake = FakeTwilio().start()
    database_url = database_recreate(DBNAME)
    env = server_env(
        database_url=database_url,
        broker_url=broker_url(),
        DJANGO_SETTINGS_MODULE="smsjourney.settings",
        SMS_BACKEND="twilio",
        TWILIO_API_BASE_URL=fake.base_url,
        LOG_LEVEL="WARNING",
    )
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    configs = COMPARE if args.compare else [(args.pool, args.concurrency)]
    if os.environ.get("BENCH_CONFIGS"):  # e.g. "solo:1,threads:4"
        configs = [(c.split(":")[0], int(c.split(":")[1])) for c in os.environ["BENCH_CONFIGS"].split(",")]
    print(f"bench/send.py: {args.messages} messages, fake Twilio at {fake.base_url}, broker {broker_url()}")
    print(
        f"{'pool':<8} {'conc':>4} {'sends/s (steady)':>17} {'sends/s (start→all SENT)':>25} "
        f"{'start-up s':>10} {'worker CPU ms/send':>19} {'machine busy':>12}"
    )
    results = []
    try:
        for pool, concurrency in configs:
            r = run(n=args.messages, pool=pool, concurrency=concurrency, fake=fake, env=env)
            assert r["http_requests"] == args.messages, f"{r['http_requests']} HTTP sends for {args.messages}"
            results.append(r)
            print(
                f"{pool:<8} {concurrency:>4} {r['steady']:>17.0f} {r['from_start']:>25.0f} "
                f"{r['first_send_after']:>10.1f} {r['cpu_ms_per_send']:>19.2f} {r['machine_util']:>12.0%}",
                flush=True,
            )
    finally:
        fake.stop()
        if not args.keep:
            from django.db import connections

            connections.close_all()
            database_drop(DBNAME)
    best = max(results, key=lambda r: r["steady"])
    goal = "met" if best["steady"] >= 100 else "NOT met"
    print(
        f"sends/s per worker process: {best['steady']:.0f} ({best['pool']} -c {best['concurrency']}); "
        f"goal ≥ 100: {goal}"
    )


if __name__ == "__main__":
    main()
