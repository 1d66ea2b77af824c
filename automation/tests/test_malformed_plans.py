"""Malformed plans are refused, never a 500 (docs/reference.md §4, §6): every door a plan comes in
by — ``plan_import``, the admin's import of a new plan and into a plan, and its "Edit as
JSON" page — gives the same clear reason, naming the step and field where there is one,
and changes nothing. Also: every value of a working plan replaced by each of a few
hostile ones is refused or taken, never a crash."""

import copy
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from automation.engine.plans import plan_import
from automation.models import Plan, PlanRevision
from automation.tests.factories import EVERYTHING, mutate, plan_file, step
from conftest import command_refused, page_text
from tracking.models import Goal

pytestmark = pytest.mark.django_db


def changed(change) -> str:
    return json.dumps(mutate(change))  # NaN as NaN; "\ud800" as its escape, as a file would have it


def deep(levels: int) -> str:
    return '{"slug": "everything", "steps": ' + "[" * levels + "]" * levels + "}"


def body_nested(levels: int):
    value: dict = {"x": 1}
    for _ in range(levels):
        value = {"x": value}
    return lambda d: step(d, "call").update(body=value)


MALFORMED = [
    ("100,000 levels deep", deep(100_000), "plan: not JSON: nested more than 20 levels deep"),
    ("NaN", changed(lambda d: step(d, "ask")["rules"][4].update(min=float("nan"))),
     "NaN is not a JSON value"),
    ("Infinity", changed(lambda d: d["goals"][0].update(points=float("inf"))),
     "Infinity is not a JSON value"),
    ("a number beyond a float", changed(lambda d: d.update(lifetime="P7D")).replace('"P7D"', "1e999"),
     "the number 1e999 is too large"),
    ("a NUL in a text", changed(lambda d: step(d, "hello").update(text="Hi\x00")),
     "step 'hello', text: contains a NUL character (\\u0000)"),
    ("a NUL in a key", changed(lambda d: step(d, "call").update(headers={"X-\x00": "k"})),
     "step 'call', headers: a key contains a NUL character"),
    ("a lone surrogate in the plan's name", changed(lambda d: d.update(name="Spring \ud800")),
     "plan, name: contains \\ud800, half of a character"),
    ("a lone surrogate in a step's name", changed(lambda d: step(d, "ask").update(name="\udc00")),
     "step 'ask', name: contains \\udc00"),
    ("a lone surrogate in a word", changed(lambda d: step(d, "ask")["rules"][0]["words"].append("\ud83d")),
     "step 'ask', rules[0].words[2]: contains \\ud83d"),
    ("nesting deeper than 20 in a body", changed(body_nested(25)),
     "step 'call', body" + ".x" * 17 + ": is nested more than 20 levels deep"),
    ("a list for a step's type", changed(lambda d: step(d, "hello").update(type=["send"])),
     "step 'hello', type: unknown step type ['send']"),
    ("an object for the start", changed(lambda d: d.update(start={})),
     "plan, start: {} is not the id of a step"),
    ("a list for a step's id", changed(lambda d: step(d, "tag").update(id=["tag"])),
     "step '#4', id: ['tag'] is not a step id"),
    ("a list for a goal", changed(lambda d: step(d, "hello").update(goal=["answered"])),
     "step 'hello', goal: ['answered'] is not a goal's slug"),
    ("an object for a rule's goal", changed(lambda d: step(d, "ask")["rules"][5].update(goal={})),
     "step 'ask', rules[5].goal: {} is not a goal's slug"),
    ("a list for a goal's slug", changed(lambda d: d["goals"][0].update(slug=["answered"])),
     "plan, goals[0].slug: ['answered'] is not a slug"),
    ("points beyond an integer column", changed(lambda d: d["goals"][0].update(points=10**30)),
     "plan, goals[0].points: must be at most 1,000,000"),
    ("a null weight", changed(lambda d: step(d, "ab")["branches"][0].update(weight=None)),
     "step 'ab', branches[0].weight: is required"),
    ("a null timeout", changed(lambda d: step(d, "ask")["timeout"].update(after=None)),
     "step 'ask', timeout.after: is required"),
    ("a null event", changed(lambda d: step(d, "wait").update(event=None)),
     "step 'wait', event: None is not an event"),
    # Durations: at most P366D.
    ("a lifetime of P999999999D", changed(lambda d: d.update(lifetime="P999999999D")),
     "plan, lifetime: P999999999D is longer than 366 days: at most P366D is allowed"),
    ("a lifetime beyond a timedelta", changed(lambda d: d.update(lifetime="P9999999999D")),
     "plan, lifetime: P9999999999D is longer than 366 days"),
    ("an ask timeout of P367D", changed(lambda d: step(d, "ask")["timeout"].update(after="P367D")),
     "step 'ask', timeout.after: P367D is longer than 366 days"),
    ("a delay of 366 days and an hour", changed(lambda d: step(d, "pause").update({"for": "PT8785H"})),
     "step 'pause', for: PT8785H is longer than 366 days"),
    ("a wait_event timeout of P1000D", changed(lambda d: step(d, "wait")["timeout"].update(after="P1000D")),
     "step 'wait', timeout.after: P1000D is longer than 366 days"),
]  # fmt: skip
IDS = [m[0] for m in MALFORMED]


