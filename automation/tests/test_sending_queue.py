"""The marketer sees the queue (issue 20, docs/cockpit.md "The sending queue" and "Bulk
enrollment"): the sending queue page per sender, the Senders list read-only for Marketers,
and the bulk enrollment pages saying which sender they send from and how long it takes."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from automation.models import BulkEnrollmentJob
from automation.tests.factories import ask, plan_make
from conftest import page_text
from contacts.tests.factories import ContactFactory
from messaging.models import Lane, Sender
from messaging.senders import sender_save
from messaging.tests.factories import OutboundMessageFactory

pytestmark = pytest.mark.django_db

QUEUE = "/admin/sending-queue/"
LONG = "Spring sale! " * 14  # 182 characters: two segments


def _rows(sender, lane, n, *, segments=1, **fields):
    OutboundMessageFactory.create_batch(n, sender=sender, lane=lane, segments=segments, **fields)


def _cells(page, address: str) -> dict[str, str]:
    """The queue table's row of the sender at `address` ("default" for the default): its
    cells by class."""
    html = page.content.decode()
    row = re.search(rf'<tr data-sender="{re.escape(address)}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {address}"
    return {
        cls: re.sub(r"<[^>]+>", "", text).strip()
        for cls, text in re.findall(r'<td class="(?:num )?(\w+)"[^>]*>(.*?)</td>', row.group(1), re.S)
    }


@pytest.fixture
def queued():
    """Three senders with texts waiting in both lanes, and some sent in the last minute."""
    now = timezone.now()
    main = sender_save(address="+14155550100", mps=1, name="Main line")  # the default (tests' from number)
    short = sender_save(address="12345", mps=100, name="Campaign short code")
    support = sender_save(address="+15017122661", name="Support")
    _rows(None, Lane.REPLY, 2)
    _rows(main, Lane.CAMPAIGN, 3, segments=2)
    _rows(short, Lane.REPLY, 1)
    _rows(short, Lane.CAMPAIGN, 4)
    _rows(short, Lane.CAMPAIGN, 2, status="held")  # quiet hours: not in the queue
    _rows(short, Lane.CAMPAIGN, 3, segments=2, status="sent", sent_at=now - timedelta(seconds=20))
    _rows(support, Lane.CAMPAIGN, 30)
    _rows(support, Lane.CAMPAIGN, 1, status="sent", sent_at=now - timedelta(seconds=5))
    return {"main": main, "short": short, "support": support}


def test_the_queue_page_shows_each_sender_s_lanes_rate_and_drain(admin_client, queued):
    page = admin_client.get(QUEUE)
    assert page.status_code == 200
    assert _cells(page, "+14155550100") == {
        "sender": "Main line (+14155550100) — default",
        "kind": "Phone number",
        "limit": "1 MPS",
        "reply": "2",
        "campaign": "3 (6 segments)",
        "rate": "0/s",
        "drain": "under a minute",  # 8 segments at 1 a second
    }
    assert _cells(page, "12345") == {
        "sender": "Campaign short code (12345)",
        "kind": "Short code",
        "limit": "100 MPS",
        "reply": "1",
        "campaign": "4 (4 segments)",
        "rate": "0.1/s",
        "drain": "under a minute",
    }
    support = _cells(page, "+15017122661")
    assert (support["limit"], support["campaign"], support["rate"]) == (
        "not paced",
        "30 (30 segments)",
        "0.02/s",
    )
    assert support["drain"] == "about 30 minutes"  # unpaced: at the rate now, one a minute
    # The superuser may change the limits: the page says where.
    assert 'href="/admin/messaging/sender/"' in page.content.decode()
    assert "manage.py sender_set" in page_text(page)


def test_the_queue_page_is_linked_from_the_index_the_senders_and_the_plans(
    admin_client, marketer_client, queued
):
    for client in (admin_client, marketer_client):
        for url in (
            "/admin/",
            reverse("admin:messaging_sender_changelist"),
            reverse("admin:automation_plan_changelist"),
        ):
            assert f'href="{QUEUE}"' in client.get(url).content.decode(), url


def test_marketers_see_the_queue_and_the_senders_but_cannot_change_them(marketer_client, queued):
    page = marketer_client.get(QUEUE)
    assert page.status_code == 200
    assert _cells(page, "12345")["campaign"] == "4 (4 segments)"
    assert "Only an administrator changes a sender's limit." in page_text(page)

    short = queued["short"]
    assert marketer_client.get(reverse("admin:messaging_sender_changelist")).status_code == 200
    change_url = reverse("admin:messaging_sender_change", args=[short.pk])
    shown = marketer_client.get(change_url)
    assert shown.status_code == 200 and 'name="_save"' not in shown.content.decode()  # read-only
    refused = marketer_client.post(change_url, {"address": "12345", "name": "Mine now", "mps": "1000"})
    assert refused.status_code == 403
    assert marketer_client.get(reverse("admin:messaging_sender_add")).status_code == 403
    assert (
        marketer_client.post(reverse("admin:messaging_sender_add"), {"address": "54321"}).status_code == 403
    )
    delete_url = reverse("admin:messaging_sender_delete", args=[short.pk])
    assert marketer_client.post(delete_url, {"post": "yes"}).status_code == 403
    short.refresh_from_db()
    assert (short.name, short.mps, Sender.objects.count()) == ("Campaign short code", 100, 3)


def test_only_superusers_change_senders_even_with_the_permission(client, django_user_model, queued):
    staff = django_user_model.objects.create_user("ops", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_sender", "change_sender"]))
    client.force_login(staff)
    url = reverse("admin:messaging_sender_change", args=[queued["short"].pk])
    assert client.post(url, {"address": "12345", "mps": "1"}).status_code == 403
    assert Sender.objects.get(address="12345").mps == 100


def test_the_queue_page_is_refused_without_the_senders_permission(client, django_user_model, db):
    client.force_login(django_user_model.objects.create_user("staff", is_staff=True))
    assert client.get(QUEUE).status_code == 403
    assert f'href="{QUEUE}"' not in client.get("/admin/").content.decode()
    client.force_login(django_user_model.objects.create_user("someone"))
    assert client.get(QUEUE).status_code == 302  # to the login page


def _consenting(n: int) -> list:
    return [ContactFactory(consent_at=timezone.now()) for _ in range(n)]


def _bulk_page(client, contacts):
    data = {"action": "enroll_in_plan", "_selected_action": [c.pk for c in contacts], "index": 0}
    return client.post(reverse("admin:contacts_contact_changelist"), data)


def test_the_bulk_page_says_the_sender_and_the_time_at_its_limit(marketer_client):
    paced = sender_save(address="+15017122661", mps=1, name="Toll-free")
    # 40 campaign texts of 10 segments already wait on it: 400 s before the new ones.
    _rows(paced, Lane.CAMPAIGN, 40, segments=10)
    bound = plan_make(
        name="Spring sale",
        entry={"trigger": "none", "sender": "+15017122661"},
        steps=[ask("hello", "Hi! Reply SPRING for 20% off.")],
    )
    longer = plan_make(
        name="Summer sale", entry={"trigger": "none", "sender": "+15017122661"}, steps=[ask("hello", LONG)]
    )
    unpaced = plan_make(name="Welcome", entry={"trigger": "none"}, steps=[ask("hello", "Welcome!")])
    contacts = _consenting(7)

    page = _bulk_page(marketer_client, contacts)
    assert page.status_code == 200
    said = {e.plan.pk: e.says for e in page.context["estimates"]}
    assert said[bound.pk] == (
        "Sends from Toll-free (+15017122661). At 1 MPS this takes about 7 minutes; "  # 7 + 400 segments
        "40 campaign messages are already waiting on this sender."
    )
    assert said[longer.pk] == (
        "Sends from Toll-free (+15017122661). At 1 MPS (2 segments a text) this takes about 7 minutes; "
        "40 campaign messages are already waiting on this sender."
    )
    assert said[unpaced.pk] == (
        "Sends from +14155550100 — default, which is not paced: "
        "the texts go to Twilio as fast as it takes them."
    )
    text = page_text(page)
    for sentence in said.values():
        assert sentence in text

    # The estimate came before the confirmation: enrolling still takes one click.
    marketer_client.post(
        reverse("admin:contacts_contact_changelist"),
        {
            "action": "enroll_in_plan",
            "_selected_action": [c.pk for c in contacts],
            "plan": bound.pk,
            "apply": "1",
        },
    )
    assert BulkEnrollmentJob.objects.get().total == 7


def test_the_bulk_page_counts_the_queue_of_the_default_sender_and_its_limit(admin_client):
    sender_save(address="+14155550100", mps=1)  # the default's settings
    _rows(None, Lane.CAMPAIGN, 3)
    plan = plan_make(name="News", entry={"trigger": "none", "sender": None}, steps=[ask("n", "Our news!")])
    page = _bulk_page(admin_client, _consenting(2))
    (estimate,) = [e for e in page.context["estimates"] if e.plan.pk == plan.pk]
    assert estimate.says == (
        "Sends from +14155550100 — default. At 1 MPS this takes under a minute; "
        "3 campaign messages are already waiting on this sender."
    )


def test_the_csv_segment_page_says_the_sender_and_the_time_per_thousand(admin_client):
    sender_save(address="12345", mps=1, name="Short code")
    _rows(Sender.objects.get(), Lane.CAMPAIGN, 2, segments=5)
    plan = plan_make(name="Spring", entry={"trigger": "none", "sender": "12345"}, steps=[ask("s", "Hi!")])
    page = admin_client.get(reverse("admin:automation_plan_segment", args=[plan.pk]))
    assert page.status_code == 200
    assert (
        "Sends from Short code (12345). At 1 MPS, each 1,000 contacts take about 17 minutes; "
        "2 campaign messages are already waiting on this sender, under a minute first."
    ) in page_text(page)
    # Still one step: the upload enrolls.
    ContactFactory(phone="+14155550101", consent_at=timezone.now())
    upload = SimpleUploadedFile("s.csv", b"phone\n+14155550101\n")
    assert admin_client.post(page.request["PATH_INFO"], {"file": upload}).status_code == 302


def test_a_plan_bound_to_a_new_address_is_not_paced(admin_client):
    """Publishing a plan bound to an address makes it a sender (docs/reference.md §8), with no
    limit until an operator gives it one."""
    plan_make(name="WhatsApp news", entry={"trigger": "none", "sender": "whatsapp:+14155238886"},
              steps=[ask("w", "Hi!")])  # fmt: skip
    page = _bulk_page(admin_client, _consenting(1))
    assert (
        "Sends from whatsapp:+14155238886, which is not paced: the texts go to Twilio "
        "as fast as it takes them."
    ) in page_text(page)


def test_a_hundred_thousand_contacts_at_1_mps_take_about_30_hours():
    from automation.cockpit.send_estimates import plan_send_estimate
    from messaging.selectors import sender_queues

    sender_save(address="+15017122661", mps=1, name="Long code")
    plan = plan_make(entry={"trigger": "none", "sender": "+15017122661"}, steps=[ask("s", "Hi!")])
    estimate = plan_send_estimate(plan=plan, contacts=100_000, queues=sender_queues())
    assert estimate.says == (
        "Sends from Long code (+15017122661). At 1 MPS this takes about 29 hours; "
        "nothing else is waiting on this sender."
    )
