"""A real Celery worker process for integration tests: it consumes a queue of its own
(so no other worker on the broker takes the test's tasks) and uses the test database."""

import contextlib
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from urllib.parse import quote

from django.db import close_old_connections, connection

from smsjourney.celery import app
from tests.servers import ROOT, log_tail

# Real workers on a test machine that runs other tests beside them: their hand-overs run
# later and more unevenly than the product's 3 % margin allows for (bench/campaign.py
# measures the default under a campaign); these tests check the mechanism with 10 %.
WORKER_PACING_MARGIN = 0.1


def database_url() -> str:
    """The test database (pytest-django's `test_<name>`), as a URL for the worker."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@contextlib.contextmanager
def celery_worker(
    settings, *, queue: str | None = None, threads: int = 0, beat: bool = False, **env: str
) -> Iterator[tuple[subprocess.Popen, object]]:
    """Run `celery -A smsjourney worker` (solo pool; a threads pool of `threads` when given;
    with its beat when `beat`) with `env` on top of ours, consuming `queue` (a new private
    one by default: several workers share one when given the same), and make this process
    publish to it (not eagerly). Yields the process and its log file."""
    queue = queue or f"test-{uuid.uuid4().hex[:8]}"
    pool = ["--pool=threads", f"--concurrency={threads}"] if threads else ["--pool=solo"]
    if beat:
        pool += ["--beat", "--schedule", os.path.join(tempfile.mkdtemp(), "beat-schedule")]
    worker_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": "worker-test",
        "DEBUG": "0",
        "SMS_QUIET_HOURS": "",
        "DJANGO_SETTINGS_MODULE": "tests.worker_settings",
        "SMSJOURNEY_TEST_QUEUE": queue,
        "SMS_PACING_MARGIN": str(WORKER_PACING_MARGIN),
        **env,
    }
    settings.SMS_PACING_MARGIN = WORKER_PACING_MARGIN  # this process paces alike
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(  # noqa: S603 (our own fixed command line)
        [
            *(sys.executable, "-m", "celery", "-A", "smsjourney", "worker", *pool, "-Q", queue),
            *("--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO"),
        ],
        cwd=ROOT,
        env=worker_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    settings.CELERY_TASK_ALWAYS_EAGER = False
    saved = (app.conf.task_always_eager, app.conf.task_default_queue, app.conf.task_routes)
    app.conf.task_always_eager, app.conf.task_default_queue = False, queue
    _routes_set(app, {})  # the routed tasks (http steps, bulk batches) to the private queue too
    try:
        yield proc, log
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = saved[:2]
        _routes_set(app, saved[2])
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # Let the worker's connections go before pytest-django drops the test database.
        close_old_connections()
        connection.close()
        log.close()
        os.unlink(log.name)


def worker_log(proc: subprocess.Popen, log) -> str:
    """The worker's exit status (None: still running) and the tail of its log."""
    return f"(worker exit {proc.poll()})\n{log_tail(log, tail=4000)}"


def _routes_set(app, routes) -> None:
    """Publish with `routes` from now on (Celery builds its router once, from the settings)."""
    app.conf.task_routes = routes
    app.amqp.flush_routes()
    app.amqp.__dict__.pop("router", None)
