import pytest
from django.core.exceptions import ValidationError

from automation.cockpit.reports import plan_report
from automation.cockpit.simulator import simulator_contact, simulator_reset, simulator_send, simulator_state
from automation.models import Enrollment, Plan
from automation.tests.factories import ask, plan_make, send
from conftest import bodies
from contacts.models import Contact
from tracking.models import Interaction

pytestmark = pytest.mark.django_db


def _plan(status, **kwargs):
    return plan_make(
        status=status,
        steps=[
            ask(
                "asked",
                "Reply BUY to buy.",
                [("BUY", "bought")],
                name="Asked",
                other={"text": "Please reply BUY."},
            ),
            send("bought", "Thanks!", name="Bought"),
        ],
        **kwargs,
    )


def test_chat_with_an_active_plan_through_the_engine(
    marketer, sms_outbox, django_capture_on_commit_callbacks
):
    plan = _plan(Plan.Status.ACTIVE)

    with django_capture_on_commit_callbacks(execute=True):
        first = simulator_send(plan=plan, user=marketer, text="hello")
    assert [r.body for r in first.replies] == ["Reply BUY to buy."]
    assert (first.state.state_name, first.state.status) == ("Asked", "active")
    assert first.note == ""

    with django_capture_on_commit_callbacks(execute=True):
        unmatched = simulator_send(plan=plan, user=marketer, text="what?")
    assert [r.body for r in unmatched.replies] == ["Please reply BUY."]
    assert unmatched.state.state_name == "Asked"

    with django_capture_on_commit_callbacks(execute=True):
        bought = simulator_send(plan=plan, user=marketer, text=" buy! ")
    assert [r.body for r in bought.replies] == ["Thanks!"]
    assert (bought.state.state_name, bought.state.status) == ("Bought", "completed")

    contact = simulator_contact(plan=plan, user=marketer)
    assert contact.is_test and contact.phone.startswith("+1202555010")
    # Replies went to the in-memory outbox, never to a real backend.
    assert [(m.to, m.body) for m in sms_outbox] == [
        (contact.phone, "Reply BUY to buy."),
        (contact.phone, "Please reply BUY."),
        (contact.phone, "Thanks!"),
    ]
    # A test contact is left out of the plan's report.
    assert plan_report(plan=plan).enrolled == 0


def test_each_user_and_plan_has_its_own_test_contact(marketer, django_user_model):
    plan, other_plan = _plan(Plan.Status.ACTIVE), _plan(Plan.Status.ACTIVE)
    other_user = django_user_model.objects.create_user("max", is_staff=True)
    a = simulator_contact(plan=plan, user=marketer)
    assert simulator_contact(plan=plan, user=marketer) == a
    b = simulator_contact(plan=other_plan, user=marketer)
    c = simulator_contact(plan=plan, user=other_user)
    assert len({a.phone, b.phone, c.phone}) == 3


def test_draft_plan_enrolls_the_test_contact_directly(marketer, sms_outbox):
    plan = _plan(Plan.Status.DRAFT, entry={"trigger": "keyword", "keywords": ["JOIN"]})

    first = simulator_send(plan=plan, user=marketer, text="anything")
    assert "draft" in first.note
    assert [r.body for r in first.replies] == ["Reply BUY to buy."]
    assert first.state.state_name == "Asked"
    assert first.sent.body == "anything"

    done = simulator_send(plan=plan, user=marketer, text="BUY")
    assert done.note == ""
    assert (done.state.state_name, done.state.status) == ("Bought", "completed")


def test_active_keyword_plan_explains_a_message_that_did_not_enroll(marketer, sms_outbox):
    plan = _plan(Plan.Status.ACTIVE, entry={"trigger": "keyword", "keywords": ["JOIN"]})
    turn = simulator_send(plan=plan, user=marketer, text="hi")
    assert turn.replies == []
    assert turn.state.enrollment is None
    assert "did not enroll" in turn.note and "JOIN" in turn.note
    assert simulator_send(plan=plan, user=marketer, text="join").state.state_name == "Asked"


