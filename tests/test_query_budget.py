"""docs/architecture.md §5: an inbound reply costs a constant number of SQL queries (≤ 14), whatever the
plan size or the contact's history.

Counted: every statement one message costs — the webhook's own (storing it, in autocommit)
and the engine's routing (a worker's, run in-process here as when no broker is
configured), the routing transaction's bracket included (SAVEPOINT/RELEASE here, since the
test wraps each test in a transaction; BEGIN/COMMIT in production) — up to the enqueue of
the sends (with a broker the enqueue costs no SQL; the sends run on a worker). The
comparisons between plan sizes leave the bracket out. The cost of sending inline (no
broker) is measured separately, and must not depend on plan size or history either.

Steady state: each process caches published revisions by id (automation.engine.revisions); the
first message after a plan is published reads the new revision with one more query. A
message from another number warms the cache before counting, and a test below pins that
extra query to exactly one.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation.engine.plans import plan_import
from automation.tests.factories import plan_make, send
from conftest import api_user, inbound_payload, token_auth
from contacts.models import Contact
from messaging.models import OutboundMessage
from tracking.models import GoalConversion
from tracking.tests.factories import InteractionFactory

pytestmark = pytest.mark.django_db

# Routing locks the contact first (one statement), then claims its waiting messages (one
# more): a contact's messages are routed in arrival order (issue 9). It was one statement
# on PostgreSQL before, claim first — which two workers holding two messages of one
# contact could deadlock on once the claim takes the older messages too.
# Queueing a reply also moves the contact's own older texts still waiting in a sender's
# campaign lane into the reply lane (one UPDATE, issue 20): their order holds, and the
# reply does not wait behind a campaign's backlog.
BUDGET = 14
BRACKET = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")


def make_plan(n_steps: int):
    """A chain of `n_steps` ask steps: GO moves on (recording a goal, sending a text); each
    also has three other keyword rules into the plan and an answer to unmatched replies."""
    steps = []
    for i in range(n_steps - 1):
        rules = [{"match": "keyword", "words": ["GO"], "next": f"s{i + 1}"}]
        rules += [
            {"match": "keyword", "words": [f"X{j}"], "next": f"s{(i * 7 + j) % (n_steps - 1)}"}
            for j in range(3)
        ]
        step = {
            "id": f"s{i}",
            "type": "ask",
            "text": f"You are at step {i}, {{{{ contact.first_name }}}}. Reply GO.",
            "rules": rules,
            "other": {"text": f"Reply GO to leave step {i}."},
        }
        if i:
            step["goal"] = f"g{i}"
        steps.append(step)
    steps.append(send(f"s{n_steps - 1}", "The end.", goal=f"g{n_steps - 1}"))
    goals = [{"slug": f"g{i}", "name": f"Goal {i}", "points": i} for i in range(1, n_steps)]
    return plan_make(steps=steps, goals=goals)


def make_history(phone: str, n_messages: int):
    contact = Contact.objects.create(phone=phone, first_name="Ann")
    for i in range(n_messages):
        InteractionFactory(
            contact=contact,
            direction="inbound" if i % 2 else "outbound",
            body=f"old {i}",
            provider_sid=f"SMhistory{contact.pk}x{i}",
        )
    return contact


def post(twilio, phone, body, *, capture_callbacks, send: bool):
    with CaptureQueriesContext(connection) as ctx, capture_callbacks(execute=send):
        response = twilio.post("/twilio/sms/", inbound_payload(phone, body))
    assert response.status_code == 200
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(BRACKET)]


def journey_costs(twilio, phone, capture_callbacks, *, send: bool) -> dict:
    """Statements per kind of message, walking one contact through the plan (after a message
    from another number, which warms what each process reads once: the default sender)."""
    post(twilio, "+12125550999", "hi", capture_callbacks=capture_callbacks, send=send)
    costs = {}
    costs["first message (enrolls)"] = post(
        twilio, phone, "hello", capture_callbacks=capture_callbacks, send=send
    )
    costs["reply: transition + goal + prompt"] = post(
        twilio, phone, " go! ", capture_callbacks=capture_callbacks, send=send
    )
    costs["reply: unmatched, fallback"] = post(
        twilio, phone, "what", capture_callbacks=capture_callbacks, send=send
    )
    costs["reply: unmatched, fallback already sent"] = post(
        twilio, phone, "eh", capture_callbacks=capture_callbacks, send=send
    )
    costs["reply: transition + goal again"] = post(
        twilio, phone, "GO", capture_callbacks=capture_callbacks, send=send
    )
    return costs


def describe(costs: dict) -> str:
    return "\n".join(
        f"{name}: {len(sqls)}\n    " + "\n    ".join(s[:120] for s in sqls) for name, sqls in costs.items()
    )


@pytest.mark.parametrize(
    ("n_steps", "history"), [(3, 0), (30, 50)], ids=["small-plan-no-history", "30-steps-50-messages"]
)
def test_an_inbound_message_costs_at_most_14_queries_and_a_new_number_s_first_15(
    twilio, django_capture_on_commit_callbacks, django_assert_max_num_queries, n_steps, history
):
    make_plan(n_steps)
    phone = "+12125550123"
    if history:
        make_history(phone, history)
    assert twilio.post("/twilio/sms/", inbound_payload("+12125550999", "hi")).status_code == 200  # warm
    # Enrolls; transition + goal + prompt; fallback; fallback already sent; transition again.
    for body in ["hello", " go! ", "what", "eh", "GO"]:
        # Everything counted, the transaction's own SAVEPOINT/RELEASE included. A first
        # message also reads which plans it may enter (one query; a reply that a step takes
        # does not), and a new number costs SQLite two statements more (PostgreSQL stores the
        # contact and the message in one): 15 on SQLite, 13 on PostgreSQL.
        budget = BUDGET + (1 if body == "hello" and not history else 0)
        with django_assert_max_num_queries(budget), django_capture_on_commit_callbacks(execute=False):
            assert twilio.post("/twilio/sms/", inbound_payload(phone, body)).status_code == 200
    # The walk really did what its comments say.
    assert GoalConversion.objects.filter(contact__phone=phone).count() == 2
    assert OutboundMessage.objects.filter(contact__phone=phone, purpose="fallback").count() == 1


def warm_sender(twilio) -> None:
    """The first message to an address makes it a sender (docs/reference.md §8): a few
    statements, once; then each process knows it. A message before any plan is active."""
    assert twilio.post("/twilio/sms/", inbound_payload("+12125550998", "hi")).status_code == 200


def test_the_cost_does_not_depend_on_plan_size_or_history(twilio, django_capture_on_commit_callbacks):
    warm_sender(twilio)
    make_plan(3)
    make_history("+12125550123", 0)  # a known number with no history (a new one costs the webhook 2 more)
    small = journey_costs(twilio, "+12125550123", django_capture_on_commit_callbacks, send=False)
    make_plan(30)  # a second, bigger catch-all plan; the small one is entered first (oldest)
    make_history("+12125550124", 50)
    big = journey_costs(twilio, "+12125550124", django_capture_on_commit_callbacks, send=False)
    assert {k: len(v) for k, v in small.items()} == {k: len(v) for k, v in big.items()}, describe(big)


def test_with_inline_sending_the_cost_is_still_constant(twilio, django_capture_on_commit_callbacks):
    """No broker: each reply is also sent in-process (locmem backend) after the commit."""
    warm_sender(twilio)
    make_plan(3)
    make_history("+12125550123", 0)
    small = journey_costs(twilio, "+12125550123", django_capture_on_commit_callbacks, send=True)
    make_plan(30)
    make_history("+12125550124", 50)
    big = journey_costs(twilio, "+12125550124", django_capture_on_commit_callbacks, send=True)
    assert {k: len(v) for k, v in small.items()} == {k: len(v) for k, v in big.items()}, describe(big)


def test_a_new_revision_costs_the_next_message_two_queries(twilio, django_capture_on_commit_callbacks):
    plan = make_plan(3)

    def first_message(phone):
        return post(twilio, phone, "hello", capture_callbacks=django_capture_on_commit_callbacks, send=False)

    first_message("+12125550120")  # reads the published revision
    warm = first_message("+12125550121")
    plan_import(document={**plan.published.document, "name": "Edited"})  # publishes revision 2
    cold = first_message("+12125550122")
    # The new revision and the ids of its goals, then cached.
    assert len(cold) == len(warm) + 2, describe({"warm": warm, "cold": cold})


def test_an_event_costs_the_same_whatever_the_contact_s_history(client, twilio, sms_outbox):
    """POST /api/events/ (docs/reference.md §7): an event that moves a waiting journey, converts its
    goal and sends a text costs the same number of statements for a contact with one earlier
    event as for one with fifty."""
    import json

    from tracking.models import Interaction

    plan_make(
        entry={"trigger": "keyword", "keywords": ["SHOP"]},
        steps=[
            {"id": "wait", "type": "wait_event", "event": "purchase", "next": "thanks"},
            send("thanks", "Thanks, {{ contact.first_name|default:'friend' }}!"),
        ],
        goals=[{"slug": "bought", "name": "Bought", "points": 5, "event": "purchase"}],
    )
    auth = token_auth(api_user("shop", "tracking.add_interaction"))

    def cost(phone: str, history: int) -> int:
        contact = Contact.objects.create(phone=phone)
        for i in range(history):
            InteractionFactory(
                contact=contact, channel="api", body="view", event_id=f"{phone}-old-{i}", provider_sid=None
            )
        assert twilio.post("/twilio/sms/", inbound_payload(phone, "shop")).status_code == 200
        with CaptureQueriesContext(connection) as queries:
            body = json.dumps({"event_id": f"{phone}-buy", "phone": phone, "type": "purchase", "value": 9})
            response = client.post("/api/events/", body, content_type="application/json", **auth)
        assert response.status_code == 201
        return len([q for q in queries if not q["sql"].startswith(BRACKET)])

    cost("+12125550300", 0)  # warms the caches (the revision, the token's permission look-up)
    assert cost("+12125550301", 1) == cost("+12125550302", 50)
    assert Interaction.objects.filter(channel="api", body="purchase").count() == 3
    assert GoalConversion.objects.filter(goal__slug="bought").count() == 3
