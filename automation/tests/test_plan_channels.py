"""WhatsApp and MMS in the plan format (docs/reference.md §6) and its editor: a plan's
`entry.sender`, a step's `whatsapp_template` and a `send` step's `media`, through
`plan_import` / `plan_export` and the admin pages a marketer uses. Every refusal names its
step and field and changes nothing; a second round of export and import changes nothing."""

import copy
import json

import pytest

from automation.flow.whatsapp import SID_FIELD, VARIABLES_FIELD
from automation.models import PlanRevision
from automation.tests.admin_forms import change_url, newest, post_change, post_step, step_url
from automation.tests.factories import EVERYTHING, mutate, plan_document, plan_file, plan_make, send, step
from conftest import command, command_refused, page_text
from messaging.senders import sender_save

pytestmark = pytest.mark.django_db

SID = "HX" + "0123456789abcdef" * 2
TEMPLATE = {"content_sid": SID, "variables": {"1": "{{ contact.first_name }}", "code": "SPRING"}}


def export(slug: str) -> dict:
    return json.loads(command("plan_export", slug)[0])


def with_channels(document: dict) -> None:
    document["entry"]["sender"] = "whatsapp:+14155550100"
    step(document, "hello")["whatsapp_template"] = copy.deepcopy(TEMPLATE)
    step(document, "ask")["whatsapp_template"] = {"content_sid": "HX" + "f" * 32, "variables": {}}


def test_a_plan_with_a_sender_templates_and_media_round_trips(tmp_path):
    document = mutate(with_channels)
    assert (
        command("plan_import", plan_file(tmp_path, document))[0].strip() == "Imported everything revision 1"
    )
    exported = export("everything")
    assert exported == document
    assert exported["entry"]["sender"] == "whatsapp:+14155550100"
    assert step(exported, "hello")["media"] == ["https://example.com/a.png"]
    assert command("plan_import", plan_file(tmp_path, exported, "again.json"))[0].strip() == "unchanged"
    assert PlanRevision.objects.count() == 1


def test_a_template_without_variables_gets_an_empty_object_once(tmp_path):
    document = mutate(lambda d: step(d, "hello").update(whatsapp_template={"content_sid": SID}))
    command("plan_import", plan_file(tmp_path, document))
    exported = export("everything")
    assert step(exported, "hello")["whatsapp_template"] == {"content_sid": SID, "variables": {}}
    assert command("plan_import", plan_file(tmp_path, exported, "again.json"))[0].strip() == "unchanged"


@pytest.mark.parametrize("address", ["+14155550100", "12345", "whatsapp:+14155550100", None])
def test_every_kind_of_sender_address_is_taken(tmp_path, address):
    command("plan_import", plan_file(tmp_path, mutate(lambda d: d["entry"].update(sender=address))))
    assert export("everything")["entry"]["sender"] == address


def test_a_plan_without_a_sender_exports_null(tmp_path):
    document = mutate(lambda d: d["entry"].pop("sender"))
    command("plan_import", plan_file(tmp_path, document))
    assert export("everything")["entry"] == {"trigger": "keyword", "keywords": ["ALL"], "sender": None}


