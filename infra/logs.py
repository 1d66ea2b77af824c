"""What every log line says besides its message (docs/reference.md §9): the contact, the
message and the enrollment it is about, where known.

The doors and services that handle one message set them for the time they work on it
(``log_context``: the webhooks, routing a message, sending one, an enrollment's run, an
event); a filter on the log handler adds them to every record made meanwhile, whichever
logger made it. ``LOG_FORMAT=json`` writes each record as one JSON object
(``json_formatter``: python-json-logger) with ``time``, ``level``, ``logger``, ``message``
and those ids.

Infrastructure: imports no app.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

IDS = ("contact_id", "message_id", "enrollment_id", "outbound_id")

# The ids of the innermost context; each context has a dict of its own (``log_context_add``
# changes only that one, so nothing leaks to the code around it or to the next request).
_ids: ContextVar[dict[str, int] | None] = ContextVar("smsjourney_log_ids", default=None)


@contextmanager
def log_context(**ids: int | None) -> Iterator[None]:
    """Within the block, log records carry `ids` (on top of the enclosing block's); None
    values are left out."""
    merged = {**(_ids.get() or {}), **{k: v for k, v in ids.items() if v is not None}}
    token = _ids.set(merged)
    try:
        yield
    finally:
        _ids.reset(token)


def log_context_add(**ids: int | None) -> None:
    """Add ids learned along the way (a row just inserted) to the innermost ``log_context``;
    nothing outside one."""
    current = _ids.get()
    if current is not None:
        current.update({k: v for k, v in ids.items() if v is not None})


class LogIds(logging.Filter):
    """Adds the context's ids to each record (a record's own, from ``extra``, win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_ids.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def json_formatter() -> logging.Formatter:
    """One JSON object a record: time (ISO 8601, UTC), level, logger, message, the ids where
    known, the process id, and the traceback of an exception (``exc_info``). Python's
    warnings go through logging too (logger ``py.warnings``), so that they are JSON lines as
    well rather than plain text on standard error."""
    from pythonjsonlogger.json import JsonFormatter

    logging.captureWarnings(True)
    return JsonFormatter(
        "{levelname}{name}{message}{process}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


def logging_config(*, level: str, json: bool, quiet_tasks: bool) -> dict:
    """The LOGGING setting (docs/reference.md §9): one console handler, plain or one JSON
    object a line, with the ids (``LogIds``). `quiet_tasks`: Celery's line per task run
    left out (tasks run in the web process, without a broker)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"ids": {"()": "infra.logs.LogIds"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json": {"()": "infra.logs.json_formatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if json else "plain",
                "filters": ["ids"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Twilio's SDK logs each request (URL, headers without the Authorization) at INFO:
            # only when asked for, at LOG_LEVEL=DEBUG.
            "twilio.http_client": {"level": "DEBUG" if level == "DEBUG" else "WARNING"},
            # django-axes logs every login at INFO; its warnings (lockouts) still show.
            "axes": {"level": "WARNING"},
            # The in-process scheduler (no broker) logs each run of each job: problems only.
            "apscheduler": {"level": "WARNING"},
            **({"celery.app.trace": {"level": "WARNING"}} if quiet_tasks else {}),
        },
    }
