"""The plan page: states and transitions as inlines, every rule judged on the submitted data,
and the Activate / Pause / Archive buttons of the plan's FSM."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils.duration import duration_string

from automation.models import Enrollment, Plan, PlanState, Transition
from automation.tests.factories import EnrollmentFactory, PlanFactory, PlanStateFactory
from messaging.models import SmsMessage


@pytest.fixture
def staff(admin_user):
    """The superuser pytest-django's admin_client is logged in as."""
    return admin_user


def _value(value):
    if value is None or value is False:
        return None
    if value is True:
        return "on"
    if isinstance(value, timedelta):
        return duration_string(value)
    if hasattr(value, "pk"):
        return str(value.pk)
    return str(value)


def plan_fields(plan: Plan) -> dict:
    return {
        "name": plan.name,
        "slug": plan.slug,
        "description": plan.description,
        "entry_trigger": plan.entry_trigger,
        "entry_keywords": plan.entry_keywords,
        "reentry": plan.reentry,
        "interrupts_other_plans": plan.interrupts_other_plans,
        "enrollment_lifetime": plan.enrollment_lifetime,
        "expiry_text": plan.expiry_text,
    }


def state_rows(plan: Plan) -> list[dict]:
    return [
        {
            "id": s.pk,
            "plan": plan.pk,
            "position": s.position,
            "name": s.name,
            "is_start": s.is_start,
            "is_final": s.is_final,
            "message": s.message,
            "goal": s.goal,
            "fallback_text": s.fallback_text,
            "timeout": s.timeout,
            "timeout_to": s.timeout_to,
        }
        for s in plan.states.order_by("position", "id")
    ]


def transition_rows(plan: Plan) -> list[dict]:
    return [
        {
            "id": t.pk,
            "plan": plan.pk,
            "from_state": t.from_state,
            "match": t.match,
            "pattern": t.pattern,
            "to_state": t.to_state,
            "priority": t.priority,
            "goal": t.goal,
        }
        for t in plan.transitions.order_by("from_state__position", "priority", "id")
    ]


def form_data(fields: dict, inlines: dict[str, tuple[list[dict], int]], **extra) -> dict:
    """A POST of the plan page: the plan's fields plus each inline's rows and management form.
    `inlines` maps the prefix to (rows, how many of them already exist)."""
    data = {k: _value(v) for k, v in fields.items()}
    for prefix, (rows, initial) in inlines.items():
        data[f"{prefix}-TOTAL_FORMS"] = str(len(rows))
        data[f"{prefix}-INITIAL_FORMS"] = str(initial)
        data[f"{prefix}-MIN_NUM_FORMS"] = "0"
        data[f"{prefix}-MAX_NUM_FORMS"] = "1000"
        for i, row in enumerate(rows):
            for key, value in row.items():
                data[f"{prefix}-{i}-{key}"] = _value(value)
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def post_change(client, plan: Plan, *, states=None, transitions=None, fields=None, follow=False, **extra):
    existing_states = plan.states.count()
    existing_transitions = plan.transitions.count()
    data = form_data(
        {**plan_fields(plan), **(fields or {})},
        {
            "states": (states if states is not None else state_rows(plan), existing_states),
            "transitions": (
                transitions if transitions is not None else transition_rows(plan),
                existing_transitions,
            ),
        },
        **extra,
    )
    return client.post(reverse("admin:automation_plan_change", args=[plan.pk]), data, follow=follow)


def errors_of(response) -> str:
    assert response.status_code == 200, f"expected the form back with errors, got {response.status_code}"
    return response.content.decode()


def snapshot(plan: Plan):
    return (
        list(PlanState.objects.filter(plan=plan).order_by("pk").values()),
        list(Transition.objects.filter(plan=plan).order_by("pk").values()),
        Plan.objects.filter(pk=plan.pk).values("status", "entry_keywords").get(),
    )


# --- the page works ------------------------------------------------------------------


def test_unchanged_demo_plan_saves(admin_client, demo_plan):
    before = snapshot(demo_plan)
    response = post_change(admin_client, demo_plan)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert snapshot(demo_plan)[1] == before[1]


def test_add_plan_with_states_on_one_page(admin_client, db):
    message = SmsMessage.objects.create(name="Welcome", body="Hi {{ contact.first_name }}!")
    data = form_data(
        {
            "name": "Spring sale",
            "slug": "spring-sale",
            "entry_trigger": "keyword",
            "entry_keywords": "SPRING, Sale",
            "reentry": "after_end",
            "interrupts_other_plans": True,
            "enrollment_lifetime": timedelta(days=3),
        },
        {
            "states": (
                [
                    {"position": 0, "name": "Welcome", "is_start": True, "message": message},
                    {"position": 1, "name": "Done", "is_final": True},
                ],
                0,
            )
        },
    )
    response = admin_client.post(reverse("admin:automation_plan_add"), data, follow=True)
    assert response.status_code == 200
    plan = Plan.objects.get(slug="spring-sale")
    assert plan.status == Plan.Status.DRAFT
    assert list(plan.states.values_list("name", "is_start")) == [("Welcome", True), ("Done", False)]
    # A draft may be incomplete: saved, with a warning saying what activation needs.
    assert "has no way forward" in response.content.decode()


