"""gunicorn's settings file, read from the directory it starts in (the Procfile's `web` is
just `gunicorn smsjourney.wsgi`). PORT and WEB_CONCURRENCY come from the environment or
the env file (``infra.environment``), read here, before gunicorn binds or forks: a
value in ``.env`` counts as one in the environment. Command-line options still win."""

from infra.environment import env_read

_env = env_read()

bind = f"0.0.0.0:{_env.int('PORT', default=8000)}"
workers = _env.int("WEB_CONCURRENCY", default=3)
timeout = 30
graceful_timeout = 20
max_requests = 2000
max_requests_jitter = 200
accesslog = "-"
errorlog = "-"
if _env.str("LOG_FORMAT", default="text").lower() == "json":
    # docs/reference.md §9: every log line one JSON object, gunicorn's own too (its errors on
    # standard error, its access log on standard output), as the product's (infra/logs.py).
    _json = {"class": "logging.StreamHandler", "formatter": "json"}
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "infra.logs.json_formatter"}},
        "handlers": {
            "console": {**_json, "stream": "ext://sys.stdout"},
            "error_console": {**_json, "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }


def worker_exit(server, worker):
    """Stop this worker's in-process scheduler (no broker: infra.background) while the
    interpreter still runs. Left to atexit, its thread could try to start a job after
    Python's own shutdown had begun, and log a traceback for a job that simply is not run."""
    from infra.background import stop

    stop()
