"""Shared pytest fixtures and the helpers beside them: settings for tests, a client that
signs like Twilio, the texts sent, the demo plan's texts, a Marketer, users of the REST API
and their tokens, a page's text, a management command's output, the timers job."""

import html
import itertools
import os
import re
from datetime import datetime
from io import StringIO
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

TEST_PUBLIC_BASE_URL = "https://sms.example.com"
TEST_AUTH_TOKEN = "12345678901234567890123456789012"  # noqa: S105 - a test token
TEST_ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.PUBLIC_BASE_URL = TEST_PUBLIC_BASE_URL
    settings.TWILIO_AUTH_TOKEN = TEST_AUTH_TOKEN
    settings.TWILIO_ACCOUNT_SID = TEST_ACCOUNT_SID
    settings.TWILIO_FROM_NUMBER = "+14155550100"
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_BASE_URL = "https://api.twilio.com"
    settings.SMS_BACKEND = "messaging.backends.locmem.LocmemBackend"
    settings.SMS_QUIET_HOURS = ""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.SECURE_SSL_REDIRECT = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _no_eager_pause():
    """A test that makes the provider fail pauses in-process sends for a while (a process-wide
    circuit breaker); don't let that leak into the next test."""
    from messaging.services import eager_pause

    eager_pause.reset()
    yield
    eager_pause.reset()


