"""Operating a real server (docs/reference.md §9): gunicorn with two worker processes in the
zero-setup mode (a SQLite file, no broker: each process answers webhooks and sends in the
background), Twilio a local fake server.

- ``/metrics``: the webhooks land on both processes, and every scrape — whichever process
  answers it — shows the totals of both; the server's own heartbeat and job runs show.
- ``LOG_FORMAT=json``: every line the server writes (gunicorn's own included) is one JSON
  object with time, level, logger and message; the lines about a contact's message carry
  its contact, message and enrollment ids; Twilio's SDK does not log its requests at INFO.

Nothing is timed: the waits poll what the server shows, bounded only so that a broken run
ends."""

import json
from urllib.request import Request, urlopen

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import inbound_payload
from tests.servers import django_run, log_tail, post_signed, wait_for, zero_setup_server

TOKEN = "operations-test-token-0123456789"


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    request = Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urlopen(request, timeout=10) as response:  # noqa: S310 - 127.0.0.1 only
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def json_lines(log) -> list[dict]:
    log.flush()
    log.seek(0)
    return [json.loads(line) for line in log.read().splitlines() if line.strip()]


@pytest.mark.timeout(300)
def test_every_process_sees_the_same_totals_and_logs_json_with_ids(tmp_path, fake_twilio):
    env = {"METRICS_TOKEN": TOKEN, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}
    setup = lambda manage: manage("load_demo_plan")  # noqa: E731
    with zero_setup_server(tmp_path, fake_twilio, workers=2, env=env, setup=setup) as (port, _proc, log):
        sends = lambda: [r for r in fake_twilio.received if r["status"] == 201]  # noqa: E731

        def sent_by() -> set[int]:  # the processes whose log says they handed a text to Twilio
            return {
                line["process"] for line in json_lines(log) if "handed to the provider" in line["message"]
            }

        # Messages from new contacts until both processes have taken some (the kernel spreads
        # the connections; each process routes and answers what it took).
        posted = 0
        while len(sent_by()) < 2 and posted < 40:
            posted += 1
            assert post_signed(port, inbound_payload(f"+1212555{posted:04d}", "hi")) == 200
            assert wait_for(lambda n=posted: len(sends()) >= n, timeout=30), log_tail(log)
        assert len(sent_by()) == 2, log_tail(log)

        inbound = ("smsjourney_inbound_messages_total", (("channel", "sms"),))
        sent = ("smsjourney_outbound_messages_total", (("status", "sent"),))
        replies = ("smsjourney_reply_seconds_count", ())
        # A process adds its counts to the shared store within a moment (infra/metrics.py:
        # 50 ms) of its last send; from then on every scrape shows them all.
        assert wait_for(lambda: scrape(port)[sent] == posted, timeout=10), log_tail(log)
        scrapes = [scrape(port) for _ in range(12)]
        for figures in scrapes:  # whichever process answered
            assert (figures[inbound], figures[sent], figures[replies]) == (posted, posted, posted)

        # Each process runs the jobs itself (the first five seconds after it starts) and says
        # it is alive.
        def jobs_and_heartbeats() -> bool:
            figures = scrape(port)
            job = ("smsjourney_job_last_success_timestamp_seconds", (("job", "process-timeouts"),))
            return figures[job] > 0 and figures[("smsjourney_workers_seen", (("kind", "in_process"),))] >= 1

        assert wait_for(jobs_and_heartbeats, timeout=60), log_tail(log)

        lines = json_lines(log)  # every line parses: gunicorn's, Django's, the product's
        assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)
        assert any(line["logger"].startswith("gunicorn") for line in lines)
        with_ids = [line for line in lines if {"contact_id", "message_id", "enrollment_id"} <= set(line)]
        assert any("handed to the provider" in line["message"] for line in with_ids), lines[-20:]
        assert not [line for line in lines if line["logger"].startswith("twilio")]


def test_twilio_request_logging_only_at_debug(tmp_path):
    probe = (
        "import django, logging; django.setup(); "
        "print(logging.getLogger('twilio.http_client').getEffectiveLevel())"
    )
    for level, expected in (("INFO", "30"), ("WARNING", "30"), ("DEBUG", "10")):
        ran = django_run("-c", probe, tmp_path=tmp_path, LOG_LEVEL=level)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() == expected, level


def test_a_log_format_that_is_not_known_stops_the_start(tmp_path):
    ran = django_run("manage.py", "check", tmp_path=tmp_path, LOG_FORMAT="xml")
    assert ran.returncode != 0
    assert "LOG_FORMAT must be text or json" in ran.stderr