def test_stop_opts_the_test_contact_out_and_reset_deletes_everything(marketer, sms_outbox):
    plan = _plan(Plan.Status.ACTIVE)
    simulator_send(plan=plan, user=marketer, text="hello")
    stopped = simulator_send(plan=plan, user=marketer, text="STOP")
    assert stopped.state.status == "opted_out"
    contact = simulator_contact(plan=plan, user=marketer)
    assert contact.opted_out

    assert simulator_reset(plan=plan, user=marketer) is True
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert not Interaction.objects.filter(contact_id=contact.pk).exists()
    assert not Enrollment.objects.filter(contact_id=contact.pk).exists()
    assert simulator_state(plan=plan, user=marketer).contact is None
    assert simulator_reset(plan=plan, user=marketer) is False
    # A fresh start after the reset.
    assert simulator_send(plan=plan, user=marketer, text="hello").state.state_name == "Asked"


def test_simulator_page_chat_and_reset(admin_client, admin_user, django_capture_on_commit_callbacks):
    plan = _plan(Plan.Status.ACTIVE)
    url = f"/admin/automation/plan/{plan.pk}/try/"
    assert admin_client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"text": "hello"})
    assert response.status_code == 302
    page = admin_client.get(url)
    html = page.content.decode()
    assert "Reply BUY to buy." in html and 'class="bubble inbound"' in html
    assert "Step: <strong>Asked</strong>" in html
    assert 'class="state start current"' in html  # the diagram highlights where the test contact is
    # An empty message is refused, nothing sent.
    assert admin_client.post(url, {"text": ""}).status_code == 200
    assert admin_client.post(url, {"reset": "1"}).status_code == 302
    assert simulator_state(plan=plan, user=admin_user).contact is None


def test_a_plan_without_any_revision_is_a_clear_error(admin_client, admin_user):
    plan = Plan.objects.create(name="Empty", slug="empty")
    with pytest.raises(ValidationError, match="cannot enroll anyone yet"):
        simulator_send(plan=plan, user=admin_user, text="hi")
    assert not Interaction.objects.exists()
    response = admin_client.post(f"/admin/automation/plan/{plan.pk}/try/", {"text": "hi"}, follow=True)
    assert response.status_code == 200
    assert "cannot enroll anyone yet" in response.content.decode()