@pytest.fixture
def stored(db):
    """The plan `everything` as imported and published; what a refused door must leave."""
    plan = plan_import(document=EVERYTHING).plan

    def snapshot():
        return (
            list(Plan.objects.values_list("pk", "slug", "name", "published_id")),
            list(PlanRevision.objects.order_by("pk").values_list("pk", "document", "published_at")),
            list(Goal.objects.order_by("pk").values_list("slug", "points")),
        )

    before = snapshot()
    yield plan
    assert snapshot() == before, "a refused plan changed something"


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return page_text(response)


@pytest.mark.parametrize(("text", "expected"), [m[1:] for m in MALFORMED], ids=IDS)
def test_plan_import_refuses_it(stored, tmp_path, text, expected):
    err = command_refused("plan_import", plan_file(tmp_path, text))
    assert expected in err, err


@pytest.mark.parametrize(("text", "expected"), [m[1:] for m in MALFORMED], ids=IDS)
def test_the_admin_s_import_of_a_new_plan_refuses_it(stored, marketer_client, tmp_path, text, expected):
    upload = tmp_path / "plan.json"
    upload.write_bytes(text.encode("utf-8"))
    with upload.open("rb") as f:
        response = marketer_client.post(
            reverse("admin:automation_plan_import_new"), {"file": f, "publish": "on"}
        )
    assert _said(expected) in page(response)


@pytest.mark.parametrize(("text", "expected"), [m[1:] for m in MALFORMED], ids=IDS)
def test_the_admin_s_import_into_a_plan_refuses_it(stored, marketer_client, tmp_path, text, expected):
    upload = tmp_path / "plan.json"
    upload.write_bytes(text.encode("utf-8"))
    with upload.open("rb") as f:
        response = marketer_client.post(
            reverse("admin:automation_plan_import", args=[stored.pk]), {"file": f, "publish": "on"}
        )
    assert _said(expected) in page(response)


@pytest.mark.parametrize(("text", "expected"), [m[1:] for m in MALFORMED], ids=IDS)
def test_edit_as_json_refuses_it(stored, marketer_client, text, expected):
    response = marketer_client.post(
        reverse("admin:automation_plan_json", args=[stored.pk]), {"document": text}
    )
    assert _said(expected) in page(response)


def _said(expected: str) -> str:
    """How the admin says a problem `plan_import` prints: “The plan, lifetime: …” or
    “<step name>, timeout, after: …”: the part after the place."""
    return expected.split(": ", 1)[1] if ": " in expected else expected


def _paths(node, at=()):
    """The path of every value in `node` (keys and list indexes), the deepest last."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*at, key)
            yield from _paths(value, (*at, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield (*at, i)
            yield from _paths(value, (*at, i))


HOSTILE = [["send"], {"id": "x"}, 10**30, None]


def test_any_value_of_a_plan_replaced_by_a_hostile_one_is_refused_or_taken(tmp_path):
    """Each value of the plan with every step type, replaced in turn by a list, an object,
    a number too large for any column or null: `plan_import` says what is wrong (exit 1)
    or imports it — never a crash."""
    path = tmp_path / "plan.json"
    crashes = []
    for where in _paths(EVERYTHING):
        for value in HOSTILE:
            document = copy.deepcopy(EVERYTHING)
            node = document
            for part in where[:-1]:
                node = node[part]
            node[where[-1]] = value
            path.write_text(json.dumps(document))
            try:
                call_command("plan_import", str(path), stdout=StringIO(), stderr=StringIO())
            except SystemExit as exc:
                assert exc.code == 1
            except Exception as exc:  # what this test looks for
                crashes.append(f"{where} = {value!r}: {type(exc).__name__}: {exc}")
    assert not crashes, "\n".join(crashes)
