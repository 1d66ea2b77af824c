"""Senders (docs/reference.md §4 `sender_set`, §8): created or updated by the command, as an
operator runs it, or in the admin; anything that is not a sender is refused, changing
nothing."""

import pytest
from django.urls import reverse

from conftest import command, command_refused
from messaging.models import Sender
from tests.servers import django_run

pytestmark = pytest.mark.django_db

SID = "MG" + "0123456789abcdef" * 2


def _row(address: str) -> tuple:
    return Sender.objects.values_list("address", "kind", "mps", "messaging_service_sid", "name").get(
        address=address
    )


def test_sender_set_creates_each_kind_of_sender():
    for address, kind in (
        ("+15017122661", "number"),
        ("12345", "short_code"),
        ("654321", "short_code"),
        ("whatsapp:+14155238886", "whatsapp"),
    ):
        out, err = command("sender_set", address)
        assert (out.strip(), err) == (f"Sender {address} saved", "")
        assert _row(address) == (address, kind, None, "", "")


def test_sender_set_is_idempotent_and_changes_only_what_it_is_given():
    command("sender_set", "+15017122661", "--mps", "3", "--messaging-service-sid", SID, "--name", "Support")
    command("sender_set", "+15017122661")  # again, with nothing: nothing changes
    assert _row("+15017122661") == ("+15017122661", "number", 3, SID, "Support")
    command("sender_set", "+15017122661", "--name", "Toll-free support")
    assert _row("+15017122661") == ("+15017122661", "number", 3, SID, "Toll-free support")
    command("sender_set", "+15017122661", "--mps", "0")  # 0 removes the limit
    assert _row("+15017122661")[2] is None
    assert Sender.objects.count() == 1


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["+1 501 712 2661"], "is not a sender address"),
        (["15017122661"], "is not a sender address"),  # no +: neither E.164 nor a short code
        (["1234"], "is not a sender address"),
        (["1234567"], "is not a sender address"),
        (["+0123456789"], "is not a sender address"),
        (["whatsapp:15017122661"], "is not a sender address"),
        (["whatsapp:12345"], "is not a sender address"),
        (["ACME"], "is not a sender address"),
        (["+15017122661", "--mps", "-1"], "--mps -1"),
        (["+15017122661", "--messaging-service-sid", "MG123"], "is not a Messaging Service SID"),
        (["+15017122661", "--messaging-service-sid", "PN" + "0" * 32], "is not a Messaging Service SID"),
        (["+15017122661", "--messaging-service-sid", "MG" + "g" * 32], "is not a Messaging Service SID"),
    ],
)
def test_sender_set_refuses_what_is_not_a_sender_and_changes_nothing(args, reason):
    command("sender_set", "+15017122661", "--mps", "3")
    before = list(Sender.objects.values_list())
    assert reason in command_refused("sender_set", *args)
    assert list(Sender.objects.values_list()) == before


def test_sender_set_from_the_shell_prints_its_line_and_exits_1_on_refusal(tmp_path):
    # As an operator runs it: the exit status and the two streams.
    def manage(*args):
        return django_run("manage.py", *args, tmp_path=tmp_path)

    assert manage("migrate", "--noinput").returncode == 0
    saved = manage("sender_set", "12345", "--mps", "100")
    assert (saved.returncode, saved.stdout.strip()) == (0, "Sender 12345 saved")
    refused = manage("sender_set", "+15017122661", "--mps", "-5")
    assert (refused.returncode, refused.stdout) == (1, "")
    assert "--mps -5" in refused.stderr


def test_the_admin_saves_a_sender_and_refuses_one_that_is_not(admin_client):
    add = reverse("admin:messaging_sender_add")
    response = admin_client.post(add, {"address": "whatsapp:+14155238886", "name": "WhatsApp", "mps": "20"})
    assert response.status_code == 302
    assert _row("whatsapp:+14155238886") == ("whatsapp:+14155238886", "whatsapp", 20, "", "WhatsApp")
    refused = admin_client.post(add, {"address": "not-a-number", "messaging_service_sid": ""})
    assert refused.status_code == 200
    assert "is not a sender address" in refused.content.decode()
    assert Sender.objects.count() == 1
    listed = admin_client.get(reverse("admin:messaging_sender_changelist")).content.decode()
    assert "whatsapp:+14155238886" in listed
