"""The plan format (docs/reference.md §6) through `plan_import` and `plan_export` (docs/reference.md §4):
a plan of every step type, ask match and split_field op round-trips (each kind on its own:
test_kinds.py), every refusal names the step and field and changes nothing,
revisions are made only when the content differs."""

import copy
import json

import pytest
from django.core.management import CommandError

from automation.models import Plan, PlanRevision
from automation.tests.factories import EVERYTHING, mutate, plan_file, step
from conftest import command, command_refused
from tracking.models import Goal

pytestmark = pytest.mark.django_db


def export(slug, *extra):
    return json.loads(command("plan_export", slug, *extra)[0])


def test_the_plan_of_every_variant_round_trips(tmp_path):
    out, _ = command("plan_import", plan_file(tmp_path, EVERYTHING))
    assert out.strip() == "Imported everything revision 1"
    exported = export("everything")
    assert exported == EVERYTHING
    assert command("plan_import", plan_file(tmp_path, exported, "again.json"))[0].strip() == "unchanged"
    assert PlanRevision.objects.count() == 1
    assert {g.slug for g in Goal.objects.all()} == {"answered", "bought"}  # created when missing
    assert Plan.objects.get(slug="everything").status == Plan.Status.ACTIVE


def test_defaults_are_filled_in_and_exported(tmp_path):
    minimal = {
        "slug": "mini",
        "start": "s",
        "steps": [{"id": "s", "type": "send", "text": "Hi", "next": None}],
    }
    command("plan_import", plan_file(tmp_path, minimal))
    exported = export("mini")
    assert exported["format"] == "smsjourney.plan/1"
    assert (exported["name"], exported["reentry"], exported["lifetime"], exported["track_links"]) == (
        "mini",
        "after_end",
        "P7D",
        True,
    )
    assert exported["entry"] == {"trigger": "none", "sender": None}
    assert command("plan_import", plan_file(tmp_path, exported, "e.json"))[0].strip() == "unchanged"


def test_changed_content_makes_a_new_revision_and_export_picks_any(tmp_path):
    command("plan_import", plan_file(tmp_path, EVERYTHING))
    changed = copy.deepcopy(EVERYTHING)
    changed["steps"][0]["text"] = "Hello again!"
    assert command("plan_import", plan_file(tmp_path, changed))[0].strip() == "Imported everything revision 2"
    assert export("everything")["steps"][0]["text"] == "Hello again!"
    assert export("everything", "--revision", "1")["steps"][0]["text"] == "Hi {{ contact.first_name }}!"
    with pytest.raises(CommandError, match="no revision 9"):
        command("plan_export", "everything", "--revision", "9")
    with pytest.raises(CommandError, match="no plan 'nope'"):
        command("plan_export", "nope")


def test_draft_import_is_not_published(tmp_path):
    command("plan_import", plan_file(tmp_path, EVERYTHING))
    changed = copy.deepcopy(EVERYTHING)
    changed["name"] = "Draft name"
    out, _ = command("plan_import", plan_file(tmp_path, changed), "--draft")
    assert out.strip() == "Imported everything revision 2"
    plan = Plan.objects.get(slug="everything")
    assert (plan.published.number, plan.name) == (1, "Everything")
    # Importing the same content without --draft publishes that draft.
    assert command("plan_import", plan_file(tmp_path, changed))[0].strip() == "Imported everything revision 2"
    assert Plan.objects.get(slug="everything").published.number == 2


def test_import_reads_standard_input(tmp_path, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(EVERYTHING)))
    assert command("plan_import", "-")[0].strip() == "Imported everything revision 1"