def test_transitions_inline_only_once_the_plan_exists(admin_client, demo_plan):
    assert b"transitions-TOTAL_FORMS" not in admin_client.get(reverse("admin:automation_plan_add")).content
    page = admin_client.get(reverse("admin:automation_plan_change", args=[demo_plan.pk])).content.decode()
    assert "transitions-TOTAL_FORMS" in page
    assert "states-TOTAL_FORMS" in page


# --- rules judged on the submitted data ------------------------------------------------


def test_active_plan_without_start_state_is_refused(admin_client, demo_plan):
    before = snapshot(demo_plan)
    states = state_rows(demo_plan)
    for row in states:
        row["is_start"] = False
    response = post_change(admin_client, demo_plan, states=states)
    page = errors_of(response)
    assert "no start state" in page
    # Also at the top of the page, as a message.
    shown = [str(m) for m in response.context["messages"]]
    assert any("no start state" in m for m in shown)
    assert snapshot(demo_plan) == before


def test_two_start_states_are_refused_even_for_a_draft(admin_client, db):
    plan = PlanFactory()
    a = PlanStateFactory(plan=plan, name="A", is_start=True, is_final=True)
    PlanStateFactory(plan=plan, name="B", is_final=True)
    states = state_rows(plan)
    for row in states:
        row["is_start"] = True
    page = errors_of(post_change(admin_client, plan, states=states))
    assert "Only one state can be the start state" in page
    assert list(plan.states.filter(is_start=True)) == [a]


def test_moving_the_start_flag_in_one_save_works(admin_client, demo_plan):
    states = state_rows(demo_plan)
    for row in states:
        row["is_start"] = row["name"] == "Reminded"
    response = post_change(admin_client, demo_plan, states=states)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert demo_plan.states.get(is_start=True).name == "Reminded"


def test_state_with_no_way_forward_refused_on_an_active_plan(admin_client, demo_plan):
    before = snapshot(demo_plan)
    states = [*state_rows(demo_plan), {"plan": demo_plan.pk, "position": 9, "name": "Dead end"}]
    page = errors_of(post_change(admin_client, demo_plan, states=states))
    assert "State “Dead end” has no way forward" in page
    assert snapshot(demo_plan) == before


def test_state_with_no_way_forward_is_a_warning_on_a_draft(admin_client, db):
    plan = PlanFactory()
    PlanStateFactory(plan=plan, name="Start", is_start=True, is_final=True)
    states = [*state_rows(plan), {"plan": plan.pk, "position": 1, "name": "Dead end"}]
    response = post_change(admin_client, plan, states=states, follow=True)
    assert response.status_code == 200
    assert plan.states.filter(name="Dead end").exists()
    assert "Before this plan can be activated" in response.content.decode()
    assert "State “Dead end” has no way forward" in response.content.decode()


def test_removing_the_only_transition_out_of_a_state_is_refused_on_an_active_plan(admin_client, demo_plan):
    transitions = transition_rows(demo_plan)
    for row in transitions:
        if row["from_state"].name == "Quoted":
            row["DELETE"] = True
    page = errors_of(post_change(admin_client, demo_plan, transitions=transitions))
    assert "State “Quoted” has no way forward" in page
    assert demo_plan.transitions.count() == 3


def test_transition_to_another_plans_state_is_refused(admin_client, demo_plan):
    elsewhere = PlanStateFactory(name="Elsewhere")
    transitions = transition_rows(demo_plan)
    transitions[0]["to_state"] = elsewhere
    page = errors_of(post_change(admin_client, demo_plan, transitions=transitions))
    assert "Pick one of this plan&#x27;s states" in page or "Pick one of this plan's states" in page
    assert not Transition.objects.filter(to_state=elsewhere).exists()


def test_timeout_into_another_plans_state_is_refused(admin_client, demo_plan):
    elsewhere = PlanStateFactory(name="Elsewhere")
    states = state_rows(demo_plan)
    states[0]["timeout_to"] = elsewhere
    page = errors_of(post_change(admin_client, demo_plan, states=states))
    assert "this plan&#x27;s states" in page or "this plan's states" in page
    assert demo_plan.states.get(name="Invited").timeout_to.name == "Reminded"


