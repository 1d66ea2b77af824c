"""Plan `http` steps (docs/reference.md §6), driven as a contact drives them: messages through the
signed webhook, the web service a real server on 127.0.0.1 (automation/tests/web_service.py)
or faked at the HTTP layer with `responses`."""

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
import responses
import time_machine

from automation.models import EnrollmentStep
from automation.tests.admin_forms import newest, post_step
from automation.tests.factories import ask, plan_make, send, the_enrollment
from automation.tests.web_service import answer_json, drip, web_service
from conftest import bodies
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

PHONE = "+12125550160"
T0 = datetime(2030, 3, 4, 15, 0, tzinfo=UTC)
SERVICE = "https://93.184.216.34/score"  # a public address: no DNS needed here
SORRY = "We could not look that up."


def http_plan(url=SERVICE, **extra):
    return plan_make(
        steps=[
            {"id": "call", "type": "http", "method": "POST", "url": url,
             "body": {"phone": "{{ contact.phone }}", "source": "sms"}, "headers": {"X-Key": "k"},
             "save": {"attributes.points": "points", "first_name": "name"},
             "next": "ok", "on_failure": "sorry", **extra},
            ask("ok", "You have {{ contact.attributes.points }} points, {{ contact.first_name }}."),
            send("sorry", SORRY),
        ]
    )  # fmt: skip


def asked_then_called(call: dict):
    """A plan that asks a contact's name and city (saved as they type them), then calls."""
    return plan_make(
        steps=[
            ask("name", "Your name?", [({"match": "any", "save_as": "first_name"}, "city")]),
            ask("city", "Your city?", [({"match": "any", "save_as": "attributes.city"}, "call")]),
            {"id": "call", "type": "http", "next": "ok", "on_failure": "sorry", **call},
            send("ok", "Done."),
            send("sorry", SORRY),
        ]
    )


def contact_types(text_in, *replies):
    text_in(PHONE, "hi")
    for reply in replies:
        text_in(PHONE, reply)


# --- the call -----------------------------------------------------------------------------


def test_http_posts_after_commit_saves_the_answer_and_goes_on(text_in, sms_outbox):
    http_plan()
    with responses.RequestsMock() as service:
        service.post(SERVICE, json={"points": 7, "name": "Ann"}, status=200)
        text_in(PHONE, "points?")
        call = service.calls[0].request
    assert json.loads(call.body) == {"phone": PHONE, "source": "sms"}
    assert call.headers["X-Key"] == "k"
    assert bodies(sms_outbox, PHONE) == ["You have 7 points, Ann."]
    assert list(EnrollmentStep.objects.values_list("step_id", "via")) == [("call", "enroll"), ("ok", "http")]


@pytest.mark.parametrize(
    "answer", [{"status": 500, "json": {}}, {"status": 302, "headers": {"Location": "/x"}}]
)
def test_http_failure_goes_to_on_failure(text_in, sms_outbox, answer):
    http_plan()
    with responses.RequestsMock() as service:
        service.post(SERVICE, **answer)
        text_in(PHONE, "points?")
    assert bodies(sms_outbox, PHONE) == [SORRY]


def test_http_refuses_private_addresses_unless_allowed(text_in, sms_outbox, settings):
    http_plan(url="http://127.0.0.1:9/score")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as service:
        service.post("http://127.0.0.1:9/score", json={"points": 1})
        text_in(PHONE, "points?")
        assert len(service.calls) == 0  # never called
    assert bodies(sms_outbox, PHONE) == [SORRY]

    settings.HTTP_STEP_ALLOW_PRIVATE = True
    with responses.RequestsMock() as service:
        service.post("http://127.0.0.1:9/score", json={"points": 1, "name": "Bo"})
        text_in("+12125550161", "points?")
    assert bodies(sms_outbox, "+12125550161") == ["You have 1 points, Bo."]


