"""The documented production path, run as an operator runs it (README "Running in
production"): the settings in an env file, the Procfile's `release`, the first admin and a
plan, then the Procfile's `web` (and, with a broker, its `worker`) exactly as written.
The first signed "hi" over plain HTTP (SECURE_SSL_REDIRECT=0) is answered through a fake
Twilio on 127.0.0.1; PORT and WEB_CONCURRENCY come from the env file, not the shell."""

import os
import signal
import subprocess
from pathlib import Path
from urllib.request import urlopen

import pytest

from conftest import INVITE, inbound_payload
from tests.servers import ROOT, fake_twilio_env, free_port, healthy, log_tail, post_signed, wait_for

PROCFILE = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())


def _env_file(tmp_path: Path, fake_twilio, port: int, **extra: str) -> Path:
    values = {
        "SECRET_KEY": "procfile-test-" + "k" * 40,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on this machine, as the README says
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **fake_twilio_env(fake_twilio),
        "SMS_QUIET_HOURS": "",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        **extra,
    }
    path = tmp_path / "smsjourney.env"
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    return path


def _shell(command: str, env: dict, **kwargs):
    return subprocess.run(  # noqa: S603 - the Procfile's own commands
        ["/bin/bash", "-c", command], cwd=ROOT, env=env, text=True, capture_output=True, timeout=180, **kwargs
    )


def _start(command: str, env: dict, log):
    return subprocess.Popen(  # noqa: S603 - the Procfile's own commands
        ["/bin/bash", "-c", f"exec {command}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(proc) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _deploy(env: dict) -> None:
    """The release phase, then the README's first admin and first plan."""
    release = _shell(PROCFILE["release"], env)
    assert release.returncode == 0, release.stderr
    admin = _shell(
        "bin/py manage.py createsuperuser --noinput --username admin --email admin@example.com",
        env | {"DJANGO_SUPERUSER_PASSWORD": "a-long-admin-password-1"},
    )
    assert admin.returncode == 0, admin.stderr
    plan = _shell("bin/py manage.py load_demo_plan", env)
    assert plan.returncode == 0, plan.stderr


def _process_env(env_file: Path) -> dict:
    # Nothing but the env file says how to run: not even this test's Python (bin/py finds it).
    return {"PATH": "/usr/bin:/bin", "ENV_FILE": str(env_file)}


def _answered(fake_twilio) -> bool:
    return INVITE in fake_twilio.bodies()


@pytest.mark.timeout(150)
def test_the_procfile_serves_a_first_hi_from_an_env_file(tmp_path, fake_twilio):
    port = free_port()
    env = _process_env(_env_file(tmp_path, fake_twilio, port))
    _deploy(env)
    log = (tmp_path / "web.log").open("w+")
    web = _start(PROCFILE["web"], env, log)
    try:
        assert wait_for(lambda: healthy(port), timeout=40), log_tail(log)
        with urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=5) as page:  # no HTTPS redirect
            assert page.status == 200 and b"Log in" in page.read()
        assert post_signed(port, inbound_payload("+12125550123", "hi")) == 200
        assert wait_for(lambda: _answered(fake_twilio), timeout=20), log_tail(log)
    finally:
        _stop(web)
        log.close()
    output = (tmp_path / "web.log").read_text()
    assert output.count("Booting worker") == 1  # WEB_CONCURRENCY=1, from the env file
    assert f"Listening at: http://0.0.0.0:{port}" in output  # PORT, from the env file


@pytest.mark.celery_broker
@pytest.mark.timeout(150)
def test_the_procfile_web_and_worker_answer_through_the_broker(tmp_path, fake_twilio):
    # The broker this run was given (no other database: it may be another run's). No other
    # test's worker takes these tasks: each consumes a queue of its own (tests/celery_worker.py).
    broker = os.environ["CELERY_BROKER_URL"]
    port = free_port()
    env = _process_env(
        _env_file(tmp_path, fake_twilio, port, CELERY_BROKER_URL=broker, CELERY_CONCURRENCY="2")
    )
    _deploy(env)
    _shell("bin/py -m celery -A smsjourney purge -f", env)
    web_log, worker_log = (tmp_path / "web.log").open("w+"), (tmp_path / "worker.log").open("w+")
    web = _start(PROCFILE["web"], env, web_log)
    worker = _start(PROCFILE["worker"], env, worker_log)
    try:
        assert wait_for(lambda: healthy(port), timeout=40), log_tail(web_log)
        assert wait_for(lambda: "ready." in log_tail(worker_log), timeout=40), log_tail(worker_log)
        assert "concurrency: 2 (thread)" in log_tail(worker_log, tail=10**6)  # from the env file
        assert post_signed(port, inbound_payload("+12125550124", "hi")) == 200
        assert wait_for(lambda: _answered(fake_twilio), timeout=30), log_tail(worker_log)
    finally:
        _stop(web)
        _stop(worker)
        web_log.close()
        worker_log.close()


def test_without_an_active_plan_the_log_says_why_nobody_answers(text_in, sms_outbox, caplog, db):
    text_in("+12125550125", "hi")
    assert sms_outbox == []
    said = [r for r in caplog.records if "no plan took the message" in r.getMessage()]
    assert [(r.levelname, "there is no active plan" in r.getMessage()) for r in said] == [("WARNING", True)]