@pytest.mark.parametrize("word", ["STOP", "stop!", "Unsubscribe", "help", "INFO"])
def test_compliance_word_as_keyword_is_refused(admin_client, demo_plan, word):
    transitions = transition_rows(demo_plan)
    transitions[0]["pattern"] = word
    page = errors_of(post_change(admin_client, demo_plan, transitions=transitions))
    assert "is a compliance word" in page
    assert set(demo_plan.transitions.values_list("pattern", flat=True)) == {"QUOTE", "BUY"}


def test_compliance_word_as_entry_keyword_is_refused(admin_client, demo_plan):
    page = errors_of(
        post_change(
            admin_client, demo_plan, fields={"entry_trigger": "keyword", "entry_keywords": "JOIN, Stop"}
        )
    )
    assert "Entry keyword “Stop” is a compliance word" in page
    assert Plan.objects.get(pk=demo_plan.pk).entry_keywords == ""


def test_keyword_used_twice_from_one_state_is_refused(admin_client, demo_plan):
    reminded = demo_plan.states.get(name="Reminded")
    invited = demo_plan.states.get(name="Invited")
    transitions = [
        *transition_rows(demo_plan),
        {
            "plan": demo_plan.pk,
            "from_state": invited,
            "match": "first_word",
            "pattern": " quote! ",
            "to_state": reminded,
            "priority": 0,
        },
    ]
    page = errors_of(post_change(admin_client, demo_plan, transitions=transitions))
    assert "Keyword “QUOTE” is used twice from state “Invited”" in page
    assert demo_plan.transitions.count() == 3


@pytest.mark.parametrize("match", ["keyword", "first_word", "contains"])
def test_keyword_must_be_one_word(admin_client, demo_plan, match):
    transitions = transition_rows(demo_plan)
    transitions[0].update(match=match, pattern="get quote")
    page = errors_of(post_change(admin_client, demo_plan, transitions=transitions))
    assert "must be a single word" in page


def test_invalid_regex_is_refused(admin_client, demo_plan):
    transitions = transition_rows(demo_plan)
    transitions[0].update(match="regex", pattern="(quote")
    page = errors_of(post_change(admin_client, demo_plan, transitions=transitions))
    assert "cannot be used as a regular expression" in page


def test_valid_regex_is_accepted(admin_client, demo_plan):
    transitions = transition_rows(demo_plan)
    transitions[0].update(match="regex", pattern=r"^(quote|price)\b")
    response = post_change(admin_client, demo_plan, transitions=transitions)
    assert response.status_code == 302
    assert demo_plan.transitions.filter(match="regex").count() == 1


def test_state_message_that_does_not_render_is_refused(admin_client, demo_plan):
    broken = SmsMessage.objects.create(name="Broken", body="Hi {% if %}")  # saved past the form
    states = state_rows(demo_plan)
    states[0]["message"] = broken
    page = errors_of(post_change(admin_client, demo_plan, states=states))
    assert "its SMS message “Broken” does not render" in page
    assert demo_plan.states.get(name="Invited").message.name != "Broken"


def test_fallback_text_that_does_not_render_is_refused(admin_client, demo_plan):
    states = state_rows(demo_plan)
    states[0]["fallback_text"] = "Sorry {{ contact.first_name|no_such_filter }}"
    page = errors_of(post_change(admin_client, demo_plan, states=states))
    assert "its fallback text does not render" in page


def test_timeout_without_target_is_refused(admin_client, demo_plan):
    states = state_rows(demo_plan)
    states[1]["timeout"] = timedelta(hours=2)
    page = errors_of(post_change(admin_client, demo_plan, states=states))
    assert "has a timeout but no state to go to" in page


def test_deleting_a_state_with_enrollments_is_refused_not_a_500(admin_client, demo_plan):
    quoted = demo_plan.states.get(name="Quoted")
    EnrollmentFactory(plan=demo_plan, current_state=quoted)
    states = state_rows(demo_plan)
    transitions = transition_rows(demo_plan)
    for row in states:
        if row["name"] == "Quoted":
            row["DELETE"] = True
    for row in transitions:
        if quoted in (row["from_state"], row["to_state"]):
            row["DELETE"] = True
    page = errors_of(post_change(admin_client, demo_plan, states=states, transitions=transitions))
    # The admin's own protection of PROTECTed rows answers, with the enrollment named.
    assert "Deleting plan state Quoted would require deleting the following protected related objects" in page
    assert demo_plan.states.filter(name="Quoted").exists()
    assert Enrollment.objects.filter(current_state=quoted).exists()


def test_deleting_a_state_still_used_by_a_transition_is_refused(admin_client, db):
    plan = PlanFactory()
    a = PlanStateFactory(plan=plan, name="A", is_start=True)
    b = PlanStateFactory(plan=plan, name="B", is_final=True)
    Transition.objects.create(plan=plan, from_state=a, to_state=b, pattern="GO")
    states = state_rows(plan)
    states[1]["DELETE"] = True
    transitions = transition_rows(plan)
    transitions[0]["pattern"] = "GOGO"
    page = errors_of(post_change(admin_client, plan, states=states, transitions=transitions))
    assert "which you are deleting" in page
    assert plan.states.count() == 2


