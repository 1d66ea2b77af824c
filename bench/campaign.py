"""Benchmark of the send pipeline (issue 20, point 7): a bulk campaign on a paced sender
while contacts converse on the same sender.

    .venv/bin/python bench/campaign.py                      # both modes, 20,000 contacts at 50 MPS
    .venv/bin/python bench/campaign.py --contacts 2000      # a quick run (about 90 s a mode)
    .venv/bin/python bench/campaign.py --broker             # one mode only (or --zero-setup)

Each mode runs in a process of its own (its own settings):
1. a fresh database: ``sj_bench_campaign`` on PostgreSQL (127.0.0.1:5432; dropped first and
   at the end unless --keep) with a broker, a SQLite file in a temporary directory without;
   migrated, static files collected (the Procfile's release step); the default sender
   (TWILIO_FROM_NUMBER) limited with ``sender_set --mps``; two plans imported: the campaign
   (entry ``none``, one ``send`` step, a one-segment text) and a keyword plan that answers
   PING; N contacts with consent on record (bulk inserts) and an admin user;
2. the product, as an operator runs it, sending to a fake Twilio in a process of its own
   (``messaging.tests.fake_twilio``, niced ahead of the product: it stamps when each request
   arrived on the clock this process reads too; each answer takes --latency seconds, random
   within the bounds):
   - broker: a redis-server of the run's own on a free port (never the machine's 6379),
     gunicorn (--web-workers sync workers) for the webhook and the admin, two
     ``celery -A smsjourney worker --pool threads`` processes and ``celery beat``;
   - zero-setup: no broker, the SQLite file, gunicorn whose workers run the in-process
     scheduler (infra/background.py), as ``tests/servers.py`` starts it;
3. --conversers contacts text PING to the webhook (signed like Twilio) every 5 to 10 s;
   once each has texted (the product is warm) the marketer uploads the N contacts' numbers
   as a CSV segment on the campaign's admin page: the product's bulk enrollment makes the
   texts;
4. it waits until every campaign text reached the fake Twilio (bounded: 3 x the ideal time
   + 3 min), stops the conversations, and prints: the most segments the fake Twilio saw in
   any one-second window (goal <= --mps), the campaign's time from its first text to its
   last against the ideal N x segments / MPS (goal <= 1.1 x), the latency of the answers to
   the messages sent while the campaign ran, from the webhook POST to the answer's arrival,
   p50 / p99 (goal p99 < 2 s), and the campaign texts lost (never received) and doubled
   (received more than once).

Everything listens on 127.0.0.1; every process is stopped (its own process group), and the
redis-server, the database and the temporary files are gone at the end (a failed run keeps
the processes' logs and names them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import BENCH_FROM_NUMBER, PYTHON, database_drop, database_recreate, server_env  # noqa: E402
from bench.conversations import AdminSession, Conversation, most_in_one_second, percentile  # noqa: E402
from bench.processes import CeleryBeat, CeleryWorker, FakeTwilioProcess, Gunicorn, RedisServer  # noqa: E402
from bench.twilio_traffic import phone_numbers  # noqa: E402

DBNAME = "sj_bench_campaign"
MODES = ("broker", "zero-setup")
CAMPAIGN_TEXT = "Spring sale at Acme: 20% off everything this weekend. Reply STOP to opt out."
KEYWORD = "PING"
ADMIN = ("bench", "bench-password-" + "x" * 16)
GOAL_RATIO, GOAL_P99 = 1.1, 2.0


def plans() -> tuple[dict, dict]:
    campaign = {
        "format": "smsjourney.plan/1", "slug": "bench-campaign", "name": "Bench campaign",
        "entry": {"trigger": "none"}, "track_links": False, "start": "promo",
        "steps": [{"id": "promo", "type": "send", "text": CAMPAIGN_TEXT, "next": None}],
    }  # fmt: skip
    # The answer differs each time (the loop guard stops a text sent 3 times in 10 minutes).
    pong = {
        "format": "smsjourney.plan/1", "slug": "bench-pong", "name": "Bench pong",
        "entry": {"trigger": "keyword", "keywords": [KEYWORD]}, "reentry": "after_end",
        "track_links": False, "start": "pong",
        "steps": [{"id": "pong", "type": "send", "next": None,
                   "text": "Pong {{ enrollment.enrolled_at|date:'H:i:s.u' }}"}],
    }  # fmt: skip
    return campaign, pong


# --- one mode, in a process of its own --------------------------------------------------


def setup(args, numbers: list[str]) -> int:
    """Migrate, collect the static files, the sender's limit, the plans, the contacts, an
    admin. Returns the campaign plan's id."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections, transaction
    from django.utils import timezone

    from automation.engine.plans import plan_import
    from automation.models import Plan
    from contacts.models import ConsentEvent, Contact

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    call_command("sender_set", BENCH_FROM_NUMBER, "--mps", str(args.mps))
    for document in plans():
        plan_import(document=document)
    now = timezone.now()
    consent = {"kind": ConsentEvent.Kind.CONSENT, "source": ConsentEvent.Source.IMPORT, "detail": "bench"}
    with transaction.atomic():
        contacts = Contact.objects.bulk_create(
            [Contact(phone=phone, first_name=f"C{i}", consent_at=now) for i, phone in enumerate(numbers)],
            batch_size=2000,
        )
        ConsentEvent.objects.bulk_create(
            [ConsentEvent(contact=c, occurred_at=now, **consent) for c in contacts], batch_size=2000
        )
    get_user_model().objects.create_superuser(ADMIN[0], "bench@example.com", ADMIN[1])
    plan_id = Plan.objects.get(slug="bench-campaign").pk
    connections.close_all()
    return plan_id


