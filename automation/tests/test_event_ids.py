"""docs/reference.md §7: an ``event_id`` belongs to the API user who posts it. Two shops may both
send order 1001; the same id from the same user again is a duplicate, and for another
phone a conflict (409) that changes nothing. The product's own events (a first click on a
tracked link, ``link_click:<code>``) are no shop's."""

import json

import pytest

from automation.models import Enrollment
from automation.tests.conftest import codes, link_plan
from conftest import api_user, token_auth
from contacts.models import ConsentEvent, Contact
from tracking.models import Interaction

pytestmark = pytest.mark.django_db

PHONE = "+14155550123"
OTHER = "+14155550199"


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """``post(username, event_id, phone, **fields)``: the event as that integration user
    (made on first use) posts it."""
    users = {}

    def send(username: str, event_id: str, phone: str, **fields):
        if username not in users:
            users[username] = api_user(username, "tracking.add_interaction")
        body = json.dumps({"event_id": event_id, "phone": phone, "type": "purchase", **fields})
        with django_capture_on_commit_callbacks(execute=True):
            auth = token_auth(users[username])
            return client.post("/api/events/", body, content_type="application/json", **auth)

    return send


def state() -> tuple:
    return (
        list(Interaction.objects.order_by("pk").values_list("pk", "contact_id", "event_id", "body")),
        list(Contact.objects.order_by("pk").values_list("pk", "phone", "consent_at")),
        ConsentEvent.objects.count(),
    )


def test_the_same_event_id_for_another_phone_is_a_conflict_and_changes_nothing(post):
    first = post("shop", "1001", PHONE)
    assert first.status_code == 201
    before = state()

    conflict = post("shop", "1001", OTHER, opt_in=True)

    assert conflict.status_code == 409, conflict.content
    errors = conflict.json()["errors"]
    assert list(errors) == ["event_id"] and "another phone number" in errors["event_id"][0]
    assert state() == before  # no contact for OTHER, no consent, no event
    again = post("shop", "1001", PHONE)
    assert (again.status_code, again.json()) == (200, {**first.json(), "duplicate": True})


def test_two_shops_may_both_send_order_1001(post):
    first = post("shop", "1001", PHONE)
    second = post("other-shop", "1001", OTHER, opt_in=True)

    assert (first.status_code, second.status_code) == (201, 201), second.content
    assert second.json()["duplicate"] is False
    other = Contact.objects.get(phone=OTHER)
    assert second.json()["contact"] == other.pk != first.json()["contact"]
    assert other.consent_at is not None  # the consent it carried is kept
    assert ConsentEvent.objects.filter(contact=other).count() == 1
    # Each shop's repeat is a duplicate of its own event.
    assert post("other-shop", "1001", OTHER).json() == {**second.json(), "duplicate": True}
    assert post("shop", "1001", PHONE).json() == {**first.json(), "duplicate": True}
    assert Interaction.objects.filter(event_id="1001").count() == 2


def test_a_shop_s_event_id_never_takes_the_place_of_a_link_s_first_click(post, text_in, sms_outbox, click):
    link_plan()
    text_in(PHONE, "spring")
    (code,) = codes(sms_outbox[0].body)
    assert post("shop", f"link_click:{code}", PHONE).status_code == 201

    assert click(code).status_code == 302

    assert Enrollment.objects.get().step_id == "thanks"  # the click moved the journey
    assert Interaction.objects.filter(event_id=f"link_click:{code}").count() == 2
    assert click(code).status_code == 302  # a second click is no second event
    assert Interaction.objects.filter(event_id=f"link_click:{code}").count() == 2


def test_a_user_who_posted_events_is_kept_and_the_admin_says_why(post, admin_client, django_user_model):
    """An event's sender is part of its identity: the admin does not delete the user who
    posted it (deactivate it instead) and says the events are why."""
    assert post("shop", "1001", PHONE).status_code == 201
    shop = django_user_model.objects.get(username="shop")
    response = admin_client.post(f"/admin/auth/user/{shop.pk}/delete/", {"post": "yes"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Cannot delete user" in page and "<li>interaction</li>" in page
    assert django_user_model.objects.filter(pk=shop.pk).exists()
