"""The processes a bench starts, each in its own process group and stopped whatever
happens: gunicorn serving the product, a Celery worker and beat, a private redis-server,
and a fake Twilio REST API in a process of its own."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.common import PYTHON, ROOT, build_request, http_request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_pids(pid: int) -> list[int]:
    """A process and its direct children (Linux /proc)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(int(c) for c in children)]


class ChildProcessGroup:
    """A command in its own process group, its output in a temporary log file; stopped
    (TERM, then KILL) on exit whatever happens. Subclasses give `argv` (and may wait in
    `ready` until it serves)."""

    name = "process"

    def __init__(self, *, env: dict[str, str]):
        self.env = env
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{self.name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc: subprocess.Popen | None = None

    @property
    def argv(self) -> list[str]:
        raise NotImplementedError

    def __enter__(self):
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def ready(self) -> None:
        """Return when the process serves (default: at once)."""

    def check(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log.name}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def discard_log(self) -> None:
        """Remove the log file (a run that went well; a failed one keeps it to be read)."""
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)

    def pids(self) -> list[int]:
        """The main process and its children (gunicorn's workers, a worker's pool)."""
        assert self.proc is not None
        return child_pids(self.proc.pid)


class Gunicorn(ChildProcessGroup):
    """gunicorn serving the product (plus bench/reference.py)."""

    name = "gunicorn"

    def __init__(
        self,
        *,
        env: dict[str, str],
        workers: int,
        worker_class: str = "sync",
        threads: int = 1,
        ready_path: str = "/healthz",
    ):
        super().__init__(env=env)
        self.ready_path = ready_path
        self.workers = workers
        self.worker_class = worker_class
        self.threads = threads
        self.port = free_port()

    @property
    def argv(self) -> list[str]:
        argv = [
            PYTHON, "-m", "gunicorn", "smsjourney.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers),
            "--worker-class", self.worker_class,
            "--backlog", "2048",
            "--log-level", "warning",
        ]  # fmt: skip
        if self.threads > 1:
            argv += ["--threads", str(self.threads)]
        return argv

    def ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.check()
            try:
                status, _ = http_request(self.port, build_request("GET", self.ready_path, port=self.port))
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer {self.ready_path} within 30 s; see {self.log.name}")


class CeleryWorker(ChildProcessGroup):
    """``celery -A smsjourney worker`` (consuming `queue`, else the default queue)."""

    name = "celery-worker"

    def __init__(self, *, env: dict[str, str], pool: str = "threads", concurrency: int = 8, queue: str = ""):
        super().__init__(env=env)
        self.pool, self.concurrency, self.queue = pool, concurrency, queue

    @property
    def argv(self) -> list[str]:
        argv = [
            PYTHON, "-m", "celery", "-A", "smsjourney", "worker",
            "--pool", self.pool, "--concurrency", str(self.concurrency),
            "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "WARNING",
        ]  # fmt: skip
        return argv + (["-Q", self.queue] if self.queue else [])


class CeleryBeat(ChildProcessGroup):
    """``celery -A smsjourney beat``, its schedule file in a temporary directory."""

    name = "celery-beat"

    def __init__(self, *, env: dict[str, str]):
        super().__init__(env=env)
        self.schedule = os.path.join(tempfile.mkdtemp(prefix="bench-beat-"), "schedule")

    @property
    def argv(self) -> list[str]:
        return [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "smsjourney",
            "beat",
            "--schedule",
            self.schedule,
            "-l",
            "WARNING",
        ]

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(os.path.dirname(self.schedule), ignore_errors=True)


REDIS_SERVER = "redis-server"


class RedisServer(ChildProcessGroup):
    """A redis-server of the bench's own on a free port of 127.0.0.1 (no persistence), never
    the machine's shared one: the broker and the limiter of one run, gone with it."""

    name = "redis-server"

    def __init__(self):
        super().__init__(env=dict(os.environ))
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def argv(self) -> list[str]:
        return [
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--daemonize", "no",
        ]  # fmt: skip

    def ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.check()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"redis-server did not answer within 10 s; see {self.log.name}")


def _fake_twilio_serve(latency: tuple[float, float], port_out, records) -> None:
    """In the child: a fake Twilio (messaging.tests.fake_twilio) whose every request record
    goes to `records` (a queue) as it is made; its port goes to `port_out`."""
    from messaging.tests.fake_twilio import FakeTwilio

    class Forward(list):
        def append(self, record) -> None:
            records.put(record)

    with contextlib.suppress(PermissionError):
        os.nice(-10)  # the instrument: it stamps arrivals as they come, ahead of the product
    fake = FakeTwilio()
    fake.latency = latency
    fake.received = Forward()
    port_out.put(fake.server_address[1])
    fake.serve_forever()


class FakeTwilioProcess:
    """A fake Twilio REST API in a process of its own (stopped with the bench), so that the
    arrival times it stamps (``perf_counter``: CLOCK_MONOTONIC, the same clock in every
    process) are not held up by the bench's own threads. ``received`` and ``lock`` as on
    ``FakeTwilio``: the records, copied in by a thread of this process."""

    def __init__(self, *, latency: tuple[float, float]):
        import multiprocessing

        self._context = multiprocessing.get_context("spawn")
        self.latency = latency
        self.received: list[dict] = []
        self.lock = threading.Lock()
        self.base_url = ""

    def __enter__(self):
        port_out, self._records = self._context.Queue(), self._context.Queue()
        self._proc = self._context.Process(
            target=_fake_twilio_serve, args=(self.latency, port_out, self._records), daemon=True
        )
        self._proc.start()
        self.base_url = f"http://127.0.0.1:{port_out.get(timeout=30)}"
        self._copier = threading.Thread(target=self._copy, name="fake-twilio-records", daemon=True)
        self._copier.start()
        return self

    def _copy(self) -> None:
        while True:
            record = self._records.get()
            if record is None:
                return
            with self.lock:
                self.received.append(record)

    def __exit__(self, *exc) -> None:
        self._proc.terminate()
        self._proc.join(10)
        self._records.put(None)
        self._copier.join(10)