def product(mode: str, args, env: dict, stack: ExitStack) -> list:
    """Start the product's processes for `mode`: the web server first."""
    started = [stack.enter_context(Gunicorn(env=env, workers=args.web_workers))]
    if mode == "broker":
        for _ in range(2):
            worker = CeleryWorker(env=env, pool="threads", concurrency=args.threads)
            started.append(stack.enter_context(worker))
        started.append(stack.enter_context(CeleryBeat(env=env)))
    return started


def run_mode(mode: str, args) -> dict:
    supply = phone_numbers(["212", "415", "646", "718", "917", "310", "312", "617", "702", "503"])
    numbers = [next(supply) for _ in range(args.contacts)]
    talkers = [next(supply) for _ in range(args.conversers)]
    workdir = tempfile.mkdtemp(prefix="bench-campaign-")
    result: dict = {"mode": mode, "contacts": args.contacts, "mps": args.mps}
    children = []  # every process started, whose logs go when all went well
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, True)
        fake = stack.enter_context(FakeTwilioProcess(latency=args.latency))
        if mode == "broker":
            redis = stack.enter_context(RedisServer())
            children.append(redis)
            database_url, broker_url = database_recreate(DBNAME), redis.url
            if not args.keep:
                stack.callback(database_drop, DBNAME)
        else:
            database_url, broker_url = f"sqlite:///{workdir}/db.sqlite3", ""
        env = server_env(
            database_url=database_url,
            broker_url=broker_url,
            DJANGO_SETTINGS_MODULE="smsjourney.settings",
            SMS_BACKEND="twilio",
            TWILIO_API_BASE_URL=fake.base_url,
            TWILIO_MESSAGING_SERVICE_SID="",
            SMS_STATE_HOURS="0",
            LOG_LEVEL="WARNING",
            STATIC_ROOT=f"{workdir}/static",
        )
        os.environ.update(env)
        t0 = time.monotonic()
        plan_id = setup(args, numbers)
        say(mode, f"setup: {len(numbers)} contacts, {BENCH_FROM_NUMBER} at {args.mps} MPS, "
                  f"{time.monotonic() - t0:.0f} s; starting the product")  # fmt: skip
        processes = product(mode, args, env, stack)
        children += processes
        web = processes[0]
        stop = threading.Event()
        talks = [
            Conversation(port=web.port, phone=p, keyword=KEYWORD, interval=args.interval, stop=stop, seed=i)
            for i, p in enumerate(talkers)
        ]
        for talk in talks:
            talk.start()
        stack.callback(stop.set)
        time.sleep(args.interval[1] + 1)  # every contact has texted once: the product is warm

        admin = AdminSession(web.port)
        admin.login(*ADMIN)
        segment = ("phone\n" + "\n".join(numbers) + "\n").encode()
        posted = time.perf_counter()
        path = f"/admin/automation/plan/{plan_id}/enroll-csv/"
        status, location = admin.upload(path, field="file", filename="segment.csv", content=segment)
        result["upload_seconds"] = time.perf_counter() - posted
        say(mode, f"CSV segment uploaded: {status} in {result['upload_seconds']:.1f} s, {location}")
        if status != 302:
            raise RuntimeError(f"the segment upload answered {status}; see {web.log.name}")
        campaign_wait(mode, fake, set(numbers), processes, posted=posted, args=args)
        stop.set()
        for talk in talks:
            talk.join(30)
        time.sleep(args.latency[1] + 3)  # the last answers
        result.update(analyse(fake, numbers, talks, posted=posted, args=args))
        result.update(database_counts())
    for child in children:  # stopped, and it went well: their logs go too
        child.discard_log()
    return result


