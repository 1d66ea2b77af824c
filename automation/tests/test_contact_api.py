"""The Contact API (docs/reference.md §3) through the test client, with real token auth."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from automation.models import Enrollment
from automation.tests.factories import EnrollmentFactory, ask, plan_make
from conftest import api_user, token_auth
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from messaging.models import DeliveryStatus, OutboundMessage
from messaging.tests.factories import OutboundMessageFactory
from tracking.models import GoalConversion, Interaction
from tracking.tests.factories import GoalFactory, InteractionFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def user(db):
    return api_user("integration")


@pytest.fixture
def reader(user):
    user.user_permissions.add(
        Permission.objects.get(codename="view_contact", content_type__app_label="contacts")
    )
    return user


@pytest.fixture
def api(client, reader):
    """GET as a user holding contacts.view_contact."""

    def get(path, **params):
        return client.get(path, params, **token_auth(reader))

    return get


def make_enrollment(contact, *, plan_slug, state_name, enrolled_at, status=Enrollment.Status.ACTIVE):
    plan = plan_make(slug=plan_slug, steps=[ask(state_name.lower(), "Hi", name=state_name)])
    enrollment = EnrollmentFactory(contact=contact, plan=plan, enrolled_at=enrolled_at)
    if status != Enrollment.Status.ACTIVE:
        # status is a protected FSM field: set it the way a finished journey leaves it.
        Enrollment.objects.filter(pk=enrollment.pk).update(
            status=status, ended_at=enrolled_at + timedelta(hours=1)
        )
    return enrollment


def convert(contact, *, goal_name, points, occurred_at, enrollment=None):
    goal = GoalFactory(name=goal_name, points=points)
    return GoalConversion.objects.create(
        contact=contact, goal=goal, enrollment=enrollment, points=points, occurred_at=occurred_at
    )


# --- status codes ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/contacts/", "/api/contacts/1/", "/api/contacts/1/messages/"])
def test_no_token_is_401_with_www_authenticate(client, path):
    resp = client.get(path)
    assert resp.status_code == 401
    assert resp["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("path", ["/api/contacts/", "/api/contacts/1/messages/"])
def test_bad_token_is_401(client, reader, path):
    Token.objects.create(user=reader)
    resp = client.get(path, HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")
    assert resp.status_code == 401


def test_session_login_without_token_is_401(client, reader):
    # The API authenticates by token only; an admin session is not enough.
    client.force_login(reader)
    assert client.get("/api/contacts/").status_code == 401


@pytest.mark.parametrize("path", ["/api/contacts/", "/api/contacts/1/", "/api/contacts/1/messages/"])
def test_user_without_view_contact_is_403(client, user, path):
    ContactFactory(id=1)
    resp = client.get(path, **token_auth(user))
    assert resp.status_code == 403


def test_other_permissions_do_not_grant_access(client, user):
    user.user_permissions.add(Permission.objects.get(codename="change_contact"))
    assert client.get("/api/contacts/", **token_auth(user)).status_code == 403


def test_view_contact_through_a_group_is_enough(client, user):
    from django.contrib.auth.models import Group

    group = Group.objects.create(name="integrations")
    group.permissions.add(Permission.objects.get(codename="view_contact"))
    user.groups.add(group)
    assert client.get("/api/contacts/", **token_auth(user)).status_code == 200


def test_superuser_has_access(client, django_user_model):
    admin = django_user_model.objects.create_superuser(username="boss", password="x-unused-x")
    assert client.get("/api/contacts/", **token_auth(admin)).status_code == 200


def test_unknown_contact_is_404(api):
    assert api("/api/contacts/999999/").status_code == 404
    assert api("/api/contacts/999999/messages/").status_code == 404


def test_out_of_range_id_is_404_not_500(api):
    assert api("/api/contacts/99999999999999999999999/").status_code == 404
    assert api("/api/contacts/99999999999999999999999/messages/").status_code == 404


def test_test_contacts_are_404(api):
    contact = ContactFactory(is_test=True)
    assert api(f"/api/contacts/{contact.id}/").status_code == 404
    assert api(f"/api/contacts/{contact.id}/messages/").status_code == 404


def test_write_methods_are_refused(client, reader):
    contact = ContactFactory()
    reader.user_permissions.add(*Permission.objects.filter(content_type__app_label="contacts"))
    assert client.post("/api/contacts/", {"phone": "+14155550100"}, **token_auth(reader)).status_code == 405
    assert client.delete(f"/api/contacts/{contact.id}/", **token_auth(reader)).status_code == 405


# --- shapes ---------------------------------------------------------------------------


def test_the_list_and_the_detail_show_a_contact_in_exactly_this_shape(api):
    contact = ContactFactory(
        phone="+14155550123", engagement_value=60, opted_out=False, first_name="Ann", last_name="Lee",
        email="ann@example.com", attributes={"vip": True, "score": 4},
    )  # fmt: skip
    old = make_enrollment(
        contact,
        plan_slug="quote-and-buy",
        state_name="Purchased",
        enrolled_at=T0,
        status=Enrollment.Status.COMPLETED,
    )
    new = make_enrollment(
        contact, plan_slug="winback", state_name="Invited", enrolled_at=T0 + timedelta(days=9)
    )
    convert(contact, goal_name="Purchase", points=50, occurred_at=T0 + timedelta(hours=2), enrollment=old)
    convert(
        contact, goal_name="Quote requested", points=10, occurred_at=T0 + timedelta(hours=1), enrollment=old
    )

    resp = api("/api/contacts/")

    assert resp.status_code == 200
    assert resp["Content-Type"] == "application/json"
    assert resp.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": contact.id,
                "phone": "+14155550123",
                "first_name": "Ann",
                "last_name": "Lee",
                "email": "ann@example.com",
                "attributes": {"vip": True, "score": 4},
                "opted_out": False,
                "consent": "none",
                "engagement_value": 60,
                "enrollments": [
                    {
                        "plan": "quote-and-buy",
                        "revision": 1,
                        "state": "Purchased",
                        "step": "purchased",
                        "status": "completed",
                        "enrolled_at": iso(T0),
                        "expires_at": iso(old.expires_at),
                        "branches": {},
                    },
                    {
                        "plan": "winback",
                        "revision": 1,
                        "state": "Invited",
                        "step": "invited",
                        "status": "active",
                        "enrolled_at": iso(new.enrolled_at),
                        "expires_at": iso(new.expires_at),
                        "branches": {},
                    },
                ],
                "goals": [
                    {"goal": "Quote requested", "occurred_at": iso(T0 + timedelta(hours=1))},
                    {"goal": "Purchase", "occurred_at": iso(T0 + timedelta(hours=2))},
                ],
            }
        ],
    }
    # The detail view shows the same contact the same way.
    assert api(f"/api/contacts/{contact.id}/").json() == resp.json()["results"][0]


def test_enrollments_oldest_first_even_when_created_in_reverse(api):
    contact = ContactFactory()
    for day, slug in [(5, "c"), (1, "a"), (3, "b")]:
        make_enrollment(
            contact,
            plan_slug=slug,
            state_name="S",
            enrolled_at=T0 + timedelta(days=day),
            status=Enrollment.Status.EXPIRED,
        )
    body = api(f"/api/contacts/{contact.id}/").json()
    assert [e["plan"] for e in body["enrollments"]] == ["a", "b", "c"]
    assert {e["status"] for e in body["enrollments"]} == {"expired"}


def test_opted_out_contact_is_shown_as_such(api):
    contact = ContactFactory(opted_out=True, opted_out_at=T0)
    assert api(f"/api/contacts/{contact.id}/").json()["opted_out"] is True


def test_list_leaves_out_test_contacts(api):
    real = ContactFactory()
    ContactFactory(is_test=True)
    body = api("/api/contacts/").json()
    assert body["count"] == 1
    assert [c["id"] for c in body["results"]] == [real.id]


def test_list_is_paginated(api):
    for _ in range(52):
        ContactFactory()
    first = api("/api/contacts/").json()
    assert first["count"] == 52
    assert len(first["results"]) == 50
    assert first["next"].endswith("/api/contacts/?page=2")
    second = api("/api/contacts/", page=2).json()
    assert len(second["results"]) == 2
    ids = [c["id"] for c in first["results"] + second["results"]]
    assert ids == sorted(ids)


# --- the phone filter -----------------------------------------------------------------


def test_phone_filter_url_encoded_plus(client, reader):
    wanted = ContactFactory(phone="+14155550123")
    ContactFactory(phone="+14155550124")
    # The query string exactly as an integration sends it: "+" encoded as %2B.
    resp = client.get("/api/contacts/?phone=%2B14155550123", **token_auth(reader))
    assert resp.status_code == 200
    assert [c["id"] for c in resp.json()["results"]] == [wanted.id]


@pytest.mark.parametrize(
    "query",
    [
        "phone=%2B1%20415%20555%200123",  # "+1 415 555 0123"
        "phone=%28415%29%20555-0123",  # "(415) 555-0123", the default region (US)
        "phone=+14155550123",  # an unencoded "+" decodes to a space
    ],
)
def test_phone_filter_normalises_other_formats(client, reader, query):
    wanted = ContactFactory(phone="+14155550123")
    ContactFactory(phone="+14155550124")
    resp = client.get(f"/api/contacts/?{query}", **token_auth(reader))
    assert resp.status_code == 200
    assert [c["id"] for c in resp.json()["results"]] == [wanted.id]


def test_phone_filter_unknown_number_is_an_empty_list(api):
    ContactFactory(phone="+14155550123")
    body = api("/api/contacts/", phone="+14155550199").json()
    assert body["count"] == 0
    assert body["results"] == []


def test_phone_filter_well_formed_but_invalid_number_is_an_empty_list(api):
    # +1 555 … is no real area code: nothing can be stored under it, nothing is found.
    resp = api("/api/contacts/", phone="+15551234567")
    assert resp.status_code == 200
    assert resp.json()["results"] == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not-a-phone", "not-a-phone is not a phone number."),
        ("+", "+ is not a phone number."),
        ("12", "12 is not a valid phone number."),
    ],
)
def test_phone_filter_garbage_is_400_with_a_reason(api, raw, reason):
    resp = api("/api/contacts/", phone=raw)
    assert resp.status_code == 400
    assert resp.json() == {"phone": [reason]}


@pytest.mark.parametrize("raw", ["\x00+14155550123", "9" * 70])
def test_phone_filter_hostile_input_is_400(api, raw):
    resp = api("/api/contacts/", phone=raw)
    assert resp.status_code == 400
    assert list(resp.json()) == ["phone"]


def test_empty_phone_is_no_filter(api):
    ContactFactory()
    ContactFactory()
    assert api("/api/contacts/", phone="").json()["count"] == 2


def test_phone_filter_skips_test_contacts(api):
    ContactFactory(phone="+14155550123", is_test=True)
    assert api("/api/contacts/", phone="+14155550123").json()["results"] == []


# --- messages -------------------------------------------------------------------------


def outbound(contact, *, body, sid, status, created_at):
    return OutboundMessageFactory(
        contact=contact,
        status=status,
        interaction__body=body,
        interaction__provider_sid=sid,
        interaction__created_at=created_at,
    ).interaction


def test_messages_shape_and_order(api):
    contact = ContactFactory()
    other = ContactFactory()
    # Created out of order on purpose: the API orders by created_at.
    outbound(
        contact,
        body="Your quote: 15% off",
        sid="SM" + "b" * 32,
        status=DeliveryStatus.SENT,
        created_at=T0 + timedelta(minutes=2),
    )
    InteractionFactory(contact=contact, body="Hello", provider_sid="SM" + "a" * 32, created_at=T0)
    InteractionFactory(
        contact=contact, body="QUOTE", provider_sid="SM" + "c" * 32, created_at=T0 + timedelta(minutes=1)
    )
    outbound(
        contact,
        body="Hi! Reply QUOTE",
        sid="SM" + "d" * 32,
        status=DeliveryStatus.DELIVERED,
        created_at=T0 + timedelta(seconds=1),
    )
    outbound(
        contact,
        body="Not yet sent",
        sid=None,
        status=DeliveryStatus.QUEUED,
        created_at=T0 + timedelta(minutes=3),
    )
    InteractionFactory(contact=other, body="Someone else", created_at=T0)

    resp = api(f"/api/contacts/{contact.id}/messages/")

    assert resp.status_code == 200
    assert resp.json()["next"] is None
    assert resp.json()["results"] == [
        {
            "direction": "inbound",
            "channel": "sms",
            "from": "",
            "to": "",
            "body": "Hello",
            "sid": "SM" + "a" * 32,
            "status": "received",
            "error_code": None,
            "media": [],
            "links": [],
            "created_at": iso(T0),
        },
        {
            "direction": "outbound",
            "channel": "sms",
            "from": "",
            "to": "",
            "body": "Hi! Reply QUOTE",
            "sid": "SM" + "d" * 32,
            "status": "delivered",
            "error_code": None,
            "media": [],
            "links": [],
            "created_at": iso(T0 + timedelta(seconds=1)),
        },
        {
            "direction": "inbound",
            "channel": "sms",
            "from": "",
            "to": "",
            "body": "QUOTE",
            "sid": "SM" + "c" * 32,
            "status": "received",
            "error_code": None,
            "media": [],
            "links": [],
            "created_at": iso(T0 + timedelta(minutes=1)),
        },
        {
            "direction": "outbound",
            "channel": "sms",
            "from": "",
            "to": "",
            "body": "Your quote: 15% off",
            "sid": "SM" + "b" * 32,
            "status": "sent",
            "error_code": None,
            "media": [],
            "links": [],
            "created_at": iso(T0 + timedelta(minutes=2)),
        },
        {
            "direction": "outbound",
            "channel": "sms",
            "from": "",
            "to": "",
            "body": "Not yet sent",
            "sid": None,
            "status": "queued",
            "error_code": None,
            "media": [],
            "links": [],
            "created_at": iso(T0 + timedelta(minutes=3)),
        },
    ]


def test_messages_of_a_contact_without_any(api):
    contact = ContactFactory()
    resp = api(f"/api/contacts/{contact.id}/messages/")
    assert resp.status_code == 200
    assert resp.json() == {"count": 0, "next": None, "previous": None, "results": []}


def test_messages_status_follows_the_latest_delivery_status(api):
    contact = ContactFactory()
    sent = outbound(contact, body="x", sid="SM" + "e" * 32, status=DeliveryStatus.SENT, created_at=T0)
    assert api(f"/api/contacts/{contact.id}/messages/").json()["results"][0]["status"] == "sent"
    OutboundMessage.objects.filter(interaction=sent).update(status=DeliveryStatus.UNDELIVERED)
    assert api(f"/api/contacts/{contact.id}/messages/").json()["results"][0]["status"] == "undelivered"


# --- query budget ---------------------------------------------------------------------


_seq = iter(range(10**6))


def populate(n: int) -> None:
    for _ in range(n):
        i = next(_seq)
        contact = ContactFactory()
        enrollment = make_enrollment(contact, plan_slug=f"p{i}", state_name="Invited", enrolled_at=T0)
        make_enrollment(contact, plan_slug=f"q{i}", state_name="Done", enrolled_at=T0, status="completed")
        convert(contact, goal_name=f"g{i}", points=5, occurred_at=T0, enrollment=enrollment)
        convert(contact, goal_name=f"h{i}", points=5, occurred_at=T0, enrollment=enrollment)


def count_queries(client, reader, path) -> int:
    headers = token_auth(reader)
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(path, **headers)
    assert resp.status_code == 200
    return len(ctx.captured_queries)


def test_a_page_of_contacts_costs_a_fixed_number_of_queries(client, reader, django_assert_num_queries):
    from automation.engine.revisions import revision_cache_clear

    populate(1)
    revision_cache_clear()
    one = count_queries(client, reader, "/api/contacts/")
    populate(19)
    assert len(client.get("/api/contacts/", **token_auth(reader)).json()["results"]) == 20
    # token + permissions (user, groups) + count + contacts + enrollments + goals + the
    # revisions they are on (one query for all of them, none once they are cached)
    headers = token_auth(reader)
    revision_cache_clear()
    with django_assert_num_queries(one):
        resp = client.get("/api/contacts/", **headers)
    assert len(resp.json()["results"]) == 20
    assert one <= 8
    with django_assert_num_queries(one - 1):
        client.get("/api/contacts/", **headers)


def test_messages_cost_a_fixed_number_of_queries(client, reader, django_assert_num_queries):
    contact = ContactFactory()
    outbound(contact, body="a", sid="SM" + "1" * 32, status=DeliveryStatus.SENT, created_at=T0)
    path = f"/api/contacts/{contact.id}/messages/"
    one = count_queries(client, reader, path)
    for i in range(20):
        outbound(contact, body="b", sid=f"SX{i:032x}", status=DeliveryStatus.SENT, created_at=T0)
        InteractionFactory(contact=contact, created_at=T0)
    headers = token_auth(reader)
    with django_assert_num_queries(one):
        resp = client.get(path, **headers)
    assert resp.json()["count"] == 41


def test_messages_show_what_twilio_told_us(api, text_in, twilio, demo_plan, sms_outbox):
    """Through the doors: a signed MMS with To and media types, then the reply's status
    callbacks (undelivered with an ErrorCode) — all of it in the messages API."""
    text_in(
        "+14155550199", "Hi there", To="+14155550100", NumMedia="2",
        MediaUrl0="https://api.twilio.com/m/ME1", MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/m/ME2", MediaContentType1="video/mp4",
    )  # fmt: skip
    contact = Contact.objects.get(phone="+14155550199")
    reply = OutboundMessage.objects.get(contact=contact)
    sid = sms_outbox[0].sid
    for status, code in (("sent", ""), ("undelivered", "30003")):
        response = twilio.post(
            f"/twilio/status/?id={reply.pk}", {"MessageSid": sid, "MessageStatus": status, "ErrorCode": code}
        )
        assert response.status_code == 200

    results = api(f"/api/contacts/{contact.id}/messages/").json()["results"]

    inbound, outbound_ = results
    assert (inbound["from"], inbound["to"], inbound["channel"]) == ("+14155550199", "+14155550100", "sms")
    assert inbound["media"] == [
        {"url": "https://api.twilio.com/m/ME1", "content_type": "image/jpeg"},
        {"url": "https://api.twilio.com/m/ME2", "content_type": "video/mp4"},
    ]
    assert (outbound_["from"], outbound_["to"]) == ("+14155550100", "+14155550199")
    assert (outbound_["status"], outbound_["error_code"], outbound_["sid"]) == ("undelivered", 30003, sid)


def test_messages_are_paginated_200_a_page(api):
    contact = ContactFactory()
    Interaction.objects.bulk_create(
        [
            Interaction(
                contact=contact, direction="inbound", body=f"m{i}", created_at=T0 + timedelta(seconds=i)
            )
            for i in range(450)
        ]
    )
    first = api(f"/api/contacts/{contact.id}/messages/").json()
    assert (first["count"], len(first["results"]), first["results"][0]["body"]) == (450, 200, "m0")
    second = api(first["next"]).json()
    assert (len(second["results"]), second["results"][0]["body"]) == (200, "m200")
    third = api(second["next"]).json()
    assert (len(third["results"]), third["next"]) == (50, None)
