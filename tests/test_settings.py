"""Start-up configuration: refused when unsafe, clean `check --deploy` when production-like,
and every variable documented in .env.example. Each case runs Django in a subprocess with a
clean environment (nothing inherited but PATH), exactly as an operator would start it."""

import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ROOT

# docs/reference.md §2, every variable.
CONTRACT_VARIABLES = [
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "SMS_BACKEND",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM_NUMBER",
    "TWILIO_MESSAGING_SERVICE_SID",
    "TWILIO_API_BASE_URL",
    "PUBLIC_BASE_URL",
    "TWILIO_VALIDATE_SIGNATURE",
    "SMS_HELP_TEXT",
    "SMS_OPT_OUT_CONFIRMATION",
    "SMS_QUIET_HOURS",
    "SECURE_SSL_REDIRECT",
]

SETUP = "import django; django.setup(); print('started')"


def _run(args: list[str], env: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    # Explicit values for everything a developer's .env could set (a real variable wins
    # over .env, even an empty one), so the result depends only on `env`.
    base = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "smsjourney.settings",
        "SECRET_KEY": "",
        "DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "",
        "TWILIO_VALIDATE_SIGNATURE": "1",
        "SMS_QUIET_HOURS": "21:00-08:00",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "1",
        "SECURE_HSTS_SECONDS": "31536000",
        "SECURE_HSTS_PRELOAD": "0",
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, *args],
        cwd=ROOT,
        env={k: v for k, v in {**base, **env}.items() if v is not None},  # None: unset
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_default_quiet_hours_are_the_strictest_state_limits(tmp_path):
    # docs/reference.md §2: 20:00-09:00 (8 pm cut-offs in FL, OK, MD, WA; 9 am starts in CT, TX).
    show = "import django; django.setup(); from django.conf import settings; print(settings.SMS_QUIET_HOURS)"
    result = _run(["-c", show], {"SECRET_KEY": "k" * 50, "SMS_QUIET_HOURS": None}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "20:00-09:00"


def test_no_secret_key_in_production_stops_start_up(tmp_path):
    result = _run(["-c", SETUP], {"SECRET_KEY": "", "DEBUG": "0"}, tmp_path)
    assert result.returncode != 0
    assert "started" not in result.stdout
    assert "SECRET_KEY is not set" in result.stderr


def test_no_secret_key_also_stops_manage_py(tmp_path):
    result = _run(["manage.py", "check"], {"SECRET_KEY": "", "DEBUG": "0"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_debug_runs_without_a_secret_key(tmp_path):
    result = _run(["-c", SETUP], {"SECRET_KEY": "", "DEBUG": "1"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize(("margin", "started"), [("0.1", True), ("0.6", False), ("-0.01", False)])
def test_a_pacing_margin_outside_0_to_half_stops_start_up(tmp_path, margin, started):
    env = {"SECRET_KEY": secrets.token_urlsafe(50), "SMS_PACING_MARGIN": margin}
    said = SETUP + "; from infra.pacing import pacing_margin; print(pacing_margin())"
    result = _run(["-c", said], env, tmp_path)
    if started:
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["started", "0.1"]
    else:
        assert result.returncode != 0
        assert f"SMS_PACING_MARGIN must be between 0 and 0.5, not {float(margin)}" in result.stderr


def test_unsigned_webhooks_are_refused_without_debug(tmp_path):
    env = {"SECRET_KEY": secrets.token_urlsafe(50), "DEBUG": "0", "TWILIO_VALIDATE_SIGNATURE": "0"}
    result = _run(["-c", SETUP], env, tmp_path)
    assert result.returncode != 0
    assert "TWILIO_VALIDATE_SIGNATURE=0 is only allowed with DEBUG=1" in result.stderr


def test_unsigned_webhooks_are_allowed_in_debug(tmp_path):
    result = _run(["-c", SETUP], {"DEBUG": "1", "TWILIO_VALIDATE_SIGNATURE": "0"}, tmp_path)
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_when_production_like(tmp_path):
    env = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "ALLOWED_HOSTS": "sms.example.com",
        "PUBLIC_BASE_URL": "https://sms.example.com",
    }
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_check_deploy_warns_about_a_short_key_and_debug_on(tmp_path):
    # The check is live: a short key and DEBUG on are reported (so the test above can fail).
    env = {"SECRET_KEY": "short", "DEBUG": "1", "ALLOWED_HOSTS": "sms.example.com"}
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)
    assert result.returncode != 0
    assert "security.W009" in result.stderr + result.stdout  # weak SECRET_KEY
    assert "security.W018" in result.stderr + result.stdout  # DEBUG on


def _documented() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


@pytest.mark.parametrize("name", CONTRACT_VARIABLES)
def test_env_example_documents_every_contract_variable(name):
    assert name in _documented()


def test_env_example_documents_every_variable_settings_read():
    settings_source = (ROOT / "smsjourney" / "settings.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', settings_source))
    assert read, 'no env.…("NAME") calls found: has settings.py changed how it reads the environment?'
    assert read - _documented() == set()


def test_env_example_as_is_with_a_secret_key_starts(tmp_path):
    # Its uncommented lines are valid values (the file is read like a .env).
    values = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    )
    values.update(
        {"SECRET_KEY": secrets.token_urlsafe(50), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    )
    result = _run(["-c", SETUP], values, tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("redis://127.0.0.1:6379/0", "infra.broker:Transport"),  # one client per channel
        ("rediss://cache.example.com:6380/0", "None"),  # none set: the URL's scheme chooses kombu's own
        ("amqp://guest@localhost//", "None"),
    ],
)
def test_a_plain_redis_broker_gets_our_redis_transport(tmp_path, url, transport):
    code = (
        "import django; django.setup(); from smsjourney.celery import app; print(app.conf.broker_transport)"
    )
    result = _run(["-c", code], {"DEBUG": "1", "CELERY_BROKER_URL": url}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == transport


def test_a_broker_that_is_down_costs_the_webhook_less_than_5_seconds(tmp_path):
    """docs/reference.md §3: the webhook answers within 5 s whatever the broker. Publishing is bounded
    by the settings: (retries + 1) tries of at most the connect timeout, plus the pauses."""
    show = (
        "import django, json; django.setup(); from django.conf import settings; "
        "print(json.dumps([settings.CELERY_TASK_PUBLISH_RETRY_POLICY, "
        "settings.CELERY_BROKER_TRANSPORT_OPTIONS['socket_connect_timeout']]))"
    )
    result = _run(
        ["-c", show], {"SECRET_KEY": "k" * 50, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}, tmp_path
    )
    assert result.returncode == 0, result.stderr
    import json

    policy, connect_timeout = json.loads(result.stdout)
    tries = policy["max_retries"] + 1
    pauses = sum(
        min(policy["interval_start"] + i * policy["interval_step"], policy["interval_max"])
        for i in range(tries - 1)
    )
    assert tries * connect_timeout + pauses < 5