def test_deleting_an_unused_state_with_its_transitions_works(admin_client, db):
    plan = PlanFactory()
    a = PlanStateFactory(plan=plan, name="A", is_start=True, is_final=True)
    b = PlanStateFactory(plan=plan, name="B", is_final=True)
    Transition.objects.create(plan=plan, from_state=a, to_state=b, pattern="GO")
    states = state_rows(plan)
    states[1]["DELETE"] = True
    transitions = transition_rows(plan)
    transitions[0]["DELETE"] = True
    response = post_change(admin_client, plan, states=states, transitions=transitions)
    assert response.status_code == 302
    assert list(plan.states.values_list("name", flat=True)) == ["A"]


# --- the lifecycle buttons -----------------------------------------------------------------


def _press(client, plan: Plan, button: str):
    return post_change(client, plan, follow=True, _fsm_transition_to=button)


def _status(plan: Plan) -> str:
    return Plan.objects.values_list("status", flat=True).get(pk=plan.pk)


def test_buttons_come_from_the_fsm(admin_client, demo_plan):
    page = admin_client.get(reverse("admin:automation_plan_change", args=[demo_plan.pk])).content.decode()
    buttons = re.findall(r'name="_fsm_transition_to"\s+value="(\w+)"', page)
    assert sorted(buttons) == ["archive", "pause"]  # already active: no Activate


def test_pause_activate_archive(admin_client, demo_plan):
    response = _press(admin_client, demo_plan, "pause")
    assert "Plan “Quote and buy” is paused." in response.content.decode()
    assert _status(demo_plan) == "paused"
    demo_plan = Plan.objects.get(pk=demo_plan.pk)
    response = _press(admin_client, demo_plan, "activate")
    assert "is now active" in response.content.decode()
    assert _status(demo_plan) == "active"
    demo_plan = Plan.objects.get(pk=demo_plan.pk)
    _press(admin_client, demo_plan, "archive")
    assert _status(demo_plan) == "archived"
    page = admin_client.get(reverse("admin:automation_plan_change", args=[demo_plan.pk])).content.decode()
    assert "_fsm_transition_to" not in page  # archived is the end


def test_activation_refused_says_what_to_fix(admin_client, db):
    plan = PlanFactory()
    PlanStateFactory(plan=plan, name="Lonely")
    response = _press(admin_client, plan, "activate")
    page = response.content.decode()
    assert "cannot be activated until this is fixed" in page
    assert "no start state" in page
    assert "State “Lonely” has no way forward" in page
    assert _status(plan) == "draft"


def test_transition_not_available_from_this_status_is_refused(admin_client, db):
    plan = PlanFactory()  # draft: pause is not a way out of draft
    response = _press(admin_client, plan, "pause")
    assert "cannot be paused" in response.content.decode()
    assert _status(plan) == "draft"


def test_a_marketer_can_author_and_activate(client, django_user_model, db):
    user = django_user_model.objects.create_user("m", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Marketers"))
    client.force_login(user)
    plan = PlanFactory()
    start = PlanStateFactory(plan=plan, name="Start", is_start=True)
    end = PlanStateFactory(plan=plan, name="End", is_final=True)
    transitions = [
        {
            "plan": plan.pk,
            "from_state": start,
            "match": "keyword",
            "pattern": "GO",
            "to_state": end,
            "priority": 0,
        }
    ]
    response = post_change(client, plan, transitions=transitions)
    assert response.status_code == 302
    _press(client, Plan.objects.get(pk=plan.pk), "activate")
    assert _status(plan) == "active"


def test_plan_editor_with_view_only_states_and_transitions_can_save(client, django_user_model, demo_plan):
    # Their inline rows are view-only: they are not posted, and the checks must not choke on them.
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("editor", password="pw", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="automation",
            codename__in=["change_plan", "view_plan", "view_planstate", "view_transition"],
        )
    )
    client.force_login(user)
    url = reverse("admin:automation_plan_change", args=[demo_plan.pk])
    # As the browser posts view-only rows: their ids only.
    states = [{"id": r["id"], "plan": demo_plan.pk} for r in state_rows(demo_plan)]
    transitions = [{"id": r["id"], "plan": demo_plan.pk} for r in transition_rows(demo_plan)]
    data = form_data(
        {**plan_fields(demo_plan), "description": "Edited by an editor"},
        {"states": (states, len(states)), "transitions": (transitions, len(transitions))},
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Plan.objects.get(pk=demo_plan.pk).description == "Edited by an editor"
    assert demo_plan.states.count() == 4 and demo_plan.transitions.count() == 3