@pytest.fixture(autouse=True)
def _fresh_pacing():
    """The limiter (slots, back-offs, wakes: in the process, or in Redis when a broker is set)
    and the senders the send path read outlive a test; each test starts with none (the
    rolled-back database hands the same ids out again)."""
    from infra.pacing import pacing
    from messaging.senders import sender_cache_clear

    def forget():
        pacing.cache_clear()
        sender_cache_clear()
        broker = os.environ.get("CELERY_BROKER_URL", "")
        if broker.startswith("redis"):  # the limiter keeps its slots there (this database's keys)
            import redis
            from django.db import connection

            client = redis.Redis.from_url(broker)
            keys = list(client.scan_iter(f"sj:pace:{connection.settings_dict['NAME']}:*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()

    forget()
    yield
    forget()


def twilio_signature(url: str, params: dict, token: str = TEST_AUTH_TOKEN) -> str:
    """The X-Twilio-Signature Twilio would send for a POST of `params` to `url`."""
    return RequestValidator(token).compute_signature(url, params)


class TwilioClient:
    """Posts form data exactly as Twilio does: form-encoded and signed over the public URL."""

    def __init__(self, client):
        self.client = client

    def post(self, path: str, params: dict, *, signature: str | None = None, token: str = TEST_AUTH_TOKEN):
        url = TEST_PUBLIC_BASE_URL + path
        sig = signature if signature is not None else twilio_signature(url, params, token)
        return self.client.post(
            path,
            data=urlencode(params),
            content_type="application/x-www-form-urlencoded",
            HTTP_X_TWILIO_SIGNATURE=sig,
        )


@pytest.fixture
def twilio(client):
    return TwilioClient(client)


_sid_counter = iter(range(1, 10**9))


def inbound_payload(from_number: str, body: str, **extra) -> dict:
    """An inbound SMS webhook payload shaped like shared/fixtures/twilio/inbound_sms.json."""
    sid = extra.pop("MessageSid", None) or f"SM{next(_sid_counter):032x}"
    payload = {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "SAN FRANCISCO",
        "FromZip": "10001",
        "SmsSid": sid,
        "FromState": "NY",
        "SmsStatus": "received",
        "Body": body,
        "FromCountry": "US",
        "To": "+14155550100",
        "ToZip": "94105",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": TEST_ACCOUNT_SID,
        "From": from_number,
        "ApiVersion": "2010-04-01",
    }
    payload.update(extra)
    return payload


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def marketer(db, django_user_model):
    """A staff user of the "Marketers" group (the migrations make the group and its
    permissions), read afresh: no permission cache."""
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("marketer", is_staff=True)
    user.groups.add(Group.objects.get(name="Marketers"))
    return django_user_model.objects.get(pk=user.pk)


@pytest.fixture
def marketer_client(client, marketer):
    """The test client logged in as the Marketer."""
    client.force_login(marketer)
    return client


def api_user(username: str, *permissions: str):
    """A user of the REST API (a shop's or a CRM's integration: no admin) holding
    `permissions`, each "app_label.codename"."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user(username=username)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def token_auth(user) -> dict:
    """The test client's Authorization header with `user`'s API token (made on first use)."""
    from rest_framework.authtoken.models import Token

    token, _ = Token.objects.get_or_create(user=user)
    return {"HTTP_AUTHORIZATION": f"Token {token.key}"}


_api_readers = itertools.count()


def contact_messages(client, phone: str) -> list[dict]:
    """The contact's messages and events as the messages API shows them (docs/reference.md
    §3), read by an API user allowed to (its first page)."""
    from contacts.models import Contact

    reader = api_user(f"reader-{next(_api_readers)}", "contacts.view_contact")
    contact = Contact.objects.get(phone=phone)
    response = client.get(f"/api/contacts/{contact.pk}/messages/", **token_auth(reader))
    assert response.status_code == 200
    return response.json()["results"]


def page_text(response) -> str:
    """What a page says: its HTML with the entities read (“ for &ldquo;, ' for &#x27;)."""
    return html.unescape(response.content.decode())


# The demo plan's texts (automation/engine/demo_plan.py), as its contacts read them.
INVITE = "Hi! Reply QUOTE to get your exclusive discount."
INVITE_FALLBACK = "Sorry, we didn't catch that. Reply QUOTE for your discount."
REMIND = "Still interested? Reply QUOTE for your discount."
QUOTED = "Your quote: 15% off your next order. Reply BUY to claim it."
THANKS = "Thanks for your purchase! Your discount is applied."


@pytest.fixture
def demo_plan(db):
    """The seed journey, exactly as `load_demo_plan` makes it, activated."""
    from automation.engine.plans import plan_load_demo
    from automation.models import Plan

    plan = Plan.objects.get(pk=plan_load_demo().pk)  # protected FSM field: no refresh_from_db
    assert plan.status == Plan.Status.ACTIVE
    return plan


@pytest.fixture
def text_in(twilio, django_capture_on_commit_callbacks):
    """Send one inbound SMS through the signed webhook: ``text_in(phone, body, **fields)``;
    on-commit work (the sends) runs."""

    def send(from_number: str, body: str, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            response = twilio.post("/twilio/sms/", inbound_payload(from_number, body, **extra))
        assert response.status_code == 200, response.content
        return response

    return send


@pytest.fixture
def twilio_api(settings):
    """Twilio's REST API, faked at the HTTP layer with `responses`; the twilio backend in
    use. Register answers with ``twilio_api.add(responses.POST, messages_url(), **created())``
    (helpers in messaging/tests/conftest.py)."""
    import responses

    settings.SMS_BACKEND = "messaging.backends.twilio.TwilioBackend"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def fake_twilio():
    """A local HTTP stand-in for Twilio's REST API, for a server or worker in another
    process (messaging/tests/fake_twilio.py)."""
    from messaging.tests.fake_twilio import FakeTwilio

    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture
def sms_outbox():
    """Messages the locmem backend 'sent' during the test (cleared before)."""
    from messaging.backends import locmem

    locmem.outbox.clear()
    return locmem.outbox


def bodies(outbox, to: str | None = None) -> list[str]:
    """The texts in `outbox` (``sms_outbox``), in the order sent; only those to `to` if given."""
    return [m.body for m in outbox if to is None or m.to == to]


def command(*args: str, **options) -> tuple[str, str]:
    """Run a management command as an operator does (``call_command``); what it wrote to
    stdout and to stderr."""
    from django.core.management import call_command

    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def command_refused(*args: str) -> str:
    """Run a management command that must refuse (exit status 1, nothing on stdout); what it
    wrote to stderr."""
    from django.core.management import call_command

    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as refused:
        call_command(*args, stdout=out, stderr=err)
    assert (refused.value.code, out.getvalue()) == (1, ""), err.getvalue()
    return err.getvalue()


@pytest.fixture
def timers(django_capture_on_commit_callbacks):
    """The timers job as cron runs it, ``process_timeouts [--as-of WHEN]``, its texts sent
    after commit: ``timers(when=None)`` → how many timers fired (the count it printed)."""

    def run(when: datetime | None = None) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            out, _ = command("process_timeouts", *(["--as-of", when.isoformat()] if when else []))
        fired = re.fullmatch(r"Fired (\d+) timeouts? as of \S+\.\n", out)
        assert fired, out
        return int(fired.group(1))

    return run


def pytest_collection_modifyitems(config, items):
    db_url = os.environ.get("DATABASE_URL", "")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    for item in items:
        if "postgres" in item.keywords and not db_url.startswith(("postgres", "postgresql")):
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://…"))
        if "celery_broker" in item.keywords and not broker:
            item.add_marker(pytest.mark.skip(reason="needs a broker: set CELERY_BROKER_URL=redis://…"))


@pytest.fixture(autouse=True)
def _revision_cache():
    """Published revisions are cached by id for the life of a process (they never change),
    and so are their diagrams (Django's cache) and, for a minute, senders; a test database
    rolled back hands the same ids out again, so each test starts afresh."""
    from django.core.cache import cache

    from automation.engine.revisions import revision_cache_clear
    from messaging.senders import sender_cache_clear

    revision_cache_clear()
    sender_cache_clear()
    cache.clear()
    yield
    revision_cache_clear()
    sender_cache_clear()
    cache.clear()