REFUSALS = [
    ("missing start", lambda d: d.pop("start"), "plan, start: is required"),
    ("unknown start", lambda d: d.update(start="nope"), "plan, start: 'nope' is not the id of a step"),
    ("duplicate id", lambda d: step(d, "tag").update(id="hello"), "step 'hello', id: 'hello' is the id of another step too"),
    ("exit to a missing step", lambda d: step(d, "pause").update(next="gone"), "step 'pause', next: goes to 'gone'"),
    ("rule exit to a missing step", lambda d: step(d, "ask")["rules"][1].update(next="gone"),
     "step 'ask', rules[1].next: goes to 'gone'"),
    ("unreachable step", lambda d: d["steps"].append({"id": "island", "type": "send", "text": "x", "next": None}),
     "step 'island': cannot be reached"),
    ("compliance word as a keyword", lambda d: step(d, "ask")["rules"][0].update(words=["stop"]),
     "step 'ask', rules[0].words: 'stop' is a compliance word"),
    ("compliance word as an entry keyword", lambda d: d["entry"].update(keywords=["HELP"]),
     "plan, entry.keywords[0]: 'HELP' is a compliance word"),
    ("a keyword twice in one step", lambda d: step(d, "ask")["rules"][2].update(words=["star!"]),
     "step 'ask', rules[2].words: STAR is used twice"),
    ("a keyword that is two words", lambda d: step(d, "ask")["rules"][0].update(words=["4,5", "two words"]),
     "step 'ask', rules[0].words[1]: 'two words' must be one word"),
    ("a regex that does not compile", lambda d: step(d, "ask")["rules"][3].update(pattern="(unclosed"),
     "step 'ask', rules[3].pattern: “(unclosed” cannot be used as a regular expression"),
    ("a regex that may backtrack", lambda d: step(d, "ask")["rules"][3].update(pattern=r"(a)\1"),
     "step 'ask', rules[3].pattern: “(a)\\1” cannot be used as a regular expression"),
    ("a template that does not render", lambda d: step(d, "hello").update(text="Hi {{ contact.name|nosuch }}"),
     "step 'hello', text: The filter |nosuch cannot be used"),
    ("a refused tag", lambda d: step(d, "ask")["other"].update(text="{% for x in y %}{% endfor %}"),
     "step 'ask', other.text: {% for %} cannot be used"),
    ("a bad duration", lambda d: step(d, "pause").update({"for": "2 hours"}),
     "step 'pause', for: '2 hours' is not an ISO 8601 duration"),
    ("a zero duration", lambda d: step(d, "ask")["timeout"].update(after="PT0S"),
     "step 'ask', timeout.after: PT0S must be longer than zero"),
    ("a bad lifetime", lambda d: d.update(lifetime="7 days"), "plan, lifetime: '7 days' is not an ISO 8601 duration"),
    ("a non-positive weight", lambda d: step(d, "ab")["branches"][1].update(weight=0),
     "step 'ab', branches[1].weight: 0 is not a positive weight"),
    ("an unknown field", lambda d: step(d, "segment").update(field="attributes.no spaces"),
     "step 'segment', field: 'attributes.no spaces' is not a contact field"),
    ("an unknown save_as", lambda d: step(d, "ask")["rules"][4].update(save_as="password"),
     "step 'ask', rules[4].save_as: 'password' is not a contact field"),
    ("an unknown set field", lambda d: step(d, "tag")["fields"].update(is_staff=True),
     "step 'tag', fields.is_staff: 'is_staff' is not a contact field"),
    ("a loop without a wait", lambda d: step(d, "tag").update(next="hello"),
     "step 'hello': loops back through hello → ab → segment → tag → hello"),
    ("an unknown key", lambda d: step(d, "hello").update(colour="red"), "step 'hello', colour: unknown key 'colour'"),
    ("an unknown top-level key", lambda d: d.update(owner="me"), "plan, owner: unknown key 'owner'"),
    ("an unknown step type", lambda d: step(d, "tag").update(type="teleport"),
     "step 'tag', type: unknown step type 'teleport'"),
    ("an unknown match", lambda d: step(d, "ask")["rules"][0].update(match="vibes"),
     "step 'ask', rules[0].match: 'vibes' is not one of"),
    ("an unknown op", lambda d: step(d, "segment")["cases"][0].update(op="like"),
     "step 'segment', cases[0].op: 'like' is not one of"),
    ("a goal not listed", lambda d: step(d, "wait").update(goal="nope"),
     "step 'wait', goal: 'nope' is not one of the plan's goals"),
    ("a bad step id", lambda d: step(d, "tag").update(id="Tag!"), "step '#4', id: 'Tag!' is not a step id"),
    ("a bad event type", lambda d: step(d, "wait").update(event="Big Purchase"),
     "step 'wait', event: 'Big Purchase' is not an event type"),
    ("a bad until", lambda d: step(d, "morning").update(until="25:00"), "step 'morning', until: '25:00' is not a time"),
    ("min above max", lambda d: step(d, "ask")["rules"][4].update(min=6),
     "step 'ask', rules[4].min: 6 is more than max 5"),
    ("a keyword plan without keywords", lambda d: d["entry"].update(keywords=[]),
     "plan, entry.keywords: a plan entered by keyword needs at least one keyword"),
    ("a wrong format", lambda d: d.update(format="other/2"), "plan, format: 'other/2' is not 'smsjourney.plan/1'"),
    ("an http url that is not http", lambda d: step(d, "call").update(url="file:///etc/passwd"),
     "step 'call', url: 'file:///etc/passwd' must start with https:// or http://"),
    ("an http url that a value starts", lambda d: step(d, "call").update(url="{{ contact.attributes.api }}/x"),
     "step 'call', url: '{{ contact.attributes.api }}/x' must start with https:// or http:// (what {{ … }} puts in "
     "is URL-encoded"),
    ("an http body value that does not render", lambda d: step(d, "call")["body"].update(phone="{{ x|nosuch }}"),
     "step 'call', body.phone: The filter |nosuch cannot be used"),
    ("an http save path that is not one", lambda d: step(d, "call")["save"].update({"attributes.points": "data..x"}),
     "step 'call', save.attributes.points: 'data..x' is not a dotted path from the top of the JSON answer"),
    # A list past its cap is refused, never cut short in silence.
    ("too many keywords", lambda d: d["entry"].update(keywords=[f"K{i}" for i in range(51)]),
     "plan, entry.keywords: has 51 keywords: at most 50 are allowed"),
    ("too many goals", lambda d: d["goals"].extend({"slug": f"g{i}", "name": f"G{i}"} for i in range(99)),
     "plan, goals: has 101 goals: at most 100 are allowed"),
    ("too many words", lambda d: step(d, "ask")["rules"][0].update(words=[f"W{i}" for i in range(51)]),
     "step 'ask', rules[0].words: has 51 words: at most 50 are allowed"),
    ("too many rules", lambda d: step(d, "ask")["rules"].extend(
        {"match": "keyword", "words": [f"R{i}"], "next": "wait"} for i in range(42)),
     "step 'ask', rules: has 51 rules: at most 50 are allowed"),
    ("too many branches", lambda d: step(d, "ab")["branches"].extend(
        {"name": f"B{i}", "weight": 1, "next": "ask"} for i in range(19)),
     "step 'ab', branches: has 21 branches: at most 20 are allowed"),
    ("too many cases", lambda d: step(d, "segment")["cases"].extend(
        {"op": "eq", "value": i, "next": "ask"} for i in range(41)),
     "step 'segment', cases: has 51 cases: at most 50 are allowed"),
    ("too many set fields", lambda d: step(d, "tag")["fields"].update({f"attributes.f{i}": i for i in range(49)}),
     "step 'tag', fields: has 51 fields: at most 50 are allowed"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "expected"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_every_refusal_names_the_step_and_field_and_changes_nothing(tmp_path, change, expected):
    command("plan_import", plan_file(tmp_path, EVERYTHING))
    before = list(PlanRevision.objects.values_list("pk", "document"))
    err = command_refused("plan_import", plan_file(tmp_path, mutate(change), "bad.json"))
    assert expected in err, err
    assert all(line.startswith(("plan", "step ")) for line in err.splitlines())  # one per problem
    assert list(PlanRevision.objects.values_list("pk", "document")) == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not JSON"),
        ("[]", "plan: must be an object"),
        ('{"slug": "x"}', "plan, start: is required"),
        ("\u0000", "not JSON"),
    ],
)
def test_garbage_is_refused_with_a_reason(tmp_path, text, expected):
    assert expected in command_refused("plan_import", plan_file(tmp_path, text))
    assert not Plan.objects.exists()


def test_a_missing_file_is_a_clear_error():
    with pytest.raises(CommandError, match="cannot be read"):
        command("plan_import", "/nonexistent/plan.json")