def say(mode: str, text: str) -> None:
    print(f"[{mode}] {text}", flush=True)


def campaign_wait(
    mode: str, fake: FakeTwilioProcess, wanted: set[str], processes, *, posted: float, args
) -> None:
    """Until every campaign text reached the fake Twilio, or 3 x the ideal time + 3 min.
    Reads what arrived since the last look (the fake's lock held for a copy, no longer)."""
    deadline = time.monotonic() + 3 * args.contacts / args.mps + 180
    seen, got, last_report = 0, set(), time.monotonic()
    while time.monotonic() < deadline and not got >= wanted:
        with fake.lock:
            new = fake.received[seen:]
        seen += len(new)
        got.update(r["form"].get("To") for r in new if r["form"].get("Body") == CAMPAIGN_TEXT)
        for proc in processes:
            proc.check()
        if time.monotonic() - last_report >= 30:
            last_report = time.monotonic()
            say(mode, f"  {len(got)} of {len(wanted)} campaign texts at {time.perf_counter() - posted:.0f} s")
        time.sleep(0.5)


def analyse(
    fake: FakeTwilioProcess, numbers: list[str], talks: list[Conversation], *, posted: float, args
) -> dict:
    """What the fake Twilio received, measured (`posted`: when the segment was uploaded)."""
    from messaging.segments import sms_segments

    with fake.lock:
        received = list(fake.received)
    if args.arrivals:
        arrivals_write(received, f"{args.arrivals}.{args.mode_name}.csv")
    stamps = [(r["at"], sms_segments(r["form"].get("Body", "")).segments) for r in received]
    campaign = sorted(r["at"] for r in received if r["form"].get("Body") == CAMPAIGN_TEXT)
    per_number = Counter(r["form"]["To"] for r in received if r["form"].get("Body") == CAMPAIGN_TEXT)
    segments = sms_segments(CAMPAIGN_TEXT).segments
    end = campaign[-1] if campaign else float("inf")
    during, before, unanswered = [], [], 0
    for talk in talks:
        answers = sorted(r["at"] for r in received if r["form"].get("To") == talk.phone)
        for n, asked in enumerate(talk.posted):  # one contact's texts go in order: n-th answers n-th
            if n >= len(answers):
                unanswered += 1
            elif posted <= asked <= end:
                during.append(answers[n] - asked)
            elif asked < posted:
                before.append(answers[n] - asked)
    answered = sum(1 for r in received if r["form"].get("Body", "").startswith("Pong "))
    took = campaign[-1] - campaign[0] if len(campaign) > 1 else float("nan")
    ideal = args.contacts * segments / args.mps
    return {
        "busiest_second": most_in_one_second(stamps)[0],
        "campaign_seconds": took,
        "ideal_seconds": ideal,
        "ratio": took / ideal,
        "first_after_upload": (campaign[0] - posted) if campaign else float("nan"),
        "answers_sent": answered,
        "ideal_with_answers": (len(campaign) * segments + answered) / args.mps,
        "conversation_messages": sum(len(t.posted) for t in talks),
        "webhook_failures": sum(len(t.failures) for t in talks),
        "unanswered": unanswered,
        "p50": percentile(during, 50),
        "p99": percentile(during, 99),
        "max_latency": max(during, default=float("nan")),
        "during_n": len(during),
        "before_p50": percentile(before, 50),
        "before_n": len(before),
        "lost": sum(1 for n in numbers if per_number[n] == 0),
        "doubled": sum(c - 1 for c in per_number.values() if c > 1),
        "twilio_requests": len(received),
    }


def arrivals_write(received: list[dict], path: str) -> None:
    """For a closer look: when each request reached the fake Twilio (seconds from the first)."""
    first = min((r["at"] for r in received), default=0.0)
    rows = [f"{r['at'] - first:.4f},{r['form'].get('To')},{r['form'].get('Body', '')[:12]}" for r in received]
    Path(path).write_text("at,to,body\n" + "\n".join(rows) + "\n")


def database_counts() -> dict:
    from django.db import connections
    from django.db.models import Count

    from automation.models import BulkEnrollmentJob
    from messaging.models import OutboundMessage

    job = BulkEnrollmentJob.objects.values("status", "total", "processed", "enrolled").first() or {}
    statuses = dict(
        OutboundMessage.objects.filter(interaction__body=CAMPAIGN_TEXT)
        .values_list("status")
        .annotate(n=Count("id"))
    )
    connections.close_all()
    return {"job": job, "campaign_statuses": statuses}


