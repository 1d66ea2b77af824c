"""A slow web service never holds other contacts' replies (issue 18, point 5): a real
zero-setup server (gunicorn, one worker process, no broker) whose plan calls a web service
that drips its answer; while four such calls are in flight — as many as the threads that
route and send — an unrelated contact's message is answered.

The service is a real server on 127.0.0.1 that holds every call open (a byte every 0.3 s)
until the test lets it finish; Twilio is the local fake. Nothing is timed: the reply must
come while all four calls are still open."""

import json
import threading

import pytest

from automation.tests.web_service import drip, web_service
from conftest import inbound_payload
from tests.servers import log_tail, post_signed, wait_for, zero_setup_server

SLOW_CALLS = 4  # infra.background.WORKER_THREADS: enough to hold every shared thread
TOLD, SORRY = "You have {{ contact.attributes.points }} points.", "We could not look that up."


def held_open(release: threading.Event):
    def answer(handler, heard):
        body = b'{"points": 3}'.ljust(2000)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        drip(handler.wfile, body, every=0.3, until=release, then_rest=True)

    return answer


def plans(tmp_path, service_url: str) -> list[str]:
    documents = [
        {
            "slug": "slow",
            "entry": {"trigger": "keyword", "keywords": ["POINTS"]},
            "start": "call",
            "steps": [
                {"id": "call", "type": "http", "method": "GET", "url": f"{service_url}/points",
                 "save": {"attributes.points": "points"}, "next": "told", "on_failure": "sorry"},
                {"id": "told", "type": "send", "text": TOLD, "next": None},
                {"id": "sorry", "type": "send", "text": SORRY, "next": None},
            ],
        },
        {
            "slug": "hello",
            "entry": {"trigger": "keyword", "keywords": ["HELLO"]},
            "start": "hi",
            "steps": [{"id": "hi", "type": "send", "text": "Hello from the shop!", "next": None}],
        },
    ]  # fmt: skip
    paths = []
    for document in documents:
        path = tmp_path / f"{document['slug']}.json"
        path.write_text(json.dumps(document))
        paths.append(str(path))
    return paths


@pytest.mark.timeout(120)
def test_slow_web_services_never_hold_another_contacts_reply(tmp_path, fake_twilio):
    release = threading.Event()
    with web_service(held_open(release)) as service:

        def setup(manage):
            for path in plans(tmp_path, service.base_url):
                manage("plan_import", path)

        env = {"HTTP_STEP_ALLOW_PRIVATE": "1"}
        with zero_setup_server(tmp_path, fake_twilio, workers=1, env=env, setup=setup) as (port, _, log):
            try:
                for n in range(SLOW_CALLS):
                    assert post_signed(port, inbound_payload(f"+1212555020{n}", "points")) == 200
                all_in_flight = wait_for(lambda: len(service.heard) == SLOW_CALLS, timeout=20)
                assert all_in_flight, log_tail(log)

                assert post_signed(port, inbound_payload("+12125550299", "hello")) == 200

                def answered() -> bool:
                    return "Hello from the shop!" in fake_twilio.bodies()

                # Bounded, not timed: the calls stay open far longer than this wait (until the
                # deadline of 10 s cuts them); the reply has to come while they are.
                assert wait_for(answered, timeout=8), log_tail(log)
                assert service.finished == [], "a slow call ended before the reply went"
            finally:
                release.set()

            def told() -> bool:
                said = fake_twilio.bodies()
                return said.count("You have 3 points.") + said.count(SORRY) == SLOW_CALLS

            assert wait_for(told, timeout=20), log_tail(log)
