"""Is each hand-built statement on a message's path worth its upkeep? (issue 10, point 4)

    .venv/bin/python bench/hand_sql.py [--rounds 400]

Each statement the product builds by hand (or runs through an ORM internal) is timed in
one run against the ORM's own way of doing the same thing, on PostgreSQL (a database of
its own, ``sj_bench_hand_sql``, dropped at the end), in-process, each call in its own
transaction as in production (the webhook's store in autocommit). Printed per case:
statements per call, wall and CPU microseconds per call (medians over ``--rounds`` calls,
fresh rows each), and the ratio ORM / hand-built. What a message costs is these calls;
the webhook's request is about 2.5 ms of CPU in all (bench/webhook.py), routing about 10.

The cases:
1. the webhook stores a message of a known number —
   ``tracking.services.receive.inbound_message_store`` (one ``INSERT … SELECT … ON
   CONFLICT DO NOTHING``) vs the contact's id read, then ``Interaction.objects.create``
   (a redelivered MessageSid: the IntegrityError caught);
2. the same for a new number — one statement (a data-modifying CTE creates the contact)
   vs ``Contact.objects.get_or_create`` then the create;
3. ``contacts.services.contact_insert_if_new`` (one ``INSERT … ON CONFLICT DO NOTHING
   RETURNING id``) vs ``bulk_create(ignore_conflicts=True)`` and reading the id;
4. routing locks the contact — ``automation.locks.contact_lock_for_inbound`` (one ``UPDATE
   … RETURNING``) vs ``select_for_update(no_key=True)`` and an ``update()``;
5. routing claims the contact's waiting messages — ``automation.engine.inbound.
   _waiting_claim`` (one ``UPDATE …
   RETURNING``) vs selecting them for update and an ``update()``;
6. a goal converts — ``tracking.services.goals._goal_conversion_insert_once`` (``INSERT …
   SELECT points … ON CONFLICT DO NOTHING RETURNING``) vs reading the goal, then
   ``get_or_create`` of the conversion;
7. routing locks the contact's active enrollments — ``automation.locks.
   enrollments_active_lock`` (its ``SELECT … FOR UPDATE`` built once per process) vs the
   ORM's ``select_for_update().filter().order_by()``;
8. a first message reads the plans it may enter — ``automation.engine.revisions.entry_flows``'s
   statement built once vs the ORM's ``filter().order_by().values_list()``;
9. a goal's points are added to the contact's engagement value —
   ``tracking.services.goals._engagement_add`` (its ``UPDATE`` built once per process) vs the
   ORM's ``update(engagement_value=F(…) + points)``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database_drop, database_recreate, server_env

DBNAME = "sj_bench_hand_sql"


def measure(rounds: int, prepare, hand, orm) -> dict:
    """Alternate hand and ORM calls (fresh arguments from `prepare` each), timing each."""
    from django.db import connection, transaction

    counts = {"hand": 0, "orm": 0}
    samples: dict[str, list[tuple[float, float]]] = {"hand": [], "orm": []}

    counting: list[str] = []  # the kind being timed; empty while arguments are prepared

    def count(execute, sql, params, many, context):
        if counting and not sql.startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE", "ROLLBACK")):
            counts[counting[0]] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        for i in range(rounds):
            for current, fn in (("hand", hand), ("orm", orm)) if i % 2 else (("orm", orm), ("hand", hand)):
                counting.clear()
                args = prepare()
                counting.append(current)
                wall, cpu = time.perf_counter(), time.process_time()
                if fn.__name__.endswith("_autocommit"):
                    fn(**args)
                else:
                    with transaction.atomic():
                        fn(**args)
                samples[current].append((time.perf_counter() - wall, time.process_time() - cpu))
    out = {}
    for kind in ("hand", "orm"):
        out[kind] = {
            "statements": counts[kind] / rounds,
            "wall_us": statistics.median(s[0] for s in samples[kind]) * 1e6,
            "cpu_us": statistics.median(s[1] for s in samples[kind]) * 1e6,
        }
    return out


def show(name, prepare, hand, orm) -> None:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    for fn in (hand, orm):
        args = prepare()
        with CaptureQueriesContext(connection) as ctx:
            if fn.__name__.endswith("_autocommit"):
                fn(**args)
            else:
                with transaction.atomic():
                    fn(**args)
        print(f"{name}, {fn.__name__}:")
        for q in ctx.captured_queries:
            print("   ", q["sql"][:150])


def cases():
    from django.db import IntegrityError, transaction
    from django.db.models import Case, F, When
    from django.utils import timezone

    from automation.engine.inbound import _waiting_claim
    from automation.locks import contact_lock_for_inbound
    from contacts.models import Contact
    from contacts.services import contact_insert_if_new
    from tracking.models import Goal, GoalConversion, Interaction
    from tracking.services import InboundMessage
    from tracking.services.goals import _goal_conversion_insert_once
    from tracking.services.receive import inbound_message_store

    numbers = iter(range(10**6))
    known = Contact.objects.create(phone="+12125550100")
    goal = Goal.objects.create(slug="bench", name="Bench", points=5)

    def message(phone: str) -> InboundMessage:
        return InboundMessage(
            sid=f"SM{uuid.uuid4().hex}", phone=phone, body="QUOTE", media=[], raw={"Body": "QUOTE"},
            from_address=phone, to_address="+14155550100",
        )  # fmt: skip

    def new_phone() -> str:
        return f"+1415{next(numbers):07d}"

    # 1 and 2: the webhook's store (autocommit, as in the webhook).
    def store_hand_autocommit(*, message):
        return inbound_message_store(message=message, created_at=timezone.now())

    def store_orm_autocommit(*, message):
        contact_id = Contact.objects.filter(phone=message.phone).values_list("pk", flat=True).first()
        if contact_id is None:
            contact_id = Contact.objects.get_or_create(phone=message.phone)[0].pk
        try:
            return Interaction.objects.create(
                contact_id=contact_id, direction="inbound", from_address=message.from_address,
                to_address=message.to_address, body=message.body, media=message.media,
                provider_sid=message.sid, raw_payload=message.raw, created_at=timezone.now(),
            ).pk  # fmt: skip
        except IntegrityError:
            return None

    yield (
        "1 webhook store, known number",
        lambda: {"message": message(known.phone)},
        store_hand_autocommit,
        store_orm_autocommit,
    )
    yield (
        "2 webhook store, new number",
        lambda: {"message": message(new_phone())},
        store_hand_autocommit,
        store_orm_autocommit,
    )

    # 3: a contact inserted unless it exists.
    def insert_hand_autocommit(*, phone):
        return contact_insert_if_new(phone=phone)

    def insert_orm_autocommit(*, phone):
        Contact.objects.bulk_create([Contact(phone=phone)], ignore_conflicts=True)
        return Contact.objects.filter(phone=phone).values_list("pk", flat=True).first()

    yield (
        "3 contact insert-if-new",
        lambda: {"phone": new_phone()},
        insert_hand_autocommit,
        insert_orm_autocommit,
    )

    # 4 and 5: routing's lock and claim, on a stored message of the known contact.
    def stored():
        interaction = Interaction.objects.create(
            contact=known, direction="inbound", body="QUOTE", provider_sid=f"SM{uuid.uuid4().hex}",
            created_at=timezone.now(),
        )  # fmt: skip
        return {"interaction_id": interaction.pk}

    def lock_hand(*, interaction_id):
        return contact_lock_for_inbound(interaction_id=interaction_id, now=timezone.now())

    def lock_orm(*, interaction_id):
        message = Interaction.objects.filter(pk=interaction_id, direction="inbound").values(
            "contact_id", "created_at"
        )
        row = message.first()
        contact = Contact.objects.select_for_update(no_key=True).get(pk=row["contact_id"])
        Contact.objects.filter(pk=contact.pk).update(
            last_inbound_at=Case(
                When(last_inbound_at__isnull=True, then=row["created_at"]),
                When(last_inbound_at__lt=row["created_at"], then=row["created_at"]),
                default=F("last_inbound_at"),
            ),
            updated_at=timezone.now(),
        )
        return contact

    yield "4 routing: lock the contact", stored, lock_hand, lock_orm

    def claim_hand(*, interaction_id):
        return _waiting_claim(contact=known, up_to=interaction_id, now=timezone.now())

    def claim_orm(*, interaction_id):
        now = timezone.now()
        waiting = Interaction.objects.select_for_update().filter(
            contact=known, direction="inbound", routed_at__isnull=True, route_failed_at__isnull=True,
            pk__lte=interaction_id,
        ).order_by("created_at", "pk")  # fmt: skip
        claimed = list(waiting)
        Interaction.objects.filter(pk__in=[i.pk for i in claimed]).update(routed_at=now)
        return claimed

    yield "5 routing: claim the waiting messages", stored, claim_hand, claim_orm

    # 6: a goal converted once per enrollment: a fresh enrollment each call (a first conversion).
    from automation.engine.plans import plan_load_demo
    from automation.models import Enrollment

    plan = plan_load_demo()

    def conversion_args():
        contact = Contact.objects.create(phone=new_phone())
        now = timezone.now()
        enrollment = Enrollment.objects.create(
            contact=contact, plan=plan, revision_id=plan.published_id, step_id="invited",
            enrolled_at=now, step_entered_at=now, expires_at=now,
        )  # fmt: skip
        return {"values": {
            "contact_id": contact.pk, "goal_id": goal.pk, "enrollment_id": enrollment.pk,
            "interaction_id": None, "value": None, "occurred_at": now,
        }}  # fmt: skip

    def convert_hand(*, values):
        return _goal_conversion_insert_once(values)

    def convert_orm(*, values):
        points = Goal.objects.filter(pk=values["goal_id"]).values_list("points", flat=True).first()
        with transaction.atomic():
            conversion, created = GoalConversion.objects.get_or_create(
                enrollment_id=values["enrollment_id"],
                goal_id=values["goal_id"],
                defaults={
                    "contact_id": values["contact_id"],
                    "points": points,
                    "occurred_at": values["occurred_at"],
                },
            )
        return (conversion.pk, points) if created else None

    yield "6 goal conversion", conversion_args, convert_hand, convert_orm
    yield from more_cases(known)


def more_cases(known):
    from automation.engine.revisions import entry_flows
    from automation.locks import enrollments_active_lock
    from automation.models import Enrollment, Plan

    def enrollments_hand(*, contact):
        return enrollments_active_lock(contact=contact)

    def enrollments_orm(*, contact):
        return list(
            Enrollment.objects.select_for_update()
            .filter(contact=contact, status="active")
            .order_by("-step_entered_at", "-pk")
        )

    yield "7 routing: lock the enrollments", lambda: {"contact": known}, enrollments_hand, enrollments_orm

    def entry_hand():
        return entry_flows()

    def entry_orm():
        return list(
            Plan.objects.filter(status="active", published__isnull=False)
            .order_by("created_at", "pk")
            .values_list("pk", "published_id")
        )

    yield "8 first message: plans to enter", dict, entry_hand, entry_orm

    # 9: a goal's points added to the contact's engagement value.
    from django.db.models import F

    from contacts.models import Contact
    from tracking.services.goals import _engagement_add

    def engagement_hand(*, contact_id):
        _engagement_add(contact_id=contact_id, points=5)

    def engagement_orm(*, contact_id):
        Contact.objects.filter(pk=contact_id).update(engagement_value=F("engagement_value") + 5)

    yield "9 goal: engagement value", lambda: {"contact_id": known.pk}, engagement_hand, engagement_orm


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--show", action="store_true", help="print the statements of one call of each")
    args = parser.parse_args()
    url = database_recreate(DBNAME)
    os.environ.update(server_env(database_url=url, broker_url=""))
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    try:
        call_command("migrate", verbosity=0)
        print(f"{'case':<40}{'statements':>22}{'wall µs':>22}{'CPU µs':>22}")
        print(f"{'':<40}{'hand / ORM':>22}{'hand / ORM (ratio)':>22}{'hand / ORM (ratio)':>22}")
        for name, prepare, hand, orm in cases():
            if args.show:
                show(name, prepare, hand, orm)
            r = measure(args.rounds, prepare, hand, orm)
            h, o = r["hand"], r["orm"]
            print(
                f"{name:<40}{h['statements']:>10.1f} / {o['statements']:<9.1f}"
                f"{h['wall_us']:>8.0f} / {o['wall_us']:<6.0f}({o['wall_us'] / h['wall_us']:.1f}x)"
                f"{h['cpu_us']:>8.0f} / {o['cpu_us']:<6.0f}({o['cpu_us'] / h['cpu_us']:.1f}x)"
            )
    finally:
        connections.close_all()
        database_drop(DBNAME)
    return 0


if __name__ == "__main__":
    sys.exit(main())
