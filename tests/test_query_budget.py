"""DESIGN §5: an inbound reply costs a constant number of SQL queries (≤ 13), whatever the
plan size or the contact's history.

Counted: every statement one message costs — the webhook's own (storing it, in autocommit)
and the engine's routing (a worker's, run in-process here as when no broker is
configured), the routing transaction's bracket included (SAVEPOINT/RELEASE here, since the
test wraps each test in a transaction; BEGIN/COMMIT in production) — up to the enqueue of
the sends (with a broker the enqueue costs no SQL; the sends run on a worker). The
comparisons between plan sizes leave the bracket out. The cost of sending inline (no
broker) is measured separately, and must not depend on plan size or history either.

Steady state: each process caches the plans' graph (automation.graph); the first message
after a plan edit reloads it with one more query. A message from another number warms
the cache before counting, and a test below pins that extra query to exactly one.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation.tests.factories import PlanFactory, PlanStateFactory, TransitionFactory
from conftest import inbound_payload
from contacts.models import Contact
from messaging.models import OutboundMessage
from messaging.tests.factories import SmsMessageFactory
from tracking.models import GoalConversion
from tracking.tests.factories import GoalFactory, InteractionFactory

pytestmark = pytest.mark.django_db

# Routing locks the contact first (one statement), then claims its waiting messages (one
# more): a contact's messages are routed in arrival order (issue 9). It was one statement
# on PostgreSQL before, claim first — which two workers holding two messages of one
# contact could deadlock on once the claim takes the older messages too.
BUDGET = 13
BRACKET = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")


def make_plan(n_states: int):
    """A chain of `n_states` states: GO moves on (recording a goal, sending a prompt), each
    state also has three other keyword transitions and a fallback text."""
    plan = PlanFactory(status="active", entry_trigger="any")
    states = [
        PlanStateFactory(
            plan=plan,
            name=f"S{i}",
            position=i,
            is_start=i == 0,
            is_final=i == n_states - 1,
            message=SmsMessageFactory(body=f"You are at step {i}, {{{{ contact.first_name }}}}. Reply GO."),
            goal=GoalFactory(points=i) if i else None,
            fallback_text=f"Reply GO to leave step {i}.",
        )
        for i in range(n_states)
    ]
    for i, state in enumerate(states[:-1]):
        TransitionFactory(plan=plan, from_state=state, to_state=states[i + 1], pattern="GO", priority=5)
        for j in range(3):
            TransitionFactory(
                plan=plan, from_state=state, to_state=states[(i * 7 + j) % n_states], pattern=f"X{j}"
            )
    return plan


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
    """Statements per kind of message, walking one contact through the plan."""
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
    ("n_states", "history"), [(3, 0), (30, 50)], ids=["small-plan-no-history", "30-states-50-messages"]
)
def test_an_inbound_message_costs_at_most_13_queries(
    twilio, django_capture_on_commit_callbacks, django_assert_max_num_queries, n_states, history
):
    make_plan(n_states)
    phone = "+12125550123"
    if history:
        make_history(phone, history)
    assert twilio.post("/twilio/sms/", inbound_payload("+12125550999", "hi")).status_code == 200  # warm
    # Enrolls; transition + goal + prompt; fallback; fallback already sent; transition again.
    for body in ["hello", " go! ", "what", "eh", "GO"]:
        # Everything counted, the transaction's own SAVEPOINT/RELEASE included.
        with django_assert_max_num_queries(BUDGET), django_capture_on_commit_callbacks(execute=False):
            assert twilio.post("/twilio/sms/", inbound_payload(phone, body)).status_code == 200
    # The walk really did what its comments say.
    assert GoalConversion.objects.filter(contact__phone=phone).count() == 2
    assert OutboundMessage.objects.filter(contact__phone=phone, purpose="fallback").count() == 1


def test_the_cost_does_not_depend_on_plan_size_or_history(twilio, django_capture_on_commit_callbacks):
    make_plan(3)
    make_history("+12125550123", 0)  # a known number with no history (a new one costs the webhook 2 more)
    small = journey_costs(twilio, "+12125550123", django_capture_on_commit_callbacks, send=False)
    make_plan(30)  # a second, bigger catch-all plan; the small one is entered first (oldest)
    make_history("+12125550124", 50)
    big = journey_costs(twilio, "+12125550124", django_capture_on_commit_callbacks, send=False)
    assert {k: len(v) for k, v in small.items()} == {k: len(v) for k, v in big.items()}, describe(big)


def test_with_inline_sending_the_cost_is_still_constant(twilio, django_capture_on_commit_callbacks):
    """No broker: each reply is also sent in-process (locmem backend) after the commit."""
    make_plan(3)
    make_history("+12125550123", 0)
    small = journey_costs(twilio, "+12125550123", django_capture_on_commit_callbacks, send=True)
    make_plan(30)
    make_history("+12125550124", 50)
    big = journey_costs(twilio, "+12125550124", django_capture_on_commit_callbacks, send=True)
    assert {k: len(v) for k, v in small.items()} == {k: len(v) for k, v in big.items()}, describe(big)


def test_a_plan_edit_costs_the_next_message_one_query(twilio, django_capture_on_commit_callbacks):
    plan = make_plan(3)

    def first_message(phone):
        return post(twilio, phone, "hello", capture_callbacks=django_capture_on_commit_callbacks, send=False)

    first_message("+12125550120")  # loads the graph
    warm = first_message("+12125550121")
    plan.name = "Edited"  # any write to a plan invalidates every process's cached graph
    plan.save()
    cold = first_message("+12125550122")
    assert len(cold) == len(warm) + 1, describe({"warm": warm, "cold": cold})