REFUSALS = [
    ("a sender of no known form", lambda d: d["entry"].update(sender="hello"),
     "plan, entry.sender: 'hello' is not a sender's address"),
    ("a sender without its +", lambda d: d["entry"].update(sender="14155550100"),
     "plan, entry.sender: '14155550100' is not a sender's address"),
    ("a WhatsApp sender that is no number", lambda d: d["entry"].update(sender="whatsapp:hello"),
     "plan, entry.sender: 'whatsapp:hello' is not a sender's address"),
    ("a sender that is not text", lambda d: d["entry"].update(sender=14155550100),
     "plan, entry.sender: 14155550100 is not a sender's address"),
    ("a bad content_sid", lambda d: step(d, "hello").update(whatsapp_template={"content_sid": "HX123"}),
     "step 'hello', whatsapp_template.content_sid: 'HX123' is not a Content SID: HX and 32 hex digits"),
    ("a message SID as content_sid",
     lambda d: step(d, "ask").update(whatsapp_template={"content_sid": "SM" + "0" * 32}),
     "step 'ask', whatsapp_template.content_sid: 'SM0000"),
    ("a template without its content_sid",
     lambda d: step(d, "hello").update(whatsapp_template={"variables": {}}),
     "step 'hello', whatsapp_template.content_sid: is required"),
    ("a variable that does not render", lambda d: step(d, "hello").update(
        whatsapp_template={"content_sid": SID, "variables": {"1": "{{ contact.first_name|nosuch }}"}}),
     "step 'hello', whatsapp_template.variables.1: The filter |nosuch cannot be used"),
    ("a variable with a refused tag", lambda d: step(d, "ask").update(
        whatsapp_template={"content_sid": SID, "variables": {"1": "{% for x in y %}{% endfor %}"}}),
     "step 'ask', whatsapp_template.variables.1: {% for %} cannot be used"),
    ("a variable that is not text", lambda d: step(d, "hello").update(
        whatsapp_template={"content_sid": SID, "variables": {"1": 5}}),
     "step 'hello', whatsapp_template.variables.1: must be text"),
    ("an empty variable", lambda d: step(d, "hello").update(
        whatsapp_template={"content_sid": SID, "variables": {"1": " "}}),
     "step 'hello', whatsapp_template.variables.1: is empty"),
    ("a variable's name too long", lambda d: step(d, "hello").update(
        whatsapp_template={"content_sid": SID, "variables": {"x" * 21: "a"}}),
     "is not a variable's name: 1 to 20 letters, digits or _"),
    ("too many variables", lambda d: step(d, "hello").update(
        whatsapp_template={"content_sid": SID, "variables": {str(i): "a" for i in range(21)}}),
     "step 'hello', whatsapp_template.variables: has 21 variables: at most 20 are allowed"),
    ("variables that are not an object", lambda d: step(d, "hello").update(
        whatsapp_template={"content_sid": SID, "variables": ["a"]}),
     "step 'hello', whatsapp_template.variables: must be an object"),
    ("an unknown key in a template", lambda d: step(d, "hello").update(
        whatsapp_template={"content_sid": SID, "language": "en"}),
     "step 'hello', whatsapp_template.language: unknown key 'language'"),
    ("a template on a step that sends none", lambda d: step(d, "pause").update(whatsapp_template=TEMPLATE),
     "step 'pause', whatsapp_template: unknown key 'whatsapp_template'"),
    ("11 media URLs",
     lambda d: step(d, "hello").update(media=[f"https://example.com/{i}.png" for i in range(11)]),
     "step 'hello', media: has 11 media URLs: at most 10 are allowed"),
    ("a media URL that is not http", lambda d: step(d, "hello").update(media=["ftp://example.com/a.png"]),
     "step 'hello', media[0]: 'ftp://example.com/a.png' is not an http(s) URL"),
    ("a media URL without a host", lambda d: step(d, "hello").update(media=["https://"]),
     "step 'hello', media[0]: 'https://' is not an http(s) URL"),
    ("media that are not a list", lambda d: step(d, "hello").update(media="https://example.com/a.png"),
     "step 'hello', media: must be a list"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "expected"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_every_refusal_names_the_step_and_field_and_changes_nothing(tmp_path, change, expected):
    command("plan_import", plan_file(tmp_path, EVERYTHING))
    before = list(PlanRevision.objects.values_list("pk", "document"))
    err = command_refused("plan_import", plan_file(tmp_path, mutate(change), "bad.json"))
    assert expected in err, err
    assert list(PlanRevision.objects.values_list("pk", "document")) == before


# --- the step editor ----------------------------------------------------------------------


def _plan():
    return plan_make(steps=[send("hello", "Hi {{ contact.first_name }}!", name="Hello")])


def test_the_send_form_saves_a_template_and_media_and_shows_them_back(marketer_client):
    plan = _plan()
    response = post_step(
        marketer_client,
        plan,
        "hello",
        media="https://example.com/a.png\n\n https://example.com/b.jpg ",
        whatsapp_template_content_sid=f" {SID} ",
        whatsapp_template_variables="1 = {{ contact.first_name }}\ncode=SPRING-{{ contact.attributes.city }}",
    )
    assert response.status_code == 302, response.context["form"].errors
    saved = step(newest(plan).document, "hello")
    assert saved["media"] == ["https://example.com/a.png", "https://example.com/b.jpg"]
    assert saved["whatsapp_template"] == {
        "content_sid": SID,
        "variables": {"1": "{{ contact.first_name }}", "code": "SPRING-{{ contact.attributes.city }}"},
    }
    page = page_text(marketer_client.get(step_url(plan, "hello")))
    assert SID in page and "code = SPRING-{{ contact.attributes.city }}" in page
    assert "https://example.com/a.png\nhttps://example.com/b.jpg" in page
    # Shown back and saved again as it is: nothing changes, no new draft.
    number = newest(plan).number
    assert post_step(marketer_client, plan, "hello").status_code == 302
    assert newest(plan).number == number
    # Emptied: the step has no template any more.
    post_step(marketer_client, plan, "hello", **{SID_FIELD: "", VARIABLES_FIELD: ""})
    assert "whatsapp_template" not in step(newest(plan).document, "hello")


BAD_FIELDS = [
    ("a bad Content SID", {SID_FIELD: "HX123"}, SID_FIELD,
     "'HX123' is not a Content SID: HX and 32 hex digits"),
    ("variables without a Content SID", {VARIABLES_FIELD: "1 = Hi"},
     SID_FIELD, "is required"),
    ("a variable that does not render",
     {SID_FIELD: SID, VARIABLES_FIELD: "1 = {{ contact.first_name|nosuch }}"},
     VARIABLES_FIELD, "The filter |nosuch cannot be used"),
    ("a line without =", {SID_FIELD: SID, VARIABLES_FIELD: "1 Hi"},
     VARIABLES_FIELD, "Line 1: write the variable, = and its value"),
    ("a variable twice", {SID_FIELD: SID, VARIABLES_FIELD: "1 = a\n1 = b"},
     VARIABLES_FIELD, "Line 2: the variable 1 is given twice"),
    ("a bad variable name", {SID_FIELD: SID, VARIABLES_FIELD: "first name = a"},
     VARIABLES_FIELD, "'first name' is not a variable's name"),
    ("11 media URLs", {"media": "\n".join(f"https://example.com/{i}.png" for i in range(11))},
     "media", "11 URLs: an MMS carries at most 10."),
    ("a media URL that is not http", {"media": "https://example.com/a.png\nftp://example.com/b.png"},
     "media", "Line 2: 'ftp://example.com/b.png' is not an http(s) URL"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field", "expected"), [b[1:] for b in BAD_FIELDS], ids=[b[0] for b in BAD_FIELDS]
)
def test_the_send_form_refuses_bad_template_and_media_fields_by_name(
    marketer_client, changes, field, expected
):
    plan = _plan()
    before = list(PlanRevision.objects.values_list("pk", "document"))
    response = post_step(marketer_client, plan, "hello", **changes)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert any(expected in message for message in errors.get(field, [])), errors
    assert list(PlanRevision.objects.values_list("pk", "document")) == before


def test_the_ask_form_saves_a_template(marketer_client):
    plan = plan_make()  # its start step is an ask
    response = post_step(
        marketer_client,
        plan,
        "start",
        whatsapp_template_content_sid=SID,
        whatsapp_template_variables="1 = {{ contact.first_name|default:'there' }}",
    )
    assert response.status_code == 302, response.context["form"].errors
    saved = step(newest(plan).document, "start")["whatsapp_template"]
    assert saved == {"content_sid": SID, "variables": {"1": "{{ contact.first_name|default:'there' }}"}}
    page = page_text(marketer_client.get(step_url(plan, "start")))
    assert "WhatsApp, outside the 24-hour window" in page


# --- the plan's entry sender ---------------------------------------------------------------


def test_the_plan_page_binds_the_plan_to_a_kept_sender_or_to_any(marketer_client):
    sender_save(address="whatsapp:+14155550123", name="WhatsApp line")
    sender_save(address="12345")
    plan = plan_make(entry={"trigger": "keyword", "keywords": ["JOIN"]})
    page = marketer_client.get(change_url(plan))
    choices = dict(page.context["adminform"].form.fields["sender"].choices)
    assert choices == {
        "": "Any sender",
        "12345": "12345",
        "whatsapp:+14155550123": "whatsapp:+14155550123 · WhatsApp line",
        "+14155550100": "+14155550100 (the default sender)",
    }

    response = post_change(marketer_client, plan, sender="whatsapp:+14155550123")
    assert response.status_code == 302
    assert newest(plan).document["entry"]["sender"] == "whatsapp:+14155550123"
    # The page shows it chosen, and a plan bound to WhatsApp previews its texts as WhatsApp.
    page = marketer_client.get(change_url(plan))
    assert page.context["adminform"].form["sender"].value() == "whatsapp:+14155550123"
    assert '<option value="whatsapp" selected>' in page.content.decode()

    post_change(marketer_client, plan, sender="")
    assert newest(plan).document["entry"]["sender"] is None


def test_the_plan_page_refuses_a_sender_it_does_not_offer(marketer_client):
    plan = plan_make()
    before = list(PlanRevision.objects.values_list("pk", "document"))
    response = post_change(marketer_client, plan, sender="+19995550000")
    assert response.status_code == 200
    assert "Select a valid choice" in str(response.context["adminform"].form.errors["sender"])
    assert list(PlanRevision.objects.values_list("pk", "document")) == before


def test_an_imported_sender_becomes_a_sender_and_is_offered_and_kept(marketer_client, tmp_path):
    """Publishing a plan bound to an address no sender has yet makes it one (docs/reference.md
    §8: an address Twilio delivers to becomes a sender): the plan page offers it."""
    document = plan_document(slug="bound", entry={"trigger": "any", "sender": "+14155550999"})
    command("plan_import", plan_file(tmp_path, document))
    plan = PlanRevision.objects.get(plan__slug="bound").plan
    page = marketer_client.get(change_url(plan))
    assert ("+14155550999", "+14155550999") in page.context["adminform"].form.fields["sender"].choices
    post_change(marketer_client, plan, name="Bound again")
    assert newest(plan).document["entry"]["sender"] == "+14155550999"
