"""Where the configuration comes from: the process's environment, then an env file for
what the environment leaves unset — ``ENV_FILE`` if set (e.g. ``/etc/smsjourney.env``),
else ``.env`` beside ``manage.py``. The settings and ``gunicorn.conf.py`` both read it
through here, so ``PORT`` or ``WEB_CONCURRENCY`` in the file count exactly as in the
environment. Infrastructure: imports no app."""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent


def env_file_path() -> Path:
    return Path(os.environ.get("ENV_FILE") or BASE_DIR / ".env")


def env_read() -> environ.Env:
    """The environment, with the env file's values for the variables it does not set."""
    path = env_file_path()
    if path.is_file():
        environ.Env.read_env(path, overwrite=False)
    return environ.Env()