def report(r: dict) -> None:
    def verdict(met: bool) -> str:
        return "met" if met else "NOT met"

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.0f} ms"

    mps, both = r["mps"], r["campaign_seconds"] / r["ideal_with_answers"]
    lines = [
        f"== {r['mode']}: {r['contacts']} contacts at {mps} MPS ==",
        f"busiest second at the fake Twilio: {r['busiest_second']} segments"
        f" (goal <= {mps}: {verdict(r['busiest_second'] <= mps)})",
        f"campaign: first to last text {r['campaign_seconds']:.1f} s, ideal {r['ideal_seconds']:.0f} s:"
        f" {r['ratio']:.3f} x (goal <= {GOAL_RATIO}: {verdict(r['ratio'] <= GOAL_RATIO)})",
        f"  its first text {r['first_after_upload']:.1f} s after the upload (answered in"
        f" {r['upload_seconds']:.1f} s); the sender also sent {r['answers_sent']} answers:"
        f" campaign + answers at {mps} MPS take {r['ideal_with_answers']:.0f} s ({both:.3f} x)",
        f"answers to the {r['during_n']} messages sent while the campaign ran: p50 {ms(r['p50'])},"
        f" p99 {ms(r['p99'])}, max {ms(r['max_latency'])} (goal p99 < {GOAL_P99:.0f} s:"
        f" {verdict(r['p99'] < GOAL_P99)})",
        f"  before the upload: {r['before_n']} messages, p50 {ms(r['before_p50'])};"
        f" {r['conversation_messages']} in all, unanswered {r['unanswered']},"
        f" webhook failures {r['webhook_failures']}",
        f"campaign texts lost {r['lost']}, doubled {r['doubled']}"
        f" (goal 0 and 0: {verdict(r['lost'] == 0 and r['doubled'] == 0)});"
        f" Twilio requests {r['twilio_requests']}",
        f"database: bulk job {r['job']}; campaign messages by status {r['campaign_statuses']}",
    ]
    print("\n" + "\n".join(lines), flush=True)


# --- the whole run --------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    option = parser.add_argument
    option("--broker", action="store_true", help="the broker mode (both modes when neither is given)")
    option("--zero-setup", action="store_true", help="the zero-setup mode")
    option("--contacts", type=int, default=20000, help="campaign contacts (default 20000)")
    option("--mps", type=int, default=50, help="the sender's limit, segments a second (default 50)")
    option("--conversers", type=int, default=20, help="contacts texting PING meanwhile (default 20)")
    option("--interval", type=_bounds, default=(5.0, 10.0), help="seconds between a contact's texts (5,10)")
    option("--latency", type=_bounds, default=(0.02, 0.06), help="seconds the fake Twilio takes (0.02,0.06)")
    option("--threads", type=int, default=16, help="threads of each Celery worker (default 16)")
    option("--web-workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    option("--keep", action="store_true", help=f"keep the {DBNAME} database afterwards")
    option("--arrivals", metavar="PATH", help="write what the fake Twilio received to PATH.<mode>.csv")
    option("--json", help=argparse.SUPPRESS)  # one mode in this process: its result there
    args = parser.parse_args()
    modes = [m for m in MODES if getattr(args, m.replace("-", "_"))] or list(MODES)
    args.mode_name = modes[0]
    if args.json:
        result = run_mode(modes[0], args)
        report(result)
        Path(args.json).write_text(json.dumps(result))
        return 0
    results = []
    for mode in modes:  # each in a process of its own: its own settings and database
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            argv = [a for a in sys.argv[1:] if a not in ("--broker", "--zero-setup")]
            code = subprocess.call([PYTHON, __file__, f"--{mode}", *argv, "--json", out.name], cwd=ROOT)
            if code:
                print(f"{mode}: the run failed (exit {code})", file=sys.stderr)
                return code
            results.append(json.loads(Path(out.name).read_text()))
    print(
        f"\n{'mode':<11}{'busiest s':>10}{'campaign s':>11}{'x ideal':>9}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'lost':>6}{'doubled':>8}"
    )
    for r in results:
        print(
            f"{r['mode']:<11}{r['busiest_second']:>10}{r['campaign_seconds']:>11.1f}{r['ratio']:>9.3f}"
            f"{r['p50'] * 1000:>8.0f}{r['p99'] * 1000:>8.0f}{r['lost']:>6}{r['doubled']:>8}"
        )
    return 0


def _bounds(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    return float(low), float(high or low)


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"bench/campaign.py done in {time.monotonic() - started:.0f} s")
    sys.exit(code)