def test_a_name_that_rebinds_to_a_private_address_after_the_check_reaches_nothing(
    text_in, sms_outbox, monkeypatch
):
    """DNS rebinding: the name resolves to a public address when it is checked and to
    loopback when the call connects. A real service listens on loopback; it must hear
    nothing. (DNS is the outside service faked here, at the resolver.)"""
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])  # the first answer is public, every later one loopback

    def resolve(host, *args, **kwargs):
        if host != "rebind.example":
            return real(host, *args, **kwargs)
        return real(next(answers, "127.0.0.1"), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with web_service(answer_json({"points": 99, "name": "Inside"})) as service:
        http_plan(url=f"http://rebind.example:{service.server.server_address[1]}/score")
        text_in(PHONE, "points?")
    assert service.heard == []
    assert bodies(sms_outbox, PHONE) == [SORRY]


def test_an_http_answer_that_never_comes_back_counts_as_a_failure(text_in, sms_outbox, timers):
    from automation.engine.runtime import HTTP_ANSWER_GRACE
    from automation.tests.factories import EnrollmentFactory

    plan = http_plan()
    with time_machine.travel(T0, tick=False), responses.RequestsMock() as service:
        service.post(SERVICE, json={"points": 1, "name": "Ann"})
        text_in(PHONE, "points?")  # an answer came: the timer is cleared
    assert the_enrollment(PHONE).timeout_at is None
    # The state a lost task leaves behind: at the http step, its grace running.
    lost = EnrollmentFactory(plan=plan, step_id="call", enrolled_at=T0, timeout_at=T0 + HTTP_ANSWER_GRACE)
    assert timers(T0 + HTTP_ANSWER_GRACE - timedelta(seconds=1)) == 0
    assert timers(T0 + HTTP_ANSWER_GRACE) == 1
    assert bodies(sms_outbox, lost.contact.phone) == [SORRY]


def test_an_answer_over_64_kib_still_succeeds_but_saves_nothing(text_in, sms_outbox):
    http_plan()
    with responses.RequestsMock() as service:
        service.post(SERVICE, body=json.dumps({"points": 3, "pad": "x" * 100_000}), status=200)
        text_in(PHONE, "points?")
    # A 2xx whose body is too large to read is still a 2xx; nothing is saved from it.
    assert bodies(sms_outbox, PHONE) == ["You have  points, ."]


# --- what a contact types cannot reshape the call (issue 18, point 3) --------------------------


HOSTILE_NAME = 'Bob", "phone": "+15550000000", "credit": 500, "x": "'


def test_a_text_body_is_sent_as_one_json_string_whatever_the_contact_typed(text_in, sms_outbox, settings):
    settings.HTTP_STEP_ALLOW_PRIVATE = True
    with web_service() as service:
        body = '{"name": "{{ contact.first_name }}"}'
        asked_then_called({"method": "POST", "url": f"{service.base_url}/hook", "body": body})
        contact_types(text_in, HOSTILE_NAME, "Paris")
    assert service.heard[0].json() == '{"name": "' + HOSTILE_NAME + '"}'  # one string, no new keys
    assert bodies(sms_outbox, PHONE)[-1] == "Done."


def test_an_object_body_keeps_its_keys_and_each_value_is_a_json_string(text_in, sms_outbox, settings):
    settings.HTTP_STEP_ALLOW_PRIVATE = True
    body = {"name": "{{ contact.first_name }}", "city": ["{{ contact.attributes.city }}"], "points": 5}
    body["vip"] = None
    with web_service() as service:
        asked_then_called({"method": "POST", "url": f"{service.base_url}/hook", "body": body})
        contact_types(text_in, '{"credit": 500}', "500")
    assert service.heard[0].json() == {"name": '{"credit": 500}', "city": ["500"], "points": 5, "vip": None}


def test_values_put_into_the_url_are_percent_encoded(text_in, sms_outbox, settings):
    settings.HTTP_STEP_ALLOW_PRIVATE = True
    with web_service() as service:
        url = service.base_url + "/api/stores/{{ contact.attributes.city }}/info"
        url += "?name={{ contact.first_name }}&v=1"
        asked_then_called({"method": "GET", "url": url})
        contact_types(text_in, "Bob&admin=1#top", "../../admin/users/1/delete?")
    assert [h.path for h in service.heard] == [
        "/api/stores/..%2F..%2Fadmin%2Fusers%2F1%2Fdelete%3F/info?name=Bob%26admin%3D1%23top&v=1"
    ]
    assert bodies(sms_outbox, PHONE)[-1] == "Done."


@pytest.mark.parametrize("city", ["..", "."])
def test_a_value_that_would_be_a_dot_segment_is_refused(text_in, sms_outbox, settings, city):
    """`..` alone percent-encodes to itself: the call would go one level up. It is not made.
    (No reply saves a bare `..`; a contact import can.)"""
    settings.HTTP_STEP_ALLOW_PRIVATE = True
    ContactFactory(phone=PHONE, attributes={"city": city})
    with web_service() as service:
        url = service.base_url + "/api/{{ contact.attributes.city }}/info"
        call = {"id": "call", "type": "http", "method": "GET", "url": url, "next": None}
        plan_make(steps=[{**call, "on_failure": "sorry"}, send("sorry", SORRY)])
        text_in(PHONE, "hi")
    assert service.heard == []
    assert bodies(sms_outbox, PHONE) == [SORRY]
    assert "segment" in EnrollmentStep.objects.get(step_id="call").detail


def test_save_paths_start_at_the_top_of_the_json_answer(text_in, sms_outbox, settings):
    settings.HTTP_STEP_ALLOW_PRIVATE = True
    answer = {"points": 7, "data": {"points": 42}, "items": [{"id": "a1"}, {"id": "b2"}]}
    with web_service(answer_json(answer)) as service:
        plan_make(
            steps=[
                {"id": "call", "type": "http", "method": "GET", "url": f"{service.base_url}/points",
                 "save": {"attributes.top": "points", "attributes.nested": "data.points",
                          "attributes.second": "items.1.id", "attributes.gone": "data.missing",
                          "attributes.out": "items.5.id"},
                 "next": None},
            ]
        )  # fmt: skip
        text_in(PHONE, "hi")
    attributes = the_enrollment(PHONE).contact.attributes
    assert attributes == {"top": 7, "nested": 42, "second": "b2"}  # a missing path saves nothing


# --- a slow or broken web service (issue 18, point 5) -----------------------------------------


def slow_body(service_stop):
    def answer(handler, heard):
        body = b'{"points": 1, "name": "Slow"}'.ljust(50)  # 50 bytes: ten seconds of drip
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        drip(handler.wfile, body, every=0.2, until=service_stop())

    return answer


def slow_headers(service_stop):
    def answer(handler, heard):
        body = b'{"points": 1, "name": "Slow"}'
        drip(
            handler.wfile,
            b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 50 + b"\r\n",
            every=0.2,
            until=service_stop(),
        )
        handler.wfile.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    return answer


@pytest.mark.timeout(60)
@pytest.mark.parametrize("slow", [slow_body, slow_headers], ids=["body", "headers"])
def test_a_service_that_drips_its_answer_is_cut_off_at_the_deadline(text_in, sms_outbox, settings, slow):
    """The deadline bounds the whole call, not each read: a server that sends a byte every
    0.2 s answers 200 after ten seconds, too late for a 1 s deadline."""
    settings.HTTP_STEP_ALLOW_PRIVATE = True
    settings.HTTP_STEP_TIMEOUT = 1
    holder = []
    with web_service(slow(lambda: holder[0].stop)) as service:
        holder.append(service)
        http_plan(url=f"{service.base_url}/score")
        text_in(PHONE, "points?")
        assert len(service.heard) == 1
    assert bodies(sms_outbox, PHONE) == [SORRY]
    assert "no complete answer within 1 s" in EnrollmentStep.objects.get(step_id="call").detail


def bad_status_line(handler, heard):
    handler.wfile.write(b"HELLO THERE\r\n\r\n")


def closes_mid_body(handler, heard):
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
    handler.wfile.write(b'{"points": 1')
    handler.wfile.flush()
    handler.connection.shutdown(socket.SHUT_RDWR)


def bad_chunk(handler, heard):
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    handler.wfile.write(b"zz\r\n{}\r\n0\r\n\r\n")


def bad_gzip(handler, heard):
    body = b"not gzip at all"
    handler.wfile.write(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )


@pytest.mark.parametrize("answer", [bad_status_line, closes_mid_body, bad_chunk, bad_gzip])
def test_a_garbled_answer_is_a_failure_never_an_error(text_in, sms_outbox, settings, answer):
    settings.HTTP_STEP_ALLOW_PRIVATE = True
    with web_service(answer) as service:
        http_plan(url=f"{service.base_url}/score")
        text_in(PHONE, "points?")
        assert len(service.heard) == 1
    assert bodies(sms_outbox, PHONE) == [SORRY]
    assert the_enrollment(PHONE).status == "completed"


def test_the_step_form_sends_a_json_object_or_a_text_and_says_when_json_is_broken(admin_client):
    plan = http_plan()

    def post(body):
        return post_step(admin_client, plan, "call", body=body)

    broken = post('{"points": {{ contact.attributes.points }}}')
    assert "looks like JSON but is not" in str(broken.context["form"].errors["body"])
    assert post('{"points": "{{ contact.attributes.points }}", "n": 5}').status_code == 302
    call = newest(plan).document["steps"][0]
    assert call["body"] == {"points": "{{ contact.attributes.points }}", "n": 5}
    assert post("{{ contact.first_name }} said hi").status_code == 302
    call = newest(plan).document["steps"][0]
    assert call["body"] == "{{ contact.first_name }} said hi"