def test_reset_never_deletes_a_real_contact_a_marketer_dressed_as_a_test_one(admin_client, admin_user):
    """Today's exploit, step by step: tick is_test on a real contact and give it the
    simulator's attributes; Reset must still delete nothing of it."""
    from contacts.models import ConsentEvent

    plan = _plan(Plan.Status.ACTIVE)
    real = Contact.objects.create(phone="+14155550142", first_name="Real")
    ConsentEvent.objects.create(contact=real, kind="opt_in", source="admin", occurred_at=real.created_at)
    change = f"/admin/contacts/contact/{real.pk}/edit/"
    page = admin_client.get(change).content.decode()
    assert 'name="is_test"' not in page  # no one can tick it
    response = admin_client.post(
        change,
        {
            "phone": real.phone, "first_name": "Real", "last_name": "", "email": "", "timezone": "",
            "locale": "", "is_test": "on",
            "attributes": f'{{"simulator": {{"plan": {plan.pk}, "user": {admin_user.pk}}}}}',
            **_empty_inlines(page),
        },
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    real.refresh_from_db()
    assert real.is_test is False  # the tick was not taken
    Contact.objects.filter(pk=real.pk).update(is_test=True)  # and even if it were set some other way

    assert admin_client.post(f"/admin/automation/plan/{plan.pk}/try/", {"reset": "1"}).status_code == 302
    assert Contact.objects.filter(pk=real.pk).exists()
    assert ConsentEvent.objects.filter(contact=real).exists()
    assert simulator_reset(plan=plan, user=admin_user) is False


def test_the_simulator_finds_only_the_test_contact_it_made(marketer, sms_outbox):
    plan = _plan(Plan.Status.ACTIVE)
    decoy = Contact.objects.create(
        phone="+14155550143", is_test=True, attributes={"simulator": {"plan": plan.pk, "user": marketer.pk}}
    )
    made = simulator_contact(plan=plan, user=marketer)
    assert made.pk != decoy.pk and made.phone.endswith(tuple(f"55501{n:02d}" for n in range(100)))
    assert simulator_contact(plan=plan, user=marketer).pk == made.pk
    assert simulator_reset(plan=plan, user=marketer) is True
    assert Contact.objects.filter(pk=decoy.pk).exists()


def _empty_inlines(page: str) -> dict:
    """The management forms of the contact page's inlines, as a browser posts them."""
    import re

    pattern = r'name="([\w-]+-(?:TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS)"[^>]*value="(\d*)"'
    return dict(re.findall(pattern, page))


def _survey():
    import json
    from pathlib import Path

    from automation.engine.plans import plan_import

    document = json.loads((Path(__file__).resolve().parents[2] / "docs/plans/spring-survey.json").read_text())
    return plan_import(document=document).plan


def test_the_simulator_walks_every_kind_of_step_with_choices_and_fast_forward(
    admin_client, admin_user, sms_outbox, django_capture_on_commit_callbacks
):
    plan = _survey()
    url = f"/admin/automation/plan/{plan.pk}/try/"

    def say(**data):
        with django_capture_on_commit_callbacks(execute=True):
            assert admin_client.post(url, data).status_code == 302
        return admin_client.get(url).content.decode()

    page = admin_client.get(url).content.decode()
    assert 'name="split-ab"' in page and "take B" in page  # the A/B split can be chosen
    page = say(branches="1", **{"split-ab": "B"})
    assert "A/B splits: ab: B." in page

    page = say(text="SURVEY")
    assert "Quick one: rate your last order" in page  # branch B's question, as chosen
    assert "The test contact was enrolled directly: you chose the branches" in page
    steps = page.split('id="simulator-steps"')[1].split("</details>")[0]
    assert "VIP?" in steps and "First question A/B" in steps and "branch B" in steps

    # Two hours of silence need not be waited for.
    assert 'id="simulator-timer"' in page
    page = say(fast_forward="1")
    assert "Skipped the wait at “Asked (B)”." in page
    assert "Just a reminder: how would you rate us, 1-5?" in page

    page = say(text="2")
    values = page.split('id="simulator-values"')[1].split("</details>")[0]
    assert "attributes.score" in values and "<td>2</td>" in values
    assert "attributes.score = 2" in page  # in the step history too
    page = say(text="The delivery was late")
    page = say(text="ann@example.com")
    assert "Thanks, Test!" in page  # the test contact is called Test
    values = page.split('id="simulator-values"')[1].split("</details>")[0]
    assert "ann@example.com" in values and "The delivery was late" in values
    state = simulator_state(plan=plan, user=admin_user)
    assert state.enrollment.status == "completed" and state.enrollment.branches == {"ab": "B"}
    # Each message was answered once: the entry message was not taken again as a reply.
    assert "Please reply with a number from 1 to 5." not in page
    assert not sms_outbox or all(m.to == state.contact.phone for m in sms_outbox)


def test_the_simulator_shows_a_web_service_call_and_its_answer(
    admin_client, admin_user, sms_outbox, django_capture_on_commit_callbacks
):
    import responses

    plan = plan_make(
        status=Plan.Status.ACTIVE,
        steps=[
            {"id": "call", "name": "Scored", "type": "http", "method": "POST",
             "url": "https://93.184.216.34/score", "body": {"phone": "{{ contact.phone }}"},
             "save": {"attributes.points": "points"}, "next": "done", "on_failure": None},
            send("done", "You have {{ contact.attributes.points }} points.", name="Told"),
        ],
    )  # fmt: skip
    url = f"/admin/automation/plan/{plan.pk}/try/"
    with responses.RequestsMock() as service:
        service.post("https://93.184.216.34/score", json={"points": 7})
        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post(url, {"text": "hi"})
        # The call happens after commit (a task; in-process here), then its own commit.
        with django_capture_on_commit_callbacks(execute=True):
            pass
    page = admin_client.get(url).content.decode()
    steps = page.split('id="simulator-steps"')[1].split("</details>")[0]
    assert "POST https://93.184.216.34/score → 200 {&quot;points&quot;: 7}" in steps
    assert "attributes.points = 7" in steps
    assert "You have 7 points." in page


def test_send_an_event_enters_waits_and_converts_in_the_simulator(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    """A plan entered by an event and waiting for another is tried without a shop: "Send an
    event" does what POST /api/events/ would, for the test contact."""
    plan = plan_make(
        status=Plan.Status.DRAFT,
        entry={"trigger": "event", "event": "signup"},
        steps=[
            send("hello", "Welcome! Your first order ships free.", "wait"),
            {
                "id": "wait",
                "type": "wait_event",
                "event": "purchase",
                "next": "thanks",
                "name": "Waiting to buy",
            },
            send("thanks", "Thanks for your order!"),
        ],
        goals=[{"slug": "bought", "name": "Bought", "points": 20, "event": "purchase"}],
    )
    url = f"/admin/automation/plan/{plan.pk}/try/"

    def post(**data):
        with django_capture_on_commit_callbacks(execute=True):
            assert admin_client.post(url, data).status_code == 302
        return admin_client.get(url).content.decode()

    page = admin_client.get(url).content.decode()
    assert '<option value="purchase"><option value="signup">' in page  # the plan's events, to pick

    page = post(event="1", type="Sign up!")
    assert "An event type is lower-case letters" in page
    assert simulator_state(plan=plan, user=admin_user).contact is None or not Interaction.objects.exists()

    page = post(event="1", type="signup")
    assert "The test contact entered" in page and "only with marketing consent on record" in page
    assert "Welcome! Your first order ships free." in page
    assert "Step: <strong>Waiting to buy</strong>" in page
    assert 'name="type" value="purchase"' in page  # what the step waits for, filled in

    page = post(event="1", type="purchase", value="49.90")
    assert "Thanks for your order!" in page
    assert "Event: purchase" in page and "value 49.90" in page
    state = simulator_state(plan=plan, user=admin_user)
    assert state.enrollment.status == "completed"
    conversion = state.contact.goal_conversions.get()
    assert (conversion.goal.slug, str(conversion.value)) == ("bought", "49.90")
    assert plan_report(plan=plan).revenue is None  # test contacts are left out of reports


@pytest.mark.parametrize("text", ["stop texting me", "STOP", "no más", "HELP"])
def test_try_it_on_a_draft_judges_compliance_as_the_engine_does(
    admin_client, admin_user, sms_outbox, settings, text, django_capture_on_commit_callbacks
):
    # A draft enrols the test contact directly; a message compliance settles never does.
    settings.SMS_HELP_TEXT = "Help: reply STOP to opt out."
    plan = _plan(Plan.Status.DRAFT)
    url = f"/admin/automation/plan/{plan.pk}/try/"
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(url, {"text": text}).status_code == 302
    contact = simulator_contact(plan=plan, user=admin_user)
    assert not Enrollment.objects.filter(contact=contact).exists()
    assert "Reply BUY to buy." not in bodies(sms_outbox)
    if text == "HELP":
        assert bodies(sms_outbox) == ["Help: reply STOP to opt out."]
        assert not contact.opted_out
    else:
        assert contact.opted_out  # exactly what the engine does with a real contact
        assert contact.consent_events.get().source in ("keyword", "revocation")
